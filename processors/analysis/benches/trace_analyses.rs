//! Benchmark of the per-trace analysis budget: one realistic 10,000-event trace through tree,
//! critical path, service dependencies and anomaly scoring (duration baselines judged and
//! updated, features, isolation forest and k-means) must take under 10 ms. Also measures each part alone, and
//! happens-before plus the graph export for reference.
//!
//! Run: `cargo bench -p raceway-analysis --bench trace_analyses`. Runs on mimalloc, the
//! `raceway` binary's allocator (`benches/common`).
//!
//! The trace: a gateway calls an orders service (HTTP, propagated spans), which fans out to
//! eight tasks doing calls, state accesses, locks and database queries, joins them, calls a
//! payments service and publishes a Kafka message that a notifier consumes. Parent links chain
//! each actor's events as our SDK does; calls carry measured durations, other steps none.

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use raceway_analysis::anomalies::{
    trace_sequences, BaselineConfig, DurationBaselines, ModelConfig, SequenceCounts, TraceFeatures,
    TraceModels,
};
use raceway_analysis::trace::{
    analyze_trace, causal_graph, critical_path, service_calls, trace_tree,
};
use raceway_analysis::trace_causality;
use raceway_schemas::{
    AccessType, AsyncAwait, AsyncSpawn, DatabaseQuery, DatabaseResult, Event, EventKind,
    FunctionCall, HttpRequest, HttpResponse, MessageEvent, Metadata, StateChange,
};
use uuid::Uuid;

const US: i64 = 1_000;

/// Builds events of one trace, numbering them and chaining each actor's events by parent link.
struct TraceBuilder {
    trace: Uuid,
    next_id: u128,
    now_ns: i64,
    events: Vec<Event>,
    /// Seed of a tiny deterministic generator for jitter.
    state: u64,
}

impl TraceBuilder {
    fn new(trace: u128, seed: u64) -> Self {
        TraceBuilder {
            trace: Uuid::from_u128(trace),
            next_id: trace << 32,
            now_ns: 1_700_000_000_000_000_000,
            events: Vec::new(),
            state: seed,
        }
    }

    fn jitter(&mut self, max: i64) -> i64 {
        self.state = self
            .state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        ((self.state >> 33) % max.max(1) as u64) as i64
    }

    /// Records one step of `thread` in `service` after `parent`, returning its id.
    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        service: &str,
        thread: &str,
        parent: Option<Uuid>,
        spans: (Option<&str>, Option<&str>),
        kind: EventKind,
        duration_us: Option<i64>,
    ) -> Uuid {
        self.now_ns += 20 * US + self.jitter(30) * US;
        self.next_id += 1;
        let id = Uuid::from_u128(self.next_id);
        self.events.push(Event {
            id,
            trace_id: self.trace,
            parent_id: parent,
            timestamp_ns: self.now_ns,
            kind,
            metadata: Metadata {
                thread_id: thread.into(),
                process_id: 1,
                service_name: service.into(),
                environment: "bench".into(),
                duration_ns: duration_us.map(|d| (d * US) as u64),
                instance_id: Some(format!("{service}-1")),
                distributed_span_id: spans.0.map(Into::into),
                upstream_span_id: spans.1.map(Into::into),
                ..Metadata::default()
            },
            causality_vector: Vec::new(),
            lock_set: Vec::new(),
        });
        id
    }
}

fn call(name: &str) -> EventKind {
    EventKind::FunctionCall(FunctionCall {
        function_name: name.into(),
        module: "shop".into(),
        args: "{}".into(),
        file: "shop.rs".into(),
        line: 10,
    })
}

fn access(variable: &str, access_type: AccessType) -> EventKind {
    EventKind::StateChange(StateChange {
        variable: variable.into(),
        old_value: Some("1".into()),
        new_value: "2".into(),
        location: format!("{variable}.rs:7"),
        access_type,
    })
}

fn lock(acquire: bool) -> EventKind {
    common::mutex("inventory".into(), "stock.rs:3", acquire)
}

/// A checkout trace of about `size` events (10,000 for the benchmark).
fn checkout_trace(trace: u128, size: usize, seed: u64) -> Vec<Event> {
    let mut b = TraceBuilder::new(trace, seed);
    let gw = (Some("gw"), None);
    let orders = (Some("orders"), Some("gw"));
    let request = |url: &str| {
        EventKind::HttpRequest(HttpRequest {
            method: "POST".into(),
            url: url.into(),
            ..HttpRequest::default()
        })
    };
    let mut last = b.step("gateway", "main", None, gw, request("/checkout"), None);
    last = b.step("gateway", "main", Some(last), gw, call("route"), Some(80));
    let gateway_last = last;
    let mut o = b.step("orders", "main", None, orders, call("place_order"), None);
    // Eight tasks share the work; each round is one call, accesses, a locked update and a query.
    let tasks = 8;
    let rounds = size.saturating_sub(120) / (tasks * 8);
    let mut task_last = Vec::new();
    for t in 0..tasks {
        let name = format!("task-{t}");
        o = b.step(
            "orders",
            "main",
            Some(o),
            orders,
            EventKind::AsyncSpawn(AsyncSpawn {
                task_id: name.clone(),
                spawned_by: "main".into(),
                task_name: Some("line".into()),
                spawned_at: Some("orders.rs:40".into()),
            }),
            None,
        );
        task_last.push((name, o));
    }
    for _ in 0..rounds {
        for (name, previous) in task_last.iter_mut() {
            let d = 40 + b.jitter(20);
            let mut p = b.step(
                "orders",
                name,
                Some(*previous),
                orders,
                call("price_line"),
                Some(d),
            );
            let critical_section = [
                access("cart.total", AccessType::Read),
                lock(true),
                access("stock.count", AccessType::Read),
                access("stock.count", AccessType::Write),
                lock(false),
            ];
            for kind in critical_section {
                p = b.step("orders", name, Some(p), orders, kind, None);
            }
            let query = EventKind::DatabaseQuery(DatabaseQuery {
                query: "UPDATE stock".into(),
                database: "orders-db".into(),
                duration_ms: 1,
            });
            let query_us = 300 + b.jitter(100);
            p = b.step("orders", name, Some(p), orders, query, Some(query_us));
            let result = EventKind::DatabaseResult(DatabaseResult { rows_affected: 1 });
            *previous = b.step("orders", name, Some(p), orders, result, None);
        }
    }
    for (name, _) in &task_last {
        let wait = EventKind::AsyncAwait(AsyncAwait {
            future_id: name.clone(),
            awaited_at: "orders.rs:60".into(),
        });
        o = b.step("orders", "main", Some(o), orders, wait, None);
    }
    o = b.step(
        "orders",
        "main",
        Some(o),
        orders,
        request("http://payments/charge"),
        None,
    );
    let payments = (Some("pay"), Some("orders"));
    let mut p = b.step(
        "payments",
        "main",
        None,
        payments,
        call("charge"),
        Some(2_000),
    );
    for _ in 0..40 {
        p = b.step(
            "payments",
            "main",
            Some(p),
            payments,
            access("ledger", AccessType::Write),
            None,
        );
    }
    let answer = EventKind::HttpResponse(HttpResponse {
        status: 200,
        duration_ms: 3,
        ..HttpResponse::default()
    });
    o = b.step("orders", "main", Some(o), orders, answer, None);
    let message = MessageEvent {
        topic: "orders.placed".into(),
        partition: Some(0),
        offset: Some(trace as i64),
        key: Some("order-1".into()),
        location: "orders.rs:90".into(),
    };
    b.step(
        "orders",
        "main",
        Some(o),
        orders,
        EventKind::MessageSend(message.clone()),
        None,
    );
    let mut n = b.step(
        "notifier",
        "consumer",
        None,
        (None, None),
        EventKind::MessageReceive(message),
        None,
    );
    while b.events.len() < size.saturating_sub(1) {
        n = b.step(
            "notifier",
            "consumer",
            Some(n),
            (None, None),
            call("render_email"),
            Some(50),
        );
    }
    let done = EventKind::HttpResponse(HttpResponse {
        status: 200,
        ..HttpResponse::default()
    });
    b.step("gateway", "main", Some(gateway_last), gw, done, None);
    b.events
}

/// Baselines after 30 checkouts and models trained on 60, as a warm trace stage has them.
fn warm_state() -> (DurationBaselines, TraceModels) {
    let mut baselines = DurationBaselines::new(BaselineConfig::default());
    let mut features = Vec::new();
    let mut sequences: Vec<SequenceCounts> = Vec::new();
    for i in 0..60u128 {
        let events = checkout_trace(1_000 + i, 400 + (i as usize % 7) * 50, i as u64);
        let report = analyze_trace(&events);
        if i < 30 {
            baselines.update(&report.tree);
        }
        features.push(TraceFeatures::from_trace(
            &report.tree,
            &report.critical_path,
        ));
        sequences.extend(trace_sequences(&report.tree).iter().map(|s| s.counts()));
    }
    let config = ModelConfig {
        min_traces: 50,
        ..ModelConfig::default()
    };
    let models = TraceModels::train(&features, &sequences, &config, 1, 0).expect("models train");
    (baselines, models)
}

fn bench(c: &mut Criterion) {
    let events = checkout_trace(1, 10_000, 99);
    assert_eq!(events.len(), 10_000);
    let (mut baselines, models) = warm_state();
    let mut next_trace = 1u128 << 100;

    c.bench_function(
        "budget: tree + critical path + dependencies + anomaly scoring",
        |b| {
            b.iter(|| {
                let mut report = analyze_trace(black_box(&events));
                // A new trace id each time, so every iteration is judged and learned like a new trace.
                next_trace += 1;
                report.tree.trace_id = Uuid::from_u128(next_trace);
                let anomalies = baselines.judge_and_update(&report.tree);
                let features = TraceFeatures::from_trace(&report.tree, &report.critical_path);
                let score = models.score(&features).expect("score");
                let sequences = trace_sequences(&report.tree);
                let unusual = models.unusual_sequences(report.tree.trace_id, &sequences);
                black_box((report, anomalies, score, unusual))
            })
        },
    );

    let tree = trace_tree(&events);
    c.bench_function("tree", |b| b.iter(|| trace_tree(black_box(&events))));
    c.bench_function("critical path", |b| {
        b.iter(|| critical_path(black_box(&tree)))
    });
    c.bench_function("dependencies", |b| {
        b.iter(|| service_calls(black_box(&events), &tree))
    });
    c.bench_function("baselines judge", |b| {
        b.iter(|| baselines.judge(black_box(&tree)))
    });
    let path = critical_path(&tree);
    let features = TraceFeatures::from_trace(&tree, &path);
    c.bench_function("features + models score", |b| {
        b.iter(|| {
            let features = TraceFeatures::from_trace(black_box(&tree), &path);
            models.score(&features).expect("score")
        })
    });
    c.bench_function("sequences + judge", |b| {
        b.iter(|| {
            let sequences = trace_sequences(black_box(&tree));
            models.unusual_sequences(tree.trace_id, &sequences)
        })
    });
    c.bench_function("models score only", |b| {
        b.iter(|| models.score(black_box(&features)))
    });

    c.bench_function("reference: trace_causality", |b| {
        b.iter(|| trace_causality(black_box(&events)))
    });
    let causality = trace_causality(&events);
    c.bench_function("reference: causal graph export", |b| {
        b.iter(|| causal_graph(black_box(&events), &causality).expect("graph"))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);

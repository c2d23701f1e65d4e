//! Time travel's budget: the state after the last step of a 10,000-event trace, rebuilt from its
//! events as `GET /api/traces/{id}/state` does (happens-before, then the replay), must take
//! under 50 ms. Also measures the replay alone, at the middle and at the last step.
//!
//! Run: `cargo bench -p raceway-analysis --bench time_travel`.
//!
//! The trace: 16 worker threads of 4 services, each taking one of 8 mutexes around a
//! read-modify-write of one of 200 variables, with a call between, all untrusted (derived
//! clocks, the costlier path).

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use raceway_analysis::time_travel::state_after;
use raceway_analysis::trace_causality;
use raceway_schemas::{AccessType, Event, EventKind, FunctionCall, Metadata, StateChange};
use uuid::Uuid;

const EVENTS: usize = 10_000;

fn trace() -> Vec<Event> {
    let trace_id = Uuid::from_u128(0x7700);
    let lock =
        |n: usize, acquire: bool| common::mutex(format!("mutex-{}", n % 8), "bank.rs:20", acquire);
    let access = |n: usize, access_type: AccessType| StateChange {
        variable: format!("account:{}.balance", n % 200),
        old_value: Some(n.to_string()),
        new_value: (n + 1).to_string(),
        location: "bank.rs:21".into(),
        access_type,
    };
    (0..EVENTS)
        .map(|i| {
            let thread = i % 16;
            let round = i / 16;
            let kind = match round % 5 {
                0 => lock(round, true),
                1 => EventKind::StateChange(access(round, AccessType::Read)),
                2 => EventKind::StateChange(access(round, AccessType::Write)),
                3 => lock(round, false),
                _ => EventKind::FunctionCall(FunctionCall {
                    function_name: "audit".into(),
                    ..FunctionCall::default()
                }),
            };
            Event {
                id: Uuid::from_u128(0x7700_0000 + i as u128),
                trace_id,
                parent_id: None,
                timestamp_ns: 1_700_000_000_000_000_000 + i as i64 * 1_000,
                kind,
                metadata: Metadata {
                    thread_id: format!("worker-{thread}"),
                    service_name: format!("svc-{}", thread % 4),
                    environment: "bench".into(),
                    ..Metadata::default()
                },
                causality_vector: Vec::new(),
                lock_set: Vec::new(),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let events = trace();
    let causality = trace_causality(&events);
    let mut group = c.benchmark_group("time_travel_10k");
    group.bench_function("state_at_last_step_from_events", |b| {
        b.iter(|| {
            let causality = trace_causality(black_box(&events));
            state_after(&events, &causality, EVENTS - 1)
        })
    });
    group.bench_function("replay_to_last_step", |b| {
        b.iter(|| state_after(black_box(&events), &causality, EVENTS - 1))
    });
    group.bench_function("replay_to_middle_step", |b| {
        b.iter(|| state_after(black_box(&events), &causality, EVENTS / 2))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

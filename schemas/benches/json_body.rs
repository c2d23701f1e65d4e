//! Decoding one `POST /events` body of 2,000 events (the SDKs' batch size): the typed path the
//! gateway takes (`decode_events_body`) against the lenient path alone (a JSON value tree, then
//! `decode_event` per event), on the same body; and encoding the decoded events as Avro, the
//! gateway's other work per event. Also the query API's side: one 500-event trace written as its
//! events' wire JSON, through a `Value` per event (`encode_event`) and directly (`EventJson`).
//!
//! `cargo bench -p raceway-schemas --bench json_body`; instruction counts with
//! `valgrind --tool=callgrind --toggle-collect='*json_body*decode*' target/release/deps/json_body-* --bench --profile-time 1`.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use raceway_schemas::json::{decode_event, decode_events_body, encode_event, BodyError, EventJson};
use raceway_schemas::*;
use uuid::Uuid;

/// 2,000 events of 40 traces, as an SDK batch: state changes, locks and calls of 4 threads.
fn body() -> Vec<u8> {
    let events: Vec<serde_json::Value> = (0..2000u64).map(|n| encode_event(&event(n))).collect();
    serde_json::to_vec(&serde_json::json!({ "events": events })).expect("json")
}

fn event(n: u64) -> Event {
    let thread = format!("worker-{}", n % 4);
    let kind = match n % 5 {
        0 => EventKind::FunctionCall(FunctionCall {
            function_name: "transfer".into(),
            module: "bank::api".into(),
            args: r#"{"amount":15,"from":"alice"}"#.into(),
            file: "src/api.rs".into(),
            line: 42,
        }),
        1 | 3 => EventKind::StateChange(StateChange {
            variable: format!("account:{}.balance", n % 7),
            old_value: Some((n * 3).to_string()),
            new_value: (n * 3 + 1).to_string(),
            location: "src/consume.rs:14".into(),
            access_type: if n.is_multiple_of(2) {
                AccessType::Read
            } else {
                AccessType::Write
            },
        }),
        2 => EventKind::LockAcquire(LockEvent {
            lock_id: "accounts".into(),
            mode: LockMode::Exclusive,
            lock_type: "Mutex".into(),
            location: "src/consume.rs:10".into(),
        }),
        _ => EventKind::LockRelease(LockEvent {
            lock_id: "accounts".into(),
            mode: LockMode::Exclusive,
            lock_type: "Mutex".into(),
            location: "src/consume.rs:20".into(),
        }),
    };
    Event {
        id: Uuid::from_u128(0x1000 + u128::from(n)),
        trace_id: Uuid::from_u128(u128::from(n / 50)),
        parent_id: None,
        timestamp_ns: 1_704_110_400_000_000_000 + n as i64 * 1_000_123,
        kind,
        metadata: Metadata {
            thread_id: thread,
            process_id: 4242,
            service_name: "bank".into(),
            environment: "bench".into(),
            tags: BTreeMap::from([("sdk_language".to_string(), "typescript".to_string())]),
            duration_ns: None,
            instance_id: None,
            distributed_span_id: None,
            upstream_span_id: None,
        },
        causality_vector: vec![],
        lock_set: vec![],
    }
}

/// The lenient path alone: what `decode_events_body` does for a body the typed path declines.
fn decode_lenient(body: &[u8]) -> Result<Vec<Result<Event, json::FieldError>>, BodyError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(BodyError::NotJson)?;
    let events = value["events"].as_array().ok_or(BodyError::MissingEvents)?;
    Ok(events.iter().map(decode_event).collect())
}

fn bench(c: &mut Criterion) {
    let body = body();
    let typed = decode_events_body(&body).expect("body");
    assert_eq!(typed, decode_lenient(&body).expect("body"));
    let mut group = c.benchmark_group("json_body");
    group.bench_function("2000-events/typed", |b| {
        b.iter(|| decode_events_body(black_box(&body)))
    });
    group.bench_function("2000-events/lenient", |b| {
        b.iter(|| decode_lenient(black_box(&body)))
    });
    // What the gateway does next: the decoded events as one Avro record (its records hold the
    // traces of one partition each; the work per event is the same).
    let batch = EventBatch {
        trace_id: Uuid::nil(),
        events: typed.into_iter().map(|e| e.expect("valid")).collect(),
    };
    group.bench_function("2000-events/avro-encode", |b| {
        b.iter(|| avro::encode_partition_batch(black_box(&batch)))
    });
    // One 500-event trace with 4 threads' clocks, as `GET /api/traces/{id}` writes it.
    let trace: Vec<Event> = (0..500u64)
        .map(|n| Event {
            causality_vector: (0..4u64)
                .map(|t| (format!("bank#worker-{t}"), n / 4 + t))
                .collect(),
            ..event(n)
        })
        .collect();
    let via_value = || {
        let values: Vec<serde_json::Value> = trace.iter().map(encode_event).collect();
        serde_json::to_vec(&values).expect("json")
    };
    let direct = || {
        let events: Vec<EventJson<&Event>> = trace.iter().map(EventJson).collect();
        serde_json::to_vec(&events).expect("json")
    };
    assert_eq!(via_value(), direct());
    group.bench_function("500-event-trace/encode-via-value", |b| b.iter(via_value));
    group.bench_function("500-event-trace/encode-direct", |b| b.iter(direct));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

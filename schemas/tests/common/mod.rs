//! Sample events shared by the integration tests: one event of every kind, with optional fields
//! both set and unset across the set, and JSON texts in canonical form.

#![allow(dead_code)]

use std::collections::BTreeMap;

use raceway_schemas::*;
use uuid::Uuid;

pub const TRACE: &str = "aaaaaaaa-aaaa-4aaa-aaaa-aaaaaaaaaaaa";

pub fn trace_id() -> Uuid {
    Uuid::parse_str(TRACE).unwrap()
}

/// One kind of every variant, in the model's order.
pub fn all_kinds() -> Vec<EventKind> {
    vec![
        EventKind::FunctionCall(FunctionCall {
            function_name: "transfer".into(),
            module: "bank::api".into(),
            args: r#"{"amount":15,"from":"alice","nested":[1,2.5,null,true]}"#.into(),
            file: "src/api.rs".into(),
            line: 42,
        }),
        EventKind::AsyncSpawn(AsyncSpawn {
            task_id: "goroutine-17".into(),
            spawned_by: "main".into(),
            task_name: Some("worker".into()),
            spawned_at: Some("main.go:12".into()),
        }),
        EventKind::AsyncAwait(AsyncAwait {
            future_id: "task-9".into(),
            awaited_at: "src/main.rs:88".into(),
        }),
        EventKind::StateChange(StateChange {
            variable: "account:alice.balance".into(),
            old_value: Some("100".into()),
            new_value: "85".into(),
            location: "src/bank.rs:30".into(),
            access_type: AccessType::AtomicRMW,
        }),
        EventKind::LockAcquire(LockEvent {
            lock_id: "accounts".into(),
            mode: LockMode::Shared,
            lock_type: "RwLock::Read".into(),
            location: "src/bank.rs:20".into(),
        }),
        EventKind::LockRelease(LockEvent {
            lock_id: "accounts".into(),
            mode: LockMode::Exclusive,
            lock_type: "Mutex".into(),
            location: "src/bank.rs:40".into(),
        }),
        EventKind::MemoryFence(MemoryFence {
            ordering: MemoryOrdering::AcqRel,
            location: "src/sync.rs:5".into(),
        }),
        EventKind::HttpRequest(HttpRequest {
            method: "POST".into(),
            url: "http://bank/transfer".into(),
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("traceparent".into(), "00-aaaa-bbbb-01".into()),
            ],
            body: Some(r#"{"amount":15}"#.into()),
        }),
        EventKind::HttpResponse(HttpResponse {
            status: 503,
            headers: vec![],
            body: None,
            duration_ms: 12,
        }),
        EventKind::DatabaseQuery(DatabaseQuery {
            query: "UPDATE accounts SET balance = $1".into(),
            database: "postgres".into(),
            duration_ms: 3,
        }),
        EventKind::DatabaseResult(DatabaseResult { rows_affected: 1 }),
        EventKind::Error(ErrorEvent {
            error_type: "InsufficientFunds".into(),
            message: "balance 5 < 15".into(),
            stack_trace: vec![
                "at transfer (bank.ts:10)".into(),
                "at main (index.ts:3)".into(),
            ],
        }),
        EventKind::MessageSend(MessageEvent {
            topic: "payments".into(),
            partition: Some(3),
            offset: None,
            key: Some("alice".into()),
            location: "src/pay.rs:9".into(),
        }),
        EventKind::MessageReceive(MessageEvent {
            topic: "payments".into(),
            partition: Some(3),
            offset: Some(1234),
            key: None,
            location: "src/consume.rs:14".into(),
        }),
        EventKind::Custom(Custom {
            name: "FunctionReturn".into(),
            data: r#"{"function_name":"f","return_value":"ok"}"#.into(),
        }),
    ]
}

/// An event of `kind`, number `n` of the trace; every other event has all optional fields set.
pub fn event(n: u128, kind: EventKind) -> Event {
    let full = n & 1 == 0;
    let mut tags = BTreeMap::new();
    if full {
        tags.insert(
            TRUSTED_CLOCK_TAG.to_string(),
            TRUSTED_CLOCK_VALUE.to_string(),
        );
        tags.insert("sdk_language".to_string(), "rust".to_string());
        tags.insert("zone".to_string(), "eu-1".to_string());
    }
    Event {
        id: Uuid::from_u128(0x1000 + n),
        trace_id: trace_id(),
        parent_id: full.then(|| Uuid::from_u128(0x1000)),
        // Sub-microsecond digits, to check that nanoseconds survive every form.
        timestamp_ns: 1_704_110_400_000_000_000 + n as i64 * 1_000_123,
        kind,
        metadata: Metadata {
            thread_id: format!("worker-{}", n % 3),
            process_id: 4242,
            service_name: "bank".into(),
            environment: "test".into(),
            tags,
            duration_ns: full.then_some(17_000_000),
            instance_id: full.then(|| "bank-1".to_string()),
            distributed_span_id: full.then(|| "0123456789abcdef".to_string()),
            upstream_span_id: full.then(|| "fedcba9876543210".to_string()),
        },
        causality_vector: if full {
            vec![
                ("bank#bank-1/worker-0".into(), n as u64 + 1),
                ("web#web-1/main".into(), 7),
            ]
        } else {
            vec![]
        },
        lock_set: if full {
            vec!["accounts".into()]
        } else {
            vec![]
        },
    }
}

/// One event of every kind, all in trace [`TRACE`].
pub fn all_kinds_events() -> Vec<Event> {
    all_kinds()
        .into_iter()
        .enumerate()
        .map(|(i, k)| event(i as u128, k))
        .collect()
}

/// One event of every kind with texts and values an encoder rewrites or must escape: not JSON,
/// not canonical, `"null"`, duplicate and unsorted headers, escapes, extreme numbers.
pub fn rewritten_kinds_events() -> Vec<Event> {
    let mut events = all_kinds_events();
    for event in &mut events {
        event.parent_id = Some(trace_id());
        event.timestamp_ns = -1_234_567_891;
        event.lock_set = vec!["m\"1".into(), "é\n\u{1}".into()];
        event.metadata.tags = [("b", "2"), ("a", "\\")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        event.metadata.duration_ns = Some(u64::MAX);
        match &mut event.kind {
            EventKind::FunctionCall(c) => c.args = r#"{ "z": 1.0e2, "a": [ 1 , -0.0 ] }"#.into(),
            EventKind::StateChange(s) => {
                s.old_value = Some("not json {".into());
                s.new_value = "  \"spaced\"  ".into();
            }
            EventKind::HttpRequest(r) => {
                r.headers = vec![
                    ("Set-Cookie".into(), "a".into()),
                    ("Set-Cookie".into(), "b".into()),
                ];
                r.body = Some("null".into());
            }
            EventKind::HttpResponse(r) => {
                r.headers = vec![("b".into(), "1".into()), ("a".into(), "2".into())];
                r.body = Some("12345678901234567890123".into());
            }
            EventKind::MessageSend(m) | EventKind::MessageReceive(m) => {
                m.partition = Some(-1);
                m.offset = Some(i64::MIN);
            }
            EventKind::Custom(c) => c.data = "[{\"b\":{},\"a\":\"\\u00e9\"}]".into(),
            _ => {}
        }
    }
    events
}

/// The scenario fixtures (`tests/scenarios/*.json`, each a `POST /events` body), sorted.
pub fn scenario_files() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(files.len() > 100, "scenario fixtures in {}", dir.display());
    files
}

/// A batch with one event of every kind.
pub fn all_kinds_batch() -> EventBatch {
    EventBatch {
        trace_id: trace_id(),
        events: all_kinds_events(),
    }
}

/// A sample access record.
pub fn access(old_value: Option<&str>, locks: Vec<HeldLock>) -> Access {
    Access {
        event_id: Uuid::from_u128(7),
        trace_id: trace_id(),
        timestamp_ns: -5,
        environment: "prod".into(),
        variable: "account:alice.balance".into(),
        access_type: AccessType::Write,
        location: "src/bank.rs:30".into(),
        value: "85".into(),
        old_value: old_value.map(str::to_string),
        actor: ActorId {
            service: "bank".into(),
            instance: "bank-1".into(),
            thread: "worker-1".into(),
        }
        .into(),
        clock: CompactClock::from_pairs([("a", 1), ("b", u64::from(u32::MAX) + 1)]),
        trusted_clock: true,
        locks: locks.into(),
        trace_start_ns: 1,
        trace_end_ns: i64::MAX,
    }
}

/// Decodes a JSON event that must be valid.
pub fn decode_ok(value: serde_json::Value) -> Event {
    raceway_schemas::json::decode_event(&value).unwrap_or_else(|e| panic!("{e}"))
}

/// A minimal valid event in the SDKs' format with `kind` replaced.
pub fn with_kind(kind: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "id": "bbbbbbbb-bbbb-4bbb-bbbb-bbbbbbbbbbbb",
        "trace_id": TRACE,
        "timestamp": "2024-01-01T12:00:00Z",
        "kind": kind,
        "metadata": {"thread_id": "t1", "service_name": "svc"}
    })
}

/// The kind decoded from a minimal event with `kind`.
pub fn kind_of(kind: serde_json::Value) -> EventKind {
    decode_ok(with_kind(kind)).kind
}

/// Asserts that `decode` refuses every proper prefix of `bytes` (a cut-off record is an error).
pub fn assert_every_prefix_fails<T, E>(bytes: &[u8], decode: impl Fn(&[u8]) -> Result<T, E>) {
    for len in 0..bytes.len() {
        assert!(
            decode(&bytes[..len]).is_err(),
            "prefix of {len} bytes decoded"
        );
    }
}

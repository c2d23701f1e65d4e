//! Shared by the query API tests: a real (embedded SQLite) store seeded the way the processors
//! seed it (events, each trace's accesses, the race stage's findings), and a GET helper.

#![allow(dead_code)] // Each test file uses its own part of this module.

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use axum::Router;
use raceway_analysis::{trace_accesses, FindingAggregator, RaceDetector};
use raceway_schemas::json::decode_events_body;
use raceway_schemas::Event;
use raceway_store::{ClickHouseStore, Lifecycle, SqliteStore, Store};
use serde_json::{json, Value};
use tower::ServiceExt;

/// The trace of the fixture (`tests/fixtures/raceway-events-example.json`).
pub const TRACE: &str = "aaaaaaaa-aaaa-4aaa-aaaa-aaaaaaaaaaaa";

/// The fixture's events.
pub fn fixture_events() -> Vec<Event> {
    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/raceway-events-example.json"
    ))
    .expect("fixture");
    decode(&body)
}

/// Decodes a `{"events": [...]}` body whose events are all valid.
pub fn decode(body: &[u8]) -> Vec<Event> {
    decode_events_body(body)
        .expect("body")
        .into_iter()
        .map(|e| e.expect("valid event"))
        .collect()
}

/// A store holding `events`, plus what the trace stage (accesses, per trace) and the race stage
/// (findings, over every trace's accesses) write for them.
pub async fn seeded(events: Vec<Event>) -> Arc<dyn Store> {
    let store = SqliteStore::open_in_memory().expect("store");
    store.migrate().await.expect("migrate");
    seed(&store, events).await;
    Arc::new(store)
}

/// Writes into `store` what [`seeded`] writes.
pub async fn seed(store: &dyn Store, events: Vec<Event>) {
    store.insert_events(&events).await.expect("insert");
    let mut traces: Vec<_> = events.iter().map(|e| e.trace_id).collect();
    traces.sort();
    traces.dedup();
    let mut detector = RaceDetector::default();
    let mut findings = FindingAggregator::default();
    let mut found = Vec::new();
    for trace in traces {
        let of_trace: Vec<Event> = events
            .iter()
            .filter(|e| e.trace_id == trace)
            .cloned()
            .collect();
        let accesses = trace_accesses(&of_trace);
        store.insert_accesses(&accesses).await.expect("accesses");
        for access in accesses {
            for pair in detector.observe(access).pairs {
                found.extend(findings.record(&pair, 1));
            }
        }
    }
    store.upsert_findings(&found).await.expect("findings");
}

/// GETs `uri` from the query API over `store`: the status and the JSON body.
pub async fn get(store: Arc<dyn Store>, uri: &str) -> (StatusCode, Value) {
    send(
        store,
        Request::get(uri).body(Body::empty()).expect("request"),
    )
    .await
}

/// Sends `request` to the query API over `store`: the status and the JSON body.
pub async fn send(store: Arc<dyn Store>, request: Request<Body>) -> (StatusCode, Value) {
    send_to(raceway_query_api::router(store), request).await
}

/// GETs `uri` from `router` (one query API, kept across requests): the status and the body.
pub async fn get_from(router: &Router, uri: &str) -> (StatusCode, Value) {
    let request = Request::get(uri).body(Body::empty()).expect("request");
    send_to(router.clone(), request).await
}

/// Sends `request` to `router`: the status and the JSON body.
async fn send_to(router: Router, request: Request<Body>) -> (StatusCode, Value) {
    let uri = request.uri().to_string();
    let response = router.oneshot(request).await.expect("response");
    let status = response.status();
    let bytes = to_bytes(response.into_body(), 1 << 20).await.expect("body");
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{uri}: not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    (status, body)
}

/// GETs `{path}?{query}` for each `(query, mentions)`: a 400 whose error mentions `mentions`.
pub async fn assert_rejected(store: Arc<dyn Store>, path: &str, cases: &[(&str, &str)]) {
    for (query, mentions) in cases {
        let (status, body) = get(store.clone(), &format!("{path}?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        let message = body["error"].as_str().unwrap_or_default();
        assert!(message.contains(mentions), "{query}: {message}");
    }
}

/// The items of the array `body[list]` (a panic naming the body when it is not one).
pub fn items<'a>(body: &'a Value, list: &str) -> &'a [Value] {
    body[list]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_else(|| panic!("no {list}: {body}"))
}

/// `field` of each item of the array `body[list]`, as text.
pub fn texts(body: &Value, list: &str, field: &str) -> Vec<String> {
    items(body, list)
        .iter()
        .map(|item| item[field].as_str().unwrap_or_default().to_string())
        .collect()
}

/// A UUID for test ids: `n` in the last group.
pub fn uuid(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// One event in the Raceway JSON format, on `2024-01-01T{time}Z`.
pub fn event(
    id: u64,
    trace: u64,
    time: &str,
    (service, thread): (&str, &str),
    kind: Value,
) -> Value {
    json!({
        "id": uuid(id), "trace_id": uuid(trace), "parent_id": null,
        "timestamp": format!("2024-01-01T{time}Z"), "kind": kind,
        "metadata": {"thread_id": thread, "process_id": 1, "service_name": service,
                     "environment": "test", "tags": {}, "duration_ns": 1000},
        "causality_vector": [], "lock_set": []
    })
}

/// A StateChange kind.
pub fn change(variable: &str, old: Value, new: Value, location: &str, access: &str) -> Value {
    json!({"StateChange": {"variable": variable, "old_value": old, "new_value": new,
                           "location": location, "access_type": access}})
}

/// A LockAcquire (`acquire`) or LockRelease kind on a mutex.
pub fn lock(acquire: bool, lock_id: &str, location: &str) -> Value {
    let kind = if acquire {
        "LockAcquire"
    } else {
        "LockRelease"
    };
    json!({kind: {"lock_id": lock_id, "lock_type": "Mutex", "location": location}})
}

/// Decodes events given as JSON values.
pub fn events(values: Vec<Value>) -> Vec<Event> {
    decode(&serde_json::to_vec(&json!({ "events": values })).expect("json"))
}

/// Trace of the lock-ordered pair: two threads write `account:bob.balance` one after the other
/// under mutex `m` (the release -> acquire orders them), and one reads `cache/users`.
pub const LOCKED_TRACE: u64 = 0x100;
/// Trace of the ledger's read of `balance`, concurrent with the fixture's writes (cross-trace).
pub const LEDGER_TRACE: u64 = 0x200;
/// Trace with trusted clocks where the access that happens first has the later timestamp.
pub const SKEWED_TRACE: u64 = 0x300;

/// The fixture plus the three traces above.
pub fn scenario() -> Vec<Event> {
    let bank = ("bank", "t1");
    let bank2 = ("bank", "t2");
    let mut values = vec![
        event(
            0x101,
            LOCKED_TRACE,
            "12:01:00.000",
            bank,
            lock(true, "m", "bank.rs:10"),
        ),
        event(
            0x102,
            LOCKED_TRACE,
            "12:01:00.001",
            bank,
            change(
                "account:bob.balance",
                json!(1),
                json!(2),
                "bank.rs:11",
                "Write",
            ),
        ),
        event(
            0x103,
            LOCKED_TRACE,
            "12:01:00.002",
            bank,
            lock(false, "m", "bank.rs:12"),
        ),
        event(
            0x104,
            LOCKED_TRACE,
            "12:01:00.003",
            bank2,
            lock(true, "m", "bank.rs:10"),
        ),
        event(
            0x105,
            LOCKED_TRACE,
            "12:01:00.004",
            bank2,
            change(
                "account:bob.balance",
                json!(2),
                json!(3),
                "bank.rs:11",
                "Write",
            ),
        ),
        event(
            0x106,
            LOCKED_TRACE,
            "12:01:00.005",
            bank2,
            lock(false, "m", "bank.rs:12"),
        ),
        event(
            0x107,
            LOCKED_TRACE,
            "12:01:00.006",
            bank2,
            change(
                "cache/users",
                Value::Null,
                json!("plain text"),
                "cache.rs:3",
                "Read",
            ),
        ),
        event(
            0x201,
            LEDGER_TRACE,
            "12:00:00.003",
            ("ledger", "ledger-1"),
            change("balance", Value::Null, json!(15), "ledger.rs:7", "Read"),
        ),
    ];
    // Trusted clocks (every event of the trace tagged by our SDK): 0x301 happens before 0x302
    // although 0x302's host stamped it earlier.
    for (id, time, thread, clock) in [
        (0x301, "12:02:00.005", "p", json!([["api/p", 1]])),
        (
            0x302,
            "12:02:00.001",
            "q",
            json!([["api/p", 1], ["api/q", 1]]),
        ),
    ] {
        let mut e = event(
            id,
            SKEWED_TRACE,
            time,
            ("api", thread),
            change("counter", json!(id), json!(id + 1), "api.rs:5", "Write"),
        );
        e["metadata"]["tags"] = json!({"raceway.clock": "actor-v1"});
        e["causality_vector"] = clock;
        values.push(e);
    }
    let mut all = fixture_events();
    all.extend(events(values));
    all
}

/// Runs `check` on a migrated ClickHouse store seeded with `events`, in a database of its own
/// on the server at `RACEWAY_TEST_CLICKHOUSE` (default `http://127.0.0.1:8123`), then drops the
/// database, and fails as `check` did. Fails when the server is unreachable.
pub async fn on_clickhouse<F, Fut>(events: Vec<Event>, check: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let url =
        std::env::var("RACEWAY_TEST_CLICKHOUSE").unwrap_or_else(|_| "http://127.0.0.1:8123".into());
    let database = format!("raceway_test_{}", uuid::Uuid::new_v4().simple());
    let store = ClickHouseStore::connect(&url, &database)
        .await
        .unwrap_or_else(|e| panic!("{e}: these tests need ClickHouse at {url}"));
    store.migrate().await.expect("migrate");
    let store: Arc<dyn Store> = Arc::new(store);
    seed(&*store, events).await;
    let outcome = tokio::spawn(check(store)).await;
    let dropped = clickhouse::Client::default()
        .with_url(&url)
        .query(&format!("DROP DATABASE IF EXISTS {database}"))
        .execute()
        .await;
    if let Err(e) = dropped {
        eprintln!("could not drop {database}: {e}");
    }
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

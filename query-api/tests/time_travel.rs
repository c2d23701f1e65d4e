//! Time-travel routes over the fixture, on the embedded store and on ClickHouse.
//!
//! The ClickHouse test uses the server at `RACEWAY_TEST_CLICKHOUSE` (default
//! `http://127.0.0.1:8123`) with a database of its own, dropped afterwards; it fails when the
//! server is unreachable.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::{fixture_events, get, on_clickhouse, seeded, TRACE};
use raceway_store::Store;
use serde_json::Value;

const FIRST_WRITE: &str = "cccccccc-cccc-4ccc-cccc-cccccccccccc";
const SECOND_WRITE: &str = "dddddddd-dddd-4ddd-dddd-dddddddddddd";

/// The state answers every store must give for the fixture.
async fn fixture_states(store: Arc<dyn Store>) {
    let (status, steps) = get(store.clone(), &format!("/api/traces/{TRACE}/steps")).await;
    assert_eq!(status, StatusCode::OK, "{steps}");
    let ids: Vec<&str> = steps["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["event_id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        ids,
        vec![
            "bbbbbbbb-bbbb-4bbb-bbbb-bbbbbbbbbbbb",
            FIRST_WRITE,
            SECOND_WRITE
        ]
    );
    assert_eq!(steps["steps"][1]["label"], "write balance = 15");
    assert_eq!(steps["steps"][2]["thread_id"], "worker-2");

    let at_first = state(&store, FIRST_WRITE).await;
    assert_eq!(at_first["variables"]["balance"]["value"], 15);
    assert_eq!(
        at_first["variables"]["balance"]["last_writer"]["thread_id"],
        "worker-1"
    );
    assert_eq!(
        (at_first["step"].as_u64(), at_first["total_steps"].as_u64()),
        (Some(1), Some(3))
    );

    let at_second = state(&store, SECOND_WRITE).await;
    let balance = &at_second["variables"]["balance"];
    assert_eq!(balance["value"], 20);
    assert_eq!(balance["last_writer"]["thread_id"], "worker-2");
    assert_eq!(balance["last_writer"]["event_id"], SECOND_WRITE);
    assert_eq!(balance["last_writer"]["service"], "web");
    assert_eq!(balance["written_at_step"], 2);
    assert_eq!(at_second["event"]["id"], SECOND_WRITE);
    assert_eq!(at_second["event"]["kind"]["StateChange"]["new_value"], 20);
    let threads: Vec<(&str, &str)> = at_second["threads"]
        .as_array()
        .expect("threads")
        .iter()
        .map(|t| {
            let thread = t["thread_id"].as_str().expect("thread");
            (thread, t["last_event_id"].as_str().expect("event"))
        })
        .collect();
    assert!(threads.contains(&("worker-1", FIRST_WRITE)), "{threads:?}");
    assert!(threads.contains(&("worker-2", SECOND_WRITE)), "{threads:?}");
    // The race on balance has this write as a side.
    let races = at_second["races_at_step"].as_array().expect("races");
    assert_eq!(races.len(), 1, "{at_second}");
    let (_, listed) = get(store.clone(), &format!("/api/traces/{TRACE}/races")).await;
    assert_eq!(races[0], listed["races"][0]["id"]);

    // By index, the same state.
    let (_, by_index) = get(store.clone(), &format!("/api/traces/{TRACE}/state?at=2")).await;
    assert_eq!(by_index["variables"], at_second["variables"]);

    let (status, compared) = get(
        store.clone(),
        &format!("/api/state/compare?left={TRACE}@{FIRST_WRITE}&right={TRACE}@2"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{compared}");
    let differences = compared["differences"].as_array().expect("differences");
    assert_eq!(differences.len(), 1, "{compared}");
    assert_eq!(differences[0]["variable"], "balance");
    assert_eq!(differences[0]["left"]["value"], 15);
    assert_eq!(differences[0]["right"]["value"], 20);
    assert_eq!(
        differences[0]["right"]["last_writer"]["thread_id"],
        "worker-2"
    );
}

async fn state(store: &Arc<dyn Store>, at: &str) -> Value {
    let (status, body) = get(store.clone(), &format!("/api/traces/{TRACE}/state?at={at}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn fixture_states_on_the_embedded_store() {
    fixture_states(seeded(fixture_events()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_states_on_clickhouse() {
    on_clickhouse(fixture_events(), fixture_states).await;
}

#[tokio::test]
async fn bad_and_missing_input_gets_json_errors() {
    let store = seeded(fixture_events()).await;
    let missing = "00000000-0000-4000-8000-000000000000";
    for (uri, expected) in [
        (
            format!("/api/traces/{TRACE}/state"),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/api/traces/{TRACE}/state?at=soon"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/traces/nope/state?at=0".to_string(),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/api/traces/{TRACE}/state?at=3"),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("/api/traces/{TRACE}/state?at={missing}"),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("/api/traces/{missing}/state?at=0"),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("/api/traces/{missing}/steps"),
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/traces/nope/steps".to_string(),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/api/state/compare?left={TRACE}@0"),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/api/state/compare?left={TRACE}&right={TRACE}@1"),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/api/state/compare?left=x@0&right={TRACE}@1"),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/api/state/compare?left={missing}@0&right={TRACE}@1"),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("/api/state/compare?left={TRACE}@9&right={TRACE}@1"),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let (status, body) = get(store.clone(), &uri).await;
        assert_eq!(status, expected, "{uri}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{uri}: {body}"
        );
    }
}

#[tokio::test]
async fn compare_across_traces_and_identical_points() {
    let store = seeded(common::scenario()).await;
    let ledger = common::uuid(common::LEDGER_TRACE);
    let (status, same) = get(
        store.clone(),
        &format!("/api/state/compare?left={TRACE}@2&right={TRACE}@{SECOND_WRITE}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(same["differences"], serde_json::json!([]));
    let (status, across) = get(
        store.clone(),
        &format!("/api/state/compare?left={TRACE}@2&right={ledger}@0"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{across}");
    assert_eq!(across["right"]["trace_id"], ledger);
    assert!(
        across["differences"]
            .as_array()
            .expect("differences")
            .iter()
            .any(|d| d["variable"] == "balance" && d["left"]["value"] == 20),
        "{across}"
    );
}

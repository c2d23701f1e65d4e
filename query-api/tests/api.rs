//! The query API over a real (embedded SQLite) store, seeded with the fixture and the
//! finding the race stage writes for it.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::{get, TRACE};
use raceway_store::Store;

async fn seeded_store() -> Arc<dyn Store> {
    common::seeded(common::fixture_events()).await
}

#[tokio::test]
async fn lists_traces_with_their_race_counts() {
    let store = seeded_store().await;
    let (status, body) = get(store.clone(), "/api/traces").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["total"], 1);
    let row = &body["traces"][0];
    assert_eq!(row["trace_id"], TRACE);
    assert_eq!(row["event_count"], 3);
    assert_eq!(row["race_count"], 1);
    assert_eq!(row["services"], serde_json::json!(["web"]));
    assert_eq!(row["first_timestamp"], "2024-01-01T12:00:00Z");
    assert_eq!(row["duration_ms"], 2.0);

    let (_, filtered) = get(store.clone(), "/api/traces?service=other").await;
    assert_eq!(filtered["total"], 0);
    let (_, later) = get(store.clone(), "/api/traces?from=2024-01-02T00:00:00Z").await;
    assert_eq!(later["total"], 0);
    let (_, racy) = get(store, "/api/traces?has_races=true&limit=10").await;
    assert_eq!(racy["total"], 1);
}

#[tokio::test]
async fn a_trace_comes_back_in_causal_order_with_clocks() {
    let store = seeded_store().await;
    let (status, body) = get(store, &format!("/api/traces/{TRACE}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["trusted_clocks"], false);
    let events = body["events"].as_array().unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["id"], "bbbbbbbb-bbbb-4bbb-bbbb-bbbbbbbbbbbb");
    for event in events {
        assert!(
            !event["final_clock"].as_array().unwrap().is_empty(),
            "{event}"
        );
    }
}

#[tokio::test]
async fn races_of_a_trace_have_the_documented_shape() {
    let store = seeded_store().await;
    let (status, body) = get(store, &format!("/api/traces/{TRACE}/races")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let races = body["races"].as_array().unwrap();
    assert_eq!(races.len(), 1);
    let race = &races[0];
    for field in ["id", "kind", "variable", "severity", "count", "explanation"] {
        assert!(!race[field].is_null(), "missing {field}: {race}");
    }
    for side in ["first", "second"] {
        for field in [
            "event_id",
            "trace_id",
            "thread_id",
            "service",
            "location",
            "access_type",
        ] {
            assert!(
                !race[side][field].is_null(),
                "missing {side}.{field}: {race}"
            );
        }
    }
    assert_eq!(race["kind"], "data_race");
    assert_eq!(race["severity"], "critical");
}

#[tokio::test]
async fn errors_are_json_with_the_right_status() {
    let store = seeded_store().await;
    let (status, body) = get(store.clone(), "/api/traces/not-a-uuid").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("not-a-uuid"));
    let (status, body) = get(
        store.clone(),
        "/api/traces/00000000-0000-4000-8000-000000000000",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = get(store.clone(), "/api/traces?from=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("yesterday"));
    let (status, _) = get(store, "/api/traces?limit=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

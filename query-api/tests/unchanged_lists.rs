//! The lists answer from their last read only while the store is unchanged: on ClickHouse
//! (which gives a data version), a page asked again of unchanged data is the same page, and a
//! write of any kind the page shows (an event of a new trace, a finding, a retraction) is in
//! the next answer of the same API. On the embedded store (no data version) every request
//! reads, which the other tests cover.
//!
//! Uses the server at `RACEWAY_TEST_CLICKHOUSE` (default `http://127.0.0.1:8123`) with a
//! database of its own, dropped afterwards; fails when the server is unreachable.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::Router;
use common::{fixture_events, get_from, on_clickhouse, TRACE};
use raceway_store::conformance::{event, finding, retracted};
use raceway_store::Store;
use serde_json::Value;
use uuid::Uuid;

/// GETs `uri` from `router`: the body of a 200.
async fn page(router: &Router, uri: &str) -> Value {
    let (status, body) = get_from(router, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    body
}

async fn lists_follow_every_write(store: Arc<dyn Store>) {
    let router = raceway_query_api::router(Arc::clone(&store));
    let (traces, races) = ("/api/traces?limit=50", "/api/races?limit=50");
    let first = page(&router, traces).await;
    let first_races = page(&router, races).await;
    assert_eq!(
        page(&router, traces).await,
        first,
        "unchanged data, same page"
    );
    assert_eq!(page(&router, races).await, first_races);

    let trace = Uuid::new_v4();
    store
        .insert_events(&[event(trace, 0, "late")])
        .await
        .expect("insert an event");
    let after_event = page(&router, traces).await;
    assert_eq!(after_event["total"], first["total"].as_u64().unwrap() + 1);
    assert!(
        after_event["traces"]
            .as_array()
            .expect("traces")
            .iter()
            .any(|row| row["trace_id"] == trace.to_string()),
        "{after_event}"
    );

    let fixture = Uuid::parse_str(TRACE).expect("uuid");
    let added = finding("f-unchanged-lists", fixture, trace, "late.value", 1);
    store
        .upsert_findings(std::slice::from_ref(&added))
        .await
        .expect("upsert a finding");
    let with_finding = page(&router, races).await;
    let total = first_races["total"].as_u64().unwrap();
    assert_eq!(with_finding["total"], total + 1, "{with_finding}");
    let counted = page(&router, &format!("/api/traces?trace_id={trace}")).await;
    assert_eq!(counted["traces"][0]["race_count"], 1, "{counted}");

    store
        .upsert_findings(&[retracted(&added, 2)])
        .await
        .expect("retract the finding");
    assert_eq!(page(&router, races).await["total"], total);
    assert_eq!(
        page(&router, &format!("/api/traces?trace_id={trace}")).await["traces"][0]["race_count"],
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_follow_every_write_on_clickhouse() {
    on_clickhouse(fixture_events(), lists_follow_every_write).await;
}

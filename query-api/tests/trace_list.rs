//! `GET /api/traces`'s filters, orders and anomaly counts, `GET /api/variables`, and the
//! recorded values of findings' sides, over a real (embedded SQLite) store seeded through the
//! analysis pipeline (the fixture and three more traces, see `common::scenario`).

mod common;

use axum::http::StatusCode;
use common::{assert_rejected, get, items, scenario, seeded, texts, uuid, TRACE};
use raceway_store::conformance::{analysis, anomaly};
use serde_json::{json, Value};
use uuid::Uuid;

fn trace_ids(body: &Value) -> Vec<String> {
    texts(body, "traces", "trace_id")
}

#[tokio::test]
async fn traces_filter_sort_and_count_anomalies() {
    let store = seeded(scenario()).await;
    let trace = Uuid::parse_str(TRACE).expect("uuid");
    let mut analysed = analysis(trace, 0);
    analysed.anomalies = vec![anomaly(trace, "web", 6.0, 0)];
    store
        .replace_trace_analysis(&analysed)
        .await
        .expect("analysis");

    let (status, all) = get(store.clone(), "/api/traces").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all["total"], 4, "{all}");
    for row in items(&all, "traces") {
        let expected = if row["trace_id"] == TRACE { 1 } else { 0 };
        assert_eq!(row["anomaly_count"], expected, "{row}");
    }

    // The fixture's trace has the most findings: its own and the two with the ledger's read.
    let (_, by_races) = get(store.clone(), "/api/traces?sort=races").await;
    assert_eq!(trace_ids(&by_races)[0], TRACE, "{by_races}");
    assert_eq!(by_races["traces"][0]["race_count"], 3);
    let (_, by_duration) = get(store.clone(), "/api/traces?sort=duration").await;
    let durations: Vec<f64> = items(&by_duration, "traces")
        .iter()
        .map(|t| t["duration_ms"].as_f64().unwrap())
        .collect();
    assert!(durations.windows(2).all(|w| w[0] >= w[1]), "{durations:?}");
    assert!(durations[0] > durations[3], "{durations:?}");

    let cases: &[(&str, &[&str])] = &[
        ("trace_id=AAAAAAAA", &[TRACE]),
        (&format!("trace_id={TRACE}"), &[TRACE]),
        ("trace_id=0000", &[&uuid(0x300), &uuid(0x100), &uuid(0x200)]),
        ("trace_id=ffff", &[]),
        ("environment=test&trace_id=aaaa", &[TRACE]),
        ("environment=prod", &[]),
        ("min_events=3&trace_id=aaaa", &[TRACE]),
        ("min_events=4&trace_id=aaaa", &[]),
    ];
    for (query, expected) in cases {
        let (status, body) = get(store.clone(), &format!("/api/traces?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {body}");
        assert_eq!(trace_ids(&body), *expected, "{query}");
    }
}

#[tokio::test]
async fn bad_trace_list_parameters_are_named_in_a_400() {
    let store = seeded(scenario()).await;
    let cases = [
        ("sort=foo", "`sort`"),
        ("min_events=-1", "`min_events`"),
        ("min_events=many", "`min_events`"),
        ("trace_id=aaa", "`trace_id`"),
        ("trace_id=not-hex!", "`trace_id`"),
    ];
    assert_rejected(store, "/api/traces", &cases).await;
}

#[tokio::test]
async fn finding_sides_carry_their_recorded_values() {
    let store = seeded(scenario()).await;
    let (status, body) = get(store.clone(), &format!("/api/traces/{TRACE}/races")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let own = items(&body, "races")
        .iter()
        .find(|r| r["severity"] == "critical")
        .unwrap_or_else(|| panic!("no critical race: {body}"));
    // worker-1 wrote 10 -> 15, worker-2 15 -> 20.
    let values = |side: &Value| (side["old_value"].clone(), side["new_value"].clone());
    let mut sides = [values(&own["first"]), values(&own["second"])];
    sides.sort_by_key(|(old, _)| old.to_string());
    assert_eq!(sides, [(json!(10), json!(15)), (json!(15), json!(20))]);

    let (_, all) = get(store, "/api/races?service=ledger").await;
    for race in items(&all, "races") {
        let read = if race["first"]["service"] == "ledger" {
            &race["first"]
        } else {
            &race["second"]
        };
        // The ledger's read recorded no previous value.
        assert_eq!(values(read), (Value::Null, json!(15)), "{race}");
    }
}

#[tokio::test]
async fn variables_are_searched_by_prefix() {
    let store = seeded(scenario()).await;
    let (status, body) = get(store.clone(), "/api/variables?prefix=acc").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        texts(&body, "variables", "name"),
        ["account:bob.balance"],
        "{body}"
    );
    let (_, all) = get(store.clone(), "/api/variables").await;
    let balance = items(&all, "variables")
        .iter()
        .find(|v| v["name"] == "balance")
        .unwrap_or_else(|| panic!("no balance: {all}"));
    // The fixture's two writes and the ledger's read.
    assert_eq!(balance["access_count"], 3);
    let (_, first) = get(store.clone(), "/api/variables?limit=1").await;
    assert_eq!(items(&first, "variables").len(), 1);
    assert_eq!(first["truncated"], true);
    let (status, body) = get(store, "/api/variables?limit=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"].as_str().unwrap().contains("`limit`"),
        "{body}"
    );
}

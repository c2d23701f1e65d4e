//! The audit-trail routes over a real store seeded through the analysis pipeline (see
//! `common::scenario`): order, causal links, finding membership, filters, odd variable names.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::{get, scenario, seeded, uuid, LOCKED_TRACE, SKEWED_TRACE, TRACE};
use raceway_store::Store;
use serde_json::{json, Value};

fn accesses(body: &Value) -> &Vec<Value> {
    body["accesses"]
        .as_array()
        .unwrap_or_else(|| panic!("no accesses: {body}"))
}

fn event_ids(body: &Value) -> Vec<&str> {
    accesses(body)
        .iter()
        .map(|a| a["event_id"].as_str().unwrap_or_default())
        .collect()
}

fn linked(body: &Value) -> Vec<bool> {
    accesses(body)
        .iter()
        .map(|a| a["causally_linked_to_previous"].as_bool().expect("flag"))
        .collect()
}

async fn ok(store: &Arc<dyn Store>, uri: &str) -> Value {
    let (status, body) = get(store.clone(), uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    body
}

const WRITE_1: &str = "cccccccc-cccc-4ccc-cccc-cccccccccccc";
const WRITE_2: &str = "dddddddd-dddd-4ddd-dddd-dddddddddddd";

#[tokio::test]
async fn concurrent_writes_are_not_linked_and_both_in_the_finding() {
    let store = seeded(scenario()).await;
    let body = ok(&store, &format!("/api/traces/{TRACE}/audit-trail/balance")).await;
    assert_eq!(body["variable"], "balance");
    assert_eq!(body["trace_id"], TRACE);
    assert_eq!(event_ids(&body), vec![WRITE_1, WRITE_2]);
    assert_eq!(linked(&body), vec![false, false]);
    let (_, races) = get(store.clone(), "/api/races?severity=critical").await;
    let fixture_race = races["races"][0]["id"].clone();
    let rows = accesses(&body);
    for row in rows {
        let in_findings = row["in_findings"].as_array().expect("in_findings");
        assert!(in_findings.contains(&fixture_race), "{row}");
        // Each write is also one side of a cross-trace race with the ledger's read.
        assert_eq!(in_findings.len(), 2, "{row}");
    }
    let first = &rows[0];
    assert_eq!(first["trace_id"], TRACE);
    assert_eq!(first["timestamp"], "2024-01-01T12:00:00.001Z");
    assert_eq!(first["service"], "web");
    assert_eq!(first["instance"], "web-1");
    assert_eq!(first["thread_id"], "worker-1");
    assert_eq!(first["location"], "balance.rs:12");
    assert_eq!(first["access_type"], "Write");
    assert_eq!(
        (first["old_value"].clone(), first["new_value"].clone()),
        (json!(10), json!(15))
    );
    assert!(
        !first["clock"].as_array().expect("clock").is_empty(),
        "{first}"
    );
    assert_eq!(first["locks"], json!([]));
    assert_eq!(rows[1]["instance"], "");
}

#[tokio::test]
async fn lock_ordered_writes_are_linked_and_in_no_finding() {
    let store = seeded(scenario()).await;
    let trace = uuid(LOCKED_TRACE);
    // ':' and '.' as sent, and URL-encoded.
    for variable in ["account:bob.balance", "account%3Abob.balance"] {
        let body = ok(
            &store,
            &format!("/api/traces/{trace}/audit-trail/{variable}"),
        )
        .await;
        assert_eq!(body["variable"], "account:bob.balance");
        assert_eq!(event_ids(&body), vec![uuid(0x102), uuid(0x105)]);
        assert_eq!(linked(&body), vec![false, true]);
        for row in accesses(&body) {
            assert_eq!(row["in_findings"], json!([]), "{row}");
            assert_eq!(row["locks"], json!([{"lock_id": "m", "mode": "exclusive"}]));
        }
    }
    let across = ok(&store, "/api/variables/account:bob.balance/audit-trail").await;
    assert_eq!(event_ids(&across), vec![uuid(0x102), uuid(0x105)]);
    assert_eq!(linked(&across), vec![false, true]);
}

#[tokio::test]
async fn happens_before_beats_timestamps() {
    let store = seeded(scenario()).await;
    let trace = uuid(SKEWED_TRACE);
    let body = ok(&store, &format!("/api/traces/{trace}/audit-trail/counter")).await;
    assert_eq!(event_ids(&body), vec![uuid(0x301), uuid(0x302)]);
    assert_eq!(linked(&body), vec![false, true]);
    let rows = accesses(&body);
    assert_eq!(rows[0]["clock"], json!([["api/p", 1]]));
    assert_eq!(rows[1]["timestamp"], "2024-01-01T12:02:00.001Z");
    assert_eq!(rows[1]["old_value"], json!(0x302));
}

#[tokio::test]
async fn a_variable_trail_spans_traces_with_time_and_environment_filters() {
    let store = seeded(scenario()).await;
    let body = ok(&store, "/api/variables/balance/audit-trail").await;
    let ledger_read = uuid(0x201);
    assert_eq!(
        event_ids(&body),
        vec![WRITE_1, WRITE_2, ledger_read.as_str()]
    );
    assert_eq!(linked(&body), vec![false, false, false]);
    assert_eq!(body["truncated"], false);
    let read = &accesses(&body)[2];
    assert_eq!(read["trace_id"], uuid(common::LEDGER_TRACE));
    assert_eq!(read["service"], "ledger");
    assert_eq!(read["access_type"], "Read");
    assert_eq!(read["old_value"], Value::Null);
    assert_eq!(
        read["in_findings"].as_array().map(Vec::len),
        Some(2),
        "{read}"
    );

    let later = ok(
        &store,
        "/api/variables/balance/audit-trail?from=2024-01-01T12:00:00.0015Z",
    )
    .await;
    assert_eq!(event_ids(&later), vec![WRITE_2, ledger_read.as_str()]);
    let until = ok(
        &store,
        "/api/variables/balance/audit-trail?to=1704110400002000000&environment=test",
    )
    .await;
    assert_eq!(event_ids(&until), vec![WRITE_1, WRITE_2]);
    let cut = ok(&store, "/api/variables/balance/audit-trail?limit=2").await;
    assert_eq!(event_ids(&cut), vec![WRITE_1, WRITE_2]);
    assert_eq!(
        (cut["limit"].clone(), cut["truncated"].clone()),
        (json!(2), json!(true))
    );
    let elsewhere = ok(
        &store,
        "/api/variables/balance/audit-trail?environment=prod",
    )
    .await;
    assert!(accesses(&elsewhere).is_empty());
}

#[tokio::test]
async fn names_with_a_slash_work_url_encoded_and_values_stay_text_when_not_json() {
    let store = seeded(scenario()).await;
    let body = ok(&store, "/api/variables/cache%2Fusers/audit-trail").await;
    assert_eq!(body["variable"], "cache/users");
    assert_eq!(event_ids(&body), vec![uuid(0x107)]);
    assert_eq!(accesses(&body)[0]["new_value"], "plain text");
    let trace = uuid(LOCKED_TRACE);
    let body = ok(
        &store,
        &format!("/api/traces/{trace}/audit-trail/cache%2Fusers"),
    )
    .await;
    assert_eq!(event_ids(&body), vec![uuid(0x107)]);
}

#[tokio::test]
async fn missing_things_and_bad_parameters() {
    let store = seeded(scenario()).await;
    // The trace exists but never touched the variable: an empty trail.
    let body = ok(
        &store,
        &format!("/api/traces/{TRACE}/audit-trail/account:nobody"),
    )
    .await;
    assert!(accesses(&body).is_empty());
    let body = ok(&store, "/api/variables/account:nobody/audit-trail").await;
    assert!(accesses(&body).is_empty());
    let unknown = "00000000-0000-4000-8000-ffffffffffff";
    let (status, body) = get(
        store.clone(),
        &format!("/api/traces/{unknown}/audit-trail/balance"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body["error"].as_str().unwrap_or_default().contains(unknown));
    for (uri, mentions) in [
        ("/api/traces/42/audit-trail/balance", "42"),
        (
            "/api/variables/balance/audit-trail?from=yesterday",
            "yesterday",
        ),
        ("/api/variables/balance/audit-trail?limit=0", "limit"),
        ("/api/variables/balance/audit-trail?limit=5001", "limit"),
        (
            "/api/variables/balance/audit-trail?from=2024-01-02T00:00:00Z&to=2024-01-01T00:00:00Z",
            "after",
        ),
    ] {
        let (status, body) = get(store.clone(), uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        let message = body["error"].as_str().unwrap_or_default();
        assert!(message.contains(mentions), "{uri}: {message}");
    }
}

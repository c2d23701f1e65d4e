//! The analyses of one trace (tree, critical path, dependencies, causal graph) over a real
//! (embedded SQLite) store, computed from the events the pipeline stored.

mod common;

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use common::{event, events, get, uuid, TRACE};
use raceway_store::Store;
use serde_json::{json, Value};
use tower::ServiceExt;

/// The trace the tests build (its id differs from every event id).
const T: u64 = 0x77;

/// A FunctionCall kind.
fn call(name: &str) -> Value {
    json!({"FunctionCall": {"function_name": name, "module": "", "args": {},
                            "file": "app.rs", "line": 1}})
}

/// An event of trace [`T`] at `12:00:00.{ms}`, lasting `duration_ms` (measured), under `parent`.
fn step(
    id: u64,
    ms: u32,
    duration_ms: u64,
    (service, thread): (&str, &str),
    parent: Option<u64>,
) -> Value {
    let mut e = event(
        id,
        T,
        &format!("12:00:00.{ms:03}"),
        (service, thread),
        call(&format!("f{id}")),
    );
    e["metadata"]["duration_ns"] = json!(duration_ms * 1_000_000);
    if let Some(parent) = parent {
        e["parent_id"] = json!(uuid(parent));
    }
    e
}

async fn store_of(values: Vec<Value>) -> Arc<dyn Store> {
    common::seeded(events(values)).await
}

fn trace_uri(route: &str) -> String {
    format!("/api/traces/{}/{route}", uuid(T))
}

/// The critical path's event ids.
fn path_ids(body: &Value) -> Vec<String> {
    body["path"]
        .as_array()
        .expect("path")
        .iter()
        .map(|s| s["event_id"].as_str().expect("id").to_string())
        .collect()
}

#[tokio::test]
async fn parallel_children_count_as_the_longest() {
    let store = store_of(vec![
        step(1, 0, 25, ("api", "main"), None),
        step(2, 5, 5, ("api", "w1"), Some(1)),
        step(3, 5, 20, ("api", "w2"), Some(1)),
    ])
    .await;
    let (status, body) = get(store, &trace_uri("critical-path")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["trace_id"], uuid(T));
    assert_eq!(body["total_duration_ms"], 25.0);
    assert_eq!(body["trace_duration_ms"], 25.0);
    assert_eq!(body["share_of_trace"], 1.0);
    assert_eq!(path_ids(&body), [uuid(1), uuid(3)]);
    let child = &body["path"][1];
    assert_eq!(child["self_time_ms"], 20.0);
    assert_eq!(child["duration_ms"], 20.0);
    assert_eq!(child["kind"], "FunctionCall");
    assert_eq!(child["service"], "api");
    assert_eq!(child["location"], "f3");
    assert_eq!(body["path"][0]["self_time_ms"], 5.0);
}

#[tokio::test]
async fn sequential_children_add_up() {
    let store = store_of(vec![
        step(1, 0, 30, ("api", "main"), None),
        step(2, 0, 10, ("api", "main"), Some(1)),
        step(3, 10, 10, ("api", "main"), Some(1)),
        step(4, 20, 10, ("api", "main"), Some(1)),
    ])
    .await;
    let (status, body) = get(store, &trace_uri("critical-path")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["total_duration_ms"], 30.0);
    assert_eq!(path_ids(&body), [uuid(1), uuid(2), uuid(3), uuid(4)]);
}

#[tokio::test]
async fn an_http_call_between_services_is_one_dependency_edge() {
    let mut request = event(
        1,
        T,
        "12:00:00.000",
        ("frontend", "main"),
        json!({"HttpRequest": {"method": "GET", "url": "http://backend/users?id=1",
                               "headers": {}, "body": null}}),
    );
    request["metadata"]["duration_ns"] = json!(12_000_000);
    let mut served = step(2, 1, 10, ("backend", "handler"), Some(1));
    served["kind"] = call("get_user");
    let store = store_of(vec![request, served]).await;
    let (status, body) = get(store, &trace_uri("dependencies")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["trace_id"], uuid(T));
    let edges = body["dependencies"].as_array().expect("dependencies");
    assert_eq!(edges.len(), 1, "{body}");
    let edge = &edges[0];
    assert_eq!(edge["caller"], "frontend");
    assert_eq!(edge["callee"], "backend");
    assert_eq!(edge["kind"], "http");
    assert_eq!(edge["calls"], 1);
    assert_eq!(edge["errors"], 0);
    for field in ["p50_ms", "p95_ms", "p99_ms"] {
        assert!(edge[field].as_f64().is_some_and(|ms| ms > 0.0), "{edge}");
    }
}

#[tokio::test]
async fn an_orphan_hangs_under_a_placeholder() {
    let store = store_of(vec![
        step(1, 0, 5, ("api", "main"), None),
        step(2, 1, 3, ("api", "w1"), Some(0x999)),
    ])
    .await;
    let (status, body) = get(store, &trace_uri("tree")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["node_count"], 3);
    assert_eq!(body["truncated_depth"], false);
    let roots = body["roots"].as_array().expect("roots");
    assert_eq!(roots.len(), 2, "{body}");
    let placeholder = roots
        .iter()
        .find(|r| r["placeholder"] == true)
        .expect("a placeholder root");
    assert_eq!(placeholder["id"], uuid(0x999));
    assert_eq!(placeholder["placeholder_reason"], "missing_parent");
    let orphan = &placeholder["children"][0];
    assert_eq!(orphan["id"], uuid(2));
    assert_eq!(orphan["placeholder"], false);
    assert_eq!(orphan["link"], "placeholder");
    assert_eq!(orphan["duration_ns"], 3_000_000);
}

#[tokio::test]
async fn the_fixture_gives_a_tree_of_three_events() {
    let store = common::seeded(common::fixture_events()).await;
    let (status, body) = get(store, &format!("/api/traces/{TRACE}/tree")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["trace_id"], TRACE);
    assert_eq!(body["start"], "2024-01-01T12:00:00Z");
    let roots = body["roots"].as_array().expect("roots");
    assert_eq!(roots.len(), 1, "{body}");
    let root = &roots[0];
    assert_eq!(root["id"], "bbbbbbbb-bbbb-4bbb-bbbb-bbbbbbbbbbbb");
    assert_eq!(root["kind"], "FunctionCall");
    assert_eq!(root["service"], "web");
    assert_eq!(root["location"], "app::handlers::handle_request");
    assert_eq!(root["thread"], "thread-main");
    assert_eq!(root["duration_ns"], 17_000_000);
    assert_eq!(root["link"], Value::Null);
    assert_eq!(root["error"], false);
    let children = root["children"].as_array().expect("children");
    assert_eq!(children.len(), 2);
    assert_eq!(children[0]["start"], "2024-01-01T12:00:00.001Z");
    assert_eq!(children[0]["start_ns"], 1_704_110_400_001_000_000_i64);
    assert_eq!(children[0]["link"], "parent");
    assert!(children.iter().all(|c| c["children"] == json!([])));
}

/// GETs `uri` and returns the status and the raw body (deep trees exceed serde_json's default
/// recursion limit when parsed).
async fn get_raw(store: Arc<dyn Store>, uri: &str) -> (StatusCode, Vec<u8>) {
    let response = raceway_query_api::router(store)
        .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let bytes = to_bytes(response.into_body(), 1 << 30).await.expect("body");
    (status, bytes.to_vec())
}

#[tokio::test]
async fn a_deep_chain_is_served_whole_or_capped() {
    const LENGTH: u64 = 10_000;
    let chain: Vec<Value> = (1..=LENGTH)
        .map(|id| {
            let mut e = event(id, T, "12:00:00.000", ("api", "main"), call("step"));
            e["timestamp"] = json!(format!("2024-01-01T12:00:00.{:06}Z", id));
            if id > 1 {
                e["parent_id"] = json!(uuid(id - 1));
            }
            e
        })
        .collect();
    let store = store_of(chain).await;
    let (status, body) = get_raw(store.clone(), &trace_uri("tree")).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).expect("utf-8");
    assert_eq!(text.matches("\"children\":[").count(), LENGTH as usize);
    assert!(text.contains(&format!("\"max_depth\":{}", LENGTH - 1)));
    assert!(text.contains("\"truncated_depth\":false"));
    assert!(text.ends_with(&format!("{}]}}", "]}".repeat(LENGTH as usize))));

    let (status, body) = get(store.clone(), &format!("{}?max_depth=2", trace_uri("tree"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["truncated_depth"], true);
    let deepest = &body["roots"][0]["children"][0]["children"][0];
    assert_eq!(deepest["id"], uuid(3));
    assert_eq!(deepest["children"], json!([]));
    assert_eq!(deepest["hidden_children"], 1);

    let (status, body) = get(store, &format!("{}?max_depth=deep", trace_uri("tree"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().expect("error").contains("max_depth"));
}

#[tokio::test]
async fn the_graph_has_typed_edges() {
    let store = common::seeded(common::fixture_events()).await;
    let (status, body) = get(store, &format!("/api/traces/{TRACE}/graph")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["trace_id"], TRACE);
    assert_eq!(body["nodes"].as_array().expect("nodes").len(), 3);
    let edges = body["edges"].as_array().expect("edges");
    let parent_edges = edges.iter().filter(|e| e["kind"] == "parent").count();
    assert_eq!(parent_edges, 2, "{body}");
    assert!(edges
        .iter()
        .all(|e| e["from"] == "bbbbbbbb-bbbb-4bbb-bbbb-bbbbbbbbbbbb"));
}

#[tokio::test]
async fn unknown_traces_are_404_and_bad_ids_400() {
    let store = common::seeded(common::fixture_events()).await;
    for route in ["tree", "critical-path", "dependencies", "graph"] {
        let (status, body) = get(store.clone(), &trace_uri(route)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{route}: {body}");
        assert!(body["error"].as_str().is_some(), "{route}: {body}");
        let (status, body) = get(store.clone(), &format!("/api/traces/nope/{route}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{route}: {body}");
        assert!(body["error"].as_str().expect("error").contains("nope"));
    }
}

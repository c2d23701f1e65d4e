//! `POST /api/traces/{id}/simulate` over a real (embedded SQLite) store, on a trace recorded the
//! way the TypeScript, Python and Go SDKs record a call: no clocks, the caller's `HttpRequest`
//! enclosing the call, the callee's first event carrying the caller's span as its upstream span,
//! the caller's `HttpResponse` a child of its request.

mod common;

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::http::header::CONTENT_TYPE;
use axum::http::{Request, StatusCode};
use common::{event, events, uuid};
use raceway_store::Store;
use serde_json::{json, Value};
use tower::ServiceExt;

const T: u64 = 0x51;

/// An event of trace [`T`] at `12:00:00.{ms}` lasting `duration_ms`, in span `span`.
fn step(
    id: u64,
    ms: u32,
    duration_ms: u64,
    service: &str,
    kind: Value,
    span: (&str, Option<&str>),
) -> Value {
    let mut e = event(id, T, &format!("12:00:00.{ms:03}"), (service, "main"), kind);
    e["metadata"]["duration_ns"] = json!(duration_ms * 1_000_000);
    e["metadata"]["distributed_span_id"] = json!(span.0);
    e["metadata"]["upstream_span_id"] = json!(span.1);
    e
}

/// `a` calls `b`: a's request 0..100 ms, b's handler 10..90 ms, a's response 95..100 ms.
async fn store() -> Arc<dyn Store> {
    let request = json!({"HttpRequest": {"method": "POST", "url": "http://b/pay", "headers": [], "body": null}});
    let response =
        json!({"HttpResponse": {"status": 200, "headers": [], "body": null, "duration_ms": 5}});
    let handler = json!({"FunctionCall": {"function_name": "pay", "module": "b", "args": {}, "file": "b.py", "line": 3}});
    let mut answer = step(3, 95, 5, "a", response, ("s-a", None));
    answer["parent_id"] = json!(uuid(1));
    common::seeded(events(vec![
        step(1, 0, 100, "a", request, ("s-a", None)),
        step(2, 10, 80, "b", handler, ("s-b", Some("s-a"))),
        answer,
    ]))
    .await
}

/// POSTs `body` to the simulate route: status, content type and body text.
async fn post(store: Arc<dyn Store>, uri: &str, body: &str) -> (StatusCode, String, String) {
    let request = Request::post(uri)
        .header(CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    let response = raceway_query_api::router(store)
        .oneshot(request)
        .await
        .expect("response");
    let status = response.status();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (
        status,
        content_type,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

/// The string `field` of each element of the array `list`.
fn field_of_each(list: &Value, field: &str) -> Vec<String> {
    let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
    items
        .iter()
        .map(|item| item[field].as_str().unwrap_or("?").to_string())
        .collect()
}

/// POSTs `body` to the simulate route with `query` and checks it answered 200: the content
/// type and the body text.
async fn simulated(query: &str, body: &str) -> (String, String) {
    let (status, content_type, text) = post(store().await, &uri(query), body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    (content_type, text)
}

fn uri(query: &str) -> String {
    format!("/api/traces/{}/simulate{query}", uuid(T))
}

#[tokio::test]
async fn a_delay_on_the_callee_raises_the_path_by_exactly_that_and_reaches_the_caller() {
    let (_, text) = simulated(
        "",
        r#"{"delays": [{"service": "b", "ms": 500}], "sla_ms": {"default": 300}}"#,
    )
    .await;
    let body: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(body["critical_path"]["before_ms"], json!(100.0));
    assert_eq!(body["critical_path"]["delta_ms"], json!(500.0));
    assert_eq!(body["affected_services"][0]["service"], json!("a"));
    assert_eq!(body["affected_services"][0]["via"][0], json!(uuid(2)));
    // a's request (600 ms) and b's call (580 ms) are now over 300 ms; neither was before.
    assert_eq!(
        field_of_each(&body["over_sla"], "event_id"),
        vec![uuid(1), uuid(2)]
    );
    assert_eq!(field_of_each(&body["services"], "service"), vec!["a", "b"]);
}

#[tokio::test]
async fn csv_lists_every_event_before_and_after() {
    let (content_type, text) = simulated(
        "?format=csv",
        r#"{"failures": [{"service": "b", "mode": "timeout", "timeout_ms": 2000}]}"#,
    )
    .await;
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let header = rows.headers().expect("header").clone();
    assert_eq!(&header[0], "event_id");
    assert!(header.iter().any(|h| h == "after_start_ms"));
    let records: Vec<csv::StringRecord> = rows.records().map(|r| r.expect("row")).collect();
    assert_eq!(records.len(), 3);
    let response = records
        .iter()
        .find(|r| r[0] == uuid(3))
        .expect("response row");
    // The response followed b's answer at 90 ms; b now times out at 10 + 2000 ms.
    let after_start = header
        .iter()
        .position(|h| h == "after_start_ms")
        .expect("column");
    assert_eq!(&response[after_start], "2015.000");
}

#[tokio::test]
async fn bad_specs_are_400s_naming_the_problem_and_unknown_traces_404() {
    let (status, _, text) = post(
        store().await,
        &uri(""),
        r#"{"delays": [{"service": "z", "ms": 5}]}"#,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        text.contains("no call into service `z`") && text.contains("services called: b"),
        "{text}"
    );
    let (status, _, text) = post(store().await, &uri(""), r#"{"delay": 5}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        text.contains("not a simulation spec") && text.contains("delay"),
        "{text}"
    );
    let (status, _, text) = post(store().await, &uri("?format=xml"), "{}").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("unknown format `xml`"), "{text}");
    let missing = format!("/api/traces/{}/simulate", uuid(0x999));
    let (status, _, _) = post(store().await, &missing, "{}").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // No body at all: the trace as it was.
    let (status, _, text) = post(store().await, &uri(""), "").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let body: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(body["critical_path"]["delta_ms"], json!(0.0));
}

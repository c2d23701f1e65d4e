//! `GET /api/traces/{id}/critical-path` serves optimisation hints beside the path, over a real
//! (embedded SQLite) store: two independent calls of 100 and 50 ms made one after the other are
//! worth running in parallel (50 ms saved); the same query three times is worth caching.

mod common;

use axum::http::StatusCode;
use common::{event, events, get, uuid};
use serde_json::{json, Value};

const T: u64 = 0x61;

fn step(id: u64, ms: u32, lasting: u64, kind: Value, parent: Option<u64>) -> Value {
    let mut e = event(id, T, &format!("12:00:00.{ms:03}"), ("shop", "main"), kind);
    e["metadata"]["duration_ns"] = json!(lasting * 1_000_000);
    e["parent_id"] = json!(parent.map(uuid));
    e
}

fn request(url: &str) -> Value {
    json!({"HttpRequest": {"method": "POST", "url": url, "headers": [], "body": null}})
}

fn query() -> Value {
    json!({"DatabaseQuery": {"query": "SELECT price FROM items WHERE id = 7", "database": "shop", "duration_ms": 5}})
}

#[tokio::test]
async fn the_critical_path_comes_with_parallelize_and_cache_hints() {
    let handler = json!({"FunctionCall": {"function_name": "checkout", "module": "shop", "args": {}, "file": "shop.py", "line": 1}});
    let store = common::seeded(events(vec![
        step(1, 0, 170, handler, None),
        step(2, 0, 100, request("http://users/me"), Some(1)),
        step(3, 100, 50, request("http://prices/7"), Some(1)),
        step(4, 150, 5, query(), Some(1)),
        step(5, 155, 5, query(), Some(1)),
        step(6, 160, 5, query(), Some(1)),
    ]))
    .await;
    let (status, body) = get(store, &format!("/api/traces/{}/critical-path", uuid(T))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let hints = body["suggestions"].as_array().expect("suggestions");
    let of = |kind: &str| {
        hints
            .iter()
            .find(|h| h["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind}: {body}"))
    };
    // The two requests and the three queries are all independent sequential calls: run together
    // they take the longest (100 ms) instead of 165 ms.
    assert_eq!(of("parallelize")["saves_ms"], json!(65.0));
    assert_eq!(of("cache")["saves_ms"], json!(10.0));
    assert_eq!(of("cache")["event_ids"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        hints[0]["kind"],
        json!("parallelize"),
        "largest saving first"
    );
}

//! `GET /api/services`, `GET /api/services/{name}/health`, `GET /api/services/health` and `GET
//! /api/hotspots` over a real
//! (embedded) store: counts per window, the trend against the service's own history, hotspots
//! from the race stage's findings, a tenant's confinement and the 400s and 404s.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use raceway_auth::{Principal, Roles, Tenant};
use raceway_store::Store;
use serde_json::{json, Value};

/// The recent window of the health checks ends here; `window=1h` starts it at 11:00.
const TO: &str = "2024-01-01T12:00:00Z";

fn call(name: &str) -> Value {
    json!({"FunctionCall": {"function_name": name, "module": "app", "args": {}}})
}

fn failure() -> Value {
    json!({"Error": {"error_type": "Timeout", "message": "db timed out", "stack_trace": []}})
}

/// A trace of `service` at `HH:MM` whose two steps are `latency_ms` apart, the second an
/// `Error` when `failed`.
fn request(trace: u64, service: &str, at: &str, latency_ms: u64, failed: bool) -> Vec<Value> {
    let last = if failed { failure() } else { call("reply") };
    vec![
        event(
            trace * 10,
            trace,
            &format!("{at}:00.000"),
            (service, "t1"),
            call("handle"),
        ),
        event(
            trace * 10 + 1,
            trace,
            &format!("{at}:00.{latency_ms:03}"),
            (service, "t1"),
            last,
        ),
    ]
}

/// `api`: 30 traces at ~100 ms from 05:00 to 09:50 (baseline), 6 at ~400 ms after 11:00
/// (recent, two of them failing); `db`: 20 steady traces of 50 ms, 10 of them recent.
fn history() -> Vec<Value> {
    let mut values = Vec::new();
    for i in 0..30u64 {
        let at = format!("{:02}:{:02}", 5 + i / 6, (i % 6) * 10);
        values.extend(request(1 + i, "api", &at, 95 + i % 10, false));
    }
    for i in 0..6u64 {
        let at = format!("11:{:02}", 10 + i * 5);
        values.extend(request(100 + i, "api", &at, 400 + i, i < 2));
    }
    for i in 0..20u64 {
        let at = if i < 10 {
            format!("06:{:02}", i * 5)
        } else {
            format!("11:{:02}", i * 2)
        };
        values.extend(request(200 + i, "db", &at, 50, false));
    }
    values
}

async fn store() -> Arc<dyn Store> {
    seeded(events(history())).await
}

#[tokio::test]
async fn services_count_traces_and_events_in_the_window() {
    let store = store().await;
    let (status, body) = get(store.clone(), &format!("/api/services?window=1h&to={TO}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["window"], "1h");
    assert_eq!(body["from"], "2024-01-01T11:00:00Z");
    let rows = items(&body, "services");
    assert_eq!(texts(&body, "services", "service"), ["api", "db"]);
    assert_eq!(rows[0]["trace_count"], 6);
    assert_eq!(rows[0]["event_count"], 12);
    assert_eq!(rows[1]["trace_count"], 10);
    let (_, all_day) = get(store.clone(), &format!("/api/services?window=1d&to={TO}")).await;
    assert_eq!(items(&all_day, "services")[0]["trace_count"], 36);
    assert_rejected(
        store,
        "/api/services",
        &[
            ("window=soon", "`window=soon`"),
            ("window=0s", "`window=0s`"),
            ("to=later", "`to=later`"),
        ],
    )
    .await;
}

#[tokio::test]
async fn health_compares_the_recent_window_with_the_service_history() {
    let store = store().await;
    let uri = format!("/api/services/api/health?window=1h&to={TO}");
    let (status, body) = get(store.clone(), &uri).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let recent = &body["recent"];
    assert_eq!(recent["traces"], 6);
    assert_eq!(
        (recent["p50_ns"].as_u64(), recent["p99_ns"].as_u64()),
        (Some(402_000_000), Some(405_000_000))
    );
    assert_eq!(recent["error_traces"], 2);
    assert!((recent["error_rate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(body["baseline"]["traces"], 30);
    assert_eq!(body["baseline"]["p50_ns"], 99_000_000);
    assert_eq!(body["history_from"], "2024-01-01T04:00:00Z");
    assert_eq!(body["from"], "2024-01-01T11:00:00Z");
    assert_eq!(body["trend"], "degrading", "{body}");
    assert!(
        body["comparison"]["p50_shift"].as_f64().unwrap()
            >= body["rules"]["shift_deviations"].as_f64().unwrap()
    );
    assert_eq!(
        body["comparison"]["p95_shift"],
        Value::Null,
        "fewer than 20 recent traces"
    );

    let (_, db) = get(
        store.clone(),
        &format!("/api/services/db/health?window=1h&to={TO}"),
    )
    .await;
    assert_eq!(db["trend"], "stable", "{db}");
    assert_eq!(db["recent"]["p95_ns"], 50_000_000);

    let early_uri = "/api/services/api/health?window=1h&to=2024-01-01T06:00:00Z";
    let (_, early) = get(store.clone(), early_uri).await;
    assert_eq!(early["trend"], "insufficient_data", "{early}");

    let (status, body) = get(store.clone(), "/api/services/nobody/health").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "no service `nobody`");
    assert_rejected(
        store,
        "/api/services/api/health",
        &[("window=-1h", "`window=-1h`")],
    )
    .await;
}

#[tokio::test]
async fn hotspots_rank_the_variables_and_locations_of_findings() {
    let store = seeded(scenario()).await;
    let uri = "/api/hotspots?window=7d&to=2024-01-02T00:00:00Z";
    let (status, body) = get(store.clone(), uri).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, races) = get(store.clone(), "/api/races?limit=1000").await;
    let findings = items(&races, "races");
    assert!(!findings.is_empty());
    // Each variable's count is its number of findings, most first.
    let variables = items(&body, "variables");
    for row in variables {
        let on_it = findings
            .iter()
            .filter(|f| f["variable"] == row["variable"])
            .count();
        assert_eq!(row["findings"], on_it, "{row}");
    }
    let counts: Vec<u64> = variables
        .iter()
        .map(|v| v["findings"].as_u64().unwrap())
        .collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
    let locations = items(&body, "locations");
    let named: Vec<(String, String, u64)> = locations
        .iter()
        .map(|l| {
            let text = |f: &str| l[f].as_str().unwrap_or_default().to_string();
            (
                text("service"),
                text("location"),
                l["findings"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let expected = [
        ("ledger", "ledger.rs:7", 2),
        ("web", "balance.rs:12", 2),
        ("web", "balance.rs:45", 2),
    ];
    let expected: Vec<(String, String, u64)> = expected
        .iter()
        .map(|(s, l, n)| (s.to_string(), l.to_string(), *n))
        .collect();
    assert_eq!(
        named, expected,
        "each side of each finding, ties by (service, location)"
    );
    for row in locations {
        assert_eq!(
            row["total"],
            row["findings"].as_u64().unwrap() + row["anomalies"].as_u64().unwrap()
        );
    }
    let (_, top) = get(store.clone(), &format!("{uri}&limit=1")).await;
    assert_eq!(items(&top, "variables").len(), 1);
    assert_eq!(items(&top, "variables")[0], variables[0]);
    let (_, before) = get(
        store.clone(),
        "/api/hotspots?window=1h&to=2023-01-01T00:00:00Z",
    )
    .await;
    assert!(items(&before, "variables").is_empty());
    assert_rejected(
        store,
        "/api/hotspots",
        &[("limit=0", "`limit`"), ("window=x", "`window=x`")],
    )
    .await;
}

/// GETs `uri` as a caller confined to a tenant owning only `environment`.
#[tokio::test]
async fn all_services_health_equals_each_services_own_answer() {
    let store = store().await;
    for query in [
        format!("window=1h&to={TO}"),
        "window=1h&to=2024-01-01T06:00:00Z".to_string(),
    ] {
        let (status, all) = get(store.clone(), &format!("/api/services/health?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{all}");
        let (_, list) = get(store.clone(), &format!("/api/services?{query}")).await;
        assert_eq!(all["services"], list["services"], "{query}");
        assert_eq!(all["from"], list["from"]);
        let names = texts(&all, "services", "service");
        assert_eq!(texts(&all, "health", "service"), names, "{query}");
        for (name, health) in names.iter().zip(items(&all, "health")) {
            let uri = format!("/api/services/{name}/health?{query}");
            let (_, own) = get(store.clone(), &uri).await;
            assert_eq!(health, &own, "{uri}");
        }
    }
    let (_, all) = get(
        store.clone(),
        &format!("/api/services/health?window=1h&to={TO}"),
    )
    .await;
    assert_eq!(all["health"][0]["trend"], "degrading", "{all}");
    assert_rejected(
        store,
        "/api/services/health",
        &[("window=soon", "`window=soon`")],
    )
    .await;
}

async fn get_as_tenant(store: Arc<dyn Store>, uri: &str, environment: &str) -> (StatusCode, Value) {
    let principal = Principal {
        name: "reader".into(),
        roles: Roles::default(),
        tenant: Some(Tenant {
            name: "globex".into(),
            environments: vec![environment.into()],
        }),
    };
    let request = Request::get(uri)
        .extension(principal)
        .body(Body::empty())
        .expect("request");
    send(store, request).await
}

#[tokio::test]
async fn a_tenant_sees_only_its_own_services() {
    let store = store().await;
    let window = format!("window=1d&to={TO}");
    let (status, body) =
        get_as_tenant(store.clone(), &format!("/api/services?{window}"), "prod").await;
    assert_eq!(status, StatusCode::OK);
    assert!(items(&body, "services").is_empty(), "{body}");
    let (status, _) = get_as_tenant(
        store.clone(),
        &format!("/api/services/api/health?{window}"),
        "prod",
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another tenant's service is a missing one"
    );
    let (status, all) = get_as_tenant(
        store.clone(),
        &format!("/api/services/health?{window}"),
        "prod",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(items(&all, "health").is_empty(), "{all}");
    let (_, hot) = get_as_tenant(store.clone(), &format!("/api/hotspots?{window}"), "prod").await;
    assert!(items(&hot, "locations").is_empty());
    let (_, own) = get_as_tenant(store, &format!("/api/services?{window}"), "test").await;
    assert_eq!(texts(&own, "services", "service"), ["api", "db"]);
}

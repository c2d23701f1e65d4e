//! The routes over the analyses the trace stage stores (anomalies, dependencies, clusters), over
//! a real (embedded SQLite) store written the way the trace stage writes it.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::get;
use raceway_store::{
    AnalysisStore, AnomalyGrade, AnomalyKind, ClusterRow, DurationAnomalyRow, Lifecycle,
    ModelRecord, ServiceCallRow, SqliteStore, Store, TraceAnalysis, TraceAnalysisSummary,
    TraceScores,
};
use uuid::Uuid;

const START: i64 = 1_700_000_000_000_000_000;
const MS: u64 = 1_000_000;

fn analysis(trace: Uuid, start_ns: i64, deviations: f64, grade: AnomalyGrade) -> TraceAnalysis {
    TraceAnalysis {
        summary: TraceAnalysisSummary {
            trace_id: trace,
            start_ns,
            end_ns: start_ns + 70 * MS as i64,
            duration_ns: 70 * MS,
            event_count: 2,
            critical_path_ns: 70 * MS,
            critical_path_share: 1.0,
            features: "{}".into(),
            scores: Some(TraceScores {
                model_version: 2,
                isolation_score: 0.71,
                cluster: 1,
                centroid_distance: 3.5,
                relative_distance: 2.0,
            }),
            analyzed_at_ns: start_ns + 1_000 * MS as i64,
        },
        calls: vec![ServiceCallRow {
            id: Uuid::new_v4(),
            trace_id: trace,
            caller_service: "api".into(),
            callee_service: "bank".into(),
            kind: "http".into(),
            latency_ns: 60 * MS,
            is_error: false,
            timestamp_ns: start_ns,
        }],
        anomalies: vec![DurationAnomalyRow {
            anomaly_kind: AnomalyKind::Duration,
            transition: None,
            id: Uuid::new_v4(),
            trace_id: trace,
            event_id: Uuid::new_v4(),
            service: "bank".into(),
            kind: "FunctionCall".into(),
            location: "transfer".into(),
            actual_ns: 60 * MS,
            expected_ns: 10 * MS,
            deviations,
            severity: grade,
            baseline_samples: 30,
            flagged_steps: 1,
            timestamp_ns: start_ns,
        }],
    }
}

/// The error message of `path`, which must answer 400.
async fn bad_request(store: Arc<dyn Store>, path: &str) -> String {
    let (status, body) = get(store, path).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    body["error"].as_str().unwrap_or_default().to_string()
}

async fn store() -> (Arc<dyn Store>, Uuid, Uuid) {
    let store = SqliteStore::open_in_memory().expect("store");
    store.migrate().await.expect("migrate");
    let (slow, mild) = (Uuid::new_v4(), Uuid::new_v4());
    let critical = analysis(slow, START, 33.0, AnomalyGrade::Critical);
    let minor = analysis(mild, START + 1_000 * MS as i64, 2.2, AnomalyGrade::Minor);
    for _ in 0..2 {
        store.replace_trace_analysis(&critical).await.expect("slow");
        store.replace_trace_analysis(&minor).await.expect("mild");
    }
    (Arc::new(store), slow, mild)
}

#[tokio::test]
async fn trace_anomalies_show_actual_expected_samples_and_scores() {
    let (store, slow, _) = store().await;
    let (status, body) = get(store.clone(), &format!("/api/traces/{slow}/anomalies")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let anomaly = &body["anomalies"][0];
    assert_eq!(
        body["anomalies"].as_array().map(Vec::len),
        Some(1),
        "{body}"
    );
    assert_eq!(anomaly["severity"], "critical");
    assert_eq!(anomaly["actual_ms"], 60.0);
    assert_eq!(anomaly["expected_ms"], 10.0);
    assert_eq!(anomaly["baseline_samples"], 30);
    assert_eq!(anomaly["anomaly_kind"], "duration");
    assert!(anomaly["transition"].is_null());
    assert_eq!(
        anomaly["description"],
        "FunctionCall transfer took 60.0 ms, expected 10.0 ms (33.0 deviations)"
    );
    assert_eq!(body["scores"]["isolation_score"], 0.71);
    assert_eq!(body["scores"]["cluster"], 1);
    assert_eq!(body["duration_ms"], 70.0);

    let (status, body) = get(
        store.clone(),
        &format!("/api/traces/{}/anomalies", Uuid::new_v4()),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"]
        .as_str()
        .unwrap_or_default()
        .contains("not been analysed"));
    let (status, body) = get(store, "/api/traces/not-a-uuid/anomalies").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn anomaly_list_filters_by_least_severity_and_paginates() {
    let (store, slow, mild) = store().await;
    let (status, body) = get(store.clone(), "/api/anomalies").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["total"], 2, "replays count once: {body}");
    assert_eq!(
        body["anomalies"][0]["trace_id"],
        mild.to_string(),
        "newest first"
    );

    let (_, body) = get(store.clone(), "/api/anomalies?severity=warning").await;
    assert_eq!(body["total"], 1);
    assert_eq!(body["anomalies"][0]["trace_id"], slow.to_string());

    let (_, body) = get(store.clone(), "/api/anomalies?limit=1&offset=1").await;
    assert_eq!(body["total"], 2);
    assert_eq!(body["anomalies"][0]["trace_id"], slow.to_string());

    let (status, body) = get(store.clone(), "/api/anomalies?severity=huge").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]
        .as_str()
        .unwrap_or_default()
        .contains("minor, warning or critical"));
    let (status, _) = get(
        store,
        "/api/anomalies?from=2024-01-02T00:00:00Z&to=2024-01-01T00:00:00Z",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn dependencies_count_distinct_calls_in_the_range() {
    let (store, _, _) = store().await;
    let (status, body) = get(store.clone(), "/api/dependencies").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let edge = &body["dependencies"][0];
    assert_eq!(
        (edge["caller"].as_str(), edge["callee"].as_str()),
        (Some("api"), Some("bank"))
    );
    assert_eq!(edge["calls"], 2, "two traces, each analysed twice: {body}");
    assert_eq!(edge["p99_ms"], 60.0);

    let (_, body) = get(
        store.clone(),
        &format!("/api/dependencies?from={}", START + 1),
    )
    .await;
    assert_eq!(body["dependencies"][0]["calls"], 1, "{body}");
    let error = bad_request(store, "/api/dependencies?to=yesterday").await;
    assert!(error.contains("`to=yesterday`"), "{error}");
}

#[tokio::test]
async fn clusters_of_the_newest_model() {
    let (store, slow, _) = store().await;
    let (status, body) = get(store.clone(), "/api/clusters").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["model_version"], serde_json::Value::Null);
    assert_eq!(body["clusters"].as_array().map(Vec::len), Some(0));

    for version in [1, 2] {
        let model = ModelRecord {
            version,
            trained_at_ns: START,
            trained_on: 40,
            clusters: vec![ClusterRow {
                cluster: 0,
                size: 40 + version,
                representative_trace: slow,
                mean_distance: 0.5,
            }],
            payload: "{}".into(),
        };
        store.save_model(&model).await.expect("model");
    }
    let (_, body) = get(store, "/api/clusters").await;
    assert_eq!(body["model_version"], 2);
    assert_eq!(body["clusters"][0]["size"], 42);
    assert_eq!(
        body["clusters"][0]["representative_trace"],
        slow.to_string()
    );
}

/// An HTTP call from `caller` (event `id`) served by `callee` (event `id + 1`) in trace `trace`.
fn http_call(trace: u64, id: u64, caller: &str, callee: &str) -> Vec<serde_json::Value> {
    let url = format!("http://{callee}/x");
    let request = common::event(
        id,
        trace,
        "12:00:00.000",
        (caller, "main"),
        serde_json::json!({"HttpRequest": {"method": "GET", "url": url, "headers": {},
                                           "body": null}}),
    );
    let mut served = common::event(
        id + 1,
        trace,
        "12:00:00.001",
        (callee, "handler"),
        serde_json::json!({"FunctionCall": {"function_name": "serve", "module": "",
                                            "args": {}, "file": "s.rs", "line": 1}}),
    );
    served["parent_id"] = serde_json::json!(common::uuid(id));
    vec![request, served]
}

#[tokio::test]
async fn a_trace_edge_never_seen_before_the_trace_is_unexpected() {
    // The stored analyses saw api -> bank (http) before this trace; never api -> fraud.
    let (store, _, _) = store().await;
    let trace = 0x900;
    let mut events = http_call(trace, 1, "api", "bank");
    events.extend(http_call(trace, 3, "api", "fraud"));
    common::seed(store.as_ref(), common::events(events)).await;
    let uri = format!("/api/traces/{}/dependencies", common::uuid(trace));
    let (status, body) = get(store, &uri).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let flags: Vec<(&str, bool)> = body["dependencies"]
        .as_array()
        .expect("dependencies")
        .iter()
        .map(|e| {
            (
                e["callee"].as_str().unwrap_or_default(),
                e["unexpected"] == true,
            )
        })
        .collect();
    assert_eq!(flags, [("bank", false), ("fraud", true)], "{body}");
}

#[tokio::test]
async fn an_unusual_sequence_names_its_transition_in_both_routes() {
    let (store, _, _) = store().await;
    let trace = Uuid::new_v4();
    let mut swapped = analysis(
        trace,
        START + 2_000 * MS as i64,
        12.5,
        AnomalyGrade::Critical,
    );
    let step = Uuid::new_v4();
    swapped.anomalies[0] = DurationAnomalyRow {
        anomaly_kind: AnomalyKind::UnusualSequence,
        transition: Some(raceway_store::SequenceTransition {
            from: "FunctionCall:validate".into(),
            to: "FunctionCall:debit".into(),
            probability: 0.0042,
        }),
        event_id: step,
        kind: "FunctionCall".into(),
        location: "handle".into(),
        actual_ns: 0,
        expected_ns: 0,
        baseline_samples: 120,
        flagged_steps: 2,
        ..swapped.anomalies[0].clone()
    };
    store.replace_trace_analysis(&swapped).await.expect("store");
    let (status, body) = get(store.clone(), &format!("/api/traces/{trace}/anomalies")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let anomaly = &body["anomalies"][0];
    assert_eq!(anomaly["anomaly_kind"], "unusual_sequence", "{body}");
    assert_eq!(anomaly["event_id"], step.to_string());
    assert_eq!(anomaly["transition"]["from"], "FunctionCall:validate");
    assert_eq!(anomaly["transition"]["to"], "FunctionCall:debit");
    assert_eq!(anomaly["transition"]["probability"], 0.0042);
    assert_eq!(
        anomaly["description"],
        "unusual sequence from FunctionCall handle: FunctionCall:validate -> FunctionCall:debit \
         has probability 0.004 (12.5 MADs below the usual score of 120 traces)"
    );
    let (_, listed) = get(store.clone(), "/api/anomalies?kind=unusual_sequence").await;
    assert_eq!(listed["total"], 1, "{listed}");
    assert_eq!(listed["anomalies"][0]["trace_id"], trace.to_string());
    let (_, listed) = get(store.clone(), "/api/anomalies?kind=duration").await;
    assert_eq!(listed["total"], 2, "{listed}");
    let error = bad_request(store, "/api/anomalies?kind=weird").await;
    assert!(error.contains("duration or unusual_sequence"), "{error}");
}

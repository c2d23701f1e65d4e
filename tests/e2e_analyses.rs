//! End to end on the embedded default: the trace analyses stored at trace completion, through
//! `raceway up` and its HTTP APIs: after 30 requests whose `transfer`
//! takes 10 +/- 1 ms, one taking 60 ms is flagged critical and one taking 12 ms at most minor;
//! global dependencies count each call once, also when the events are posted again; the trace
//! models are trained and list their clusters; a checkout whose steps are swapped is an
//! `unusual_sequence` naming the swap.

mod common;

use std::time::{Duration, Instant};

use common::setups::EmbeddedUp;
use common::*;
use serde_json::{json, Value};

fn post(base: &str, events: &[Value]) {
    let body = serde_json::to_vec(&json!({ "events": events })).expect("body");
    let answer = post_events(base, body);
    assert_eq!(answer["accepted"], events.len(), "{answer}");
}

fn get_json(url: &str) -> (u16, Value) {
    let response = reqwest::blocking::get(url).expect("GET");
    let status = response.status().as_u16();
    (status, response.json().expect("JSON"))
}

/// Waits until `GET {base}/api/traces/{trace}/anomalies` answers 200 with an analysis other
/// than the one analysed at `after` (an `analyzed_at`); returns it.
fn analysed(up: &Raceway, base: &str, trace: &str, after: Option<&str>) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = get_json(&format!("{base}/api/traces/{trace}/anomalies"));
        let newer = after.is_none_or(|after| body["analyzed_at"].as_str() != Some(after));
        if status == 200 && newer {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "trace {trace} not analysed: {status} {body}\n{}",
            up.output()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn metrics(base: &str) -> String {
    reqwest::blocking::get(format!("{base}/metrics"))
        .and_then(|r| r.text())
        .expect("metrics")
}

fn bank_anomaly(analysis: &Value) -> Option<&Value> {
    analysis["anomalies"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["service"] == "bank"))
}

fn api_to_bank_calls(base: &str) -> Value {
    let (status, body) = get_json(&format!(
        "{base}/api/dependencies?from=2024-01-01T00:00:00Z&to=2024-01-02T00:00:00Z"
    ));
    assert_eq!(status, 200, "{body}");
    let edges = body["dependencies"].as_array().expect("edges").clone();
    assert_eq!(edges.len(), 1, "{body}");
    assert_eq!(
        (edges[0]["caller"].as_str(), edges[0]["callee"].as_str()),
        (Some("api"), Some("bank"))
    );
    edges[0]["calls"].clone()
}

#[test]
fn slow_steps_are_flagged_and_dependencies_count_once_via_raceway_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut up, base) = up_training_models(dir.path());

    let (normal, all) = ordinary_requests();
    post(&base, &all);
    for (trace, _) in &normal {
        analysed(&up, &base, trace, None);
    }

    let (slow, slow_events) = two_service_request(40, 60);
    post(&base, &slow_events);
    let analysis = analysed(&up, &base, &slow, None);
    let flagged = bank_anomaly(&analysis).unwrap_or_else(|| panic!("not flagged: {analysis}"));
    assert_eq!(flagged["severity"], "critical", "{analysis}");
    assert_eq!(flagged["actual_ms"], 60.0);
    let expected = flagged["expected_ms"].as_f64().unwrap_or_default();
    assert!((9.0..=11.0).contains(&expected), "{analysis}");
    assert_eq!(flagged["baseline_samples"], 30);

    let (mild, mild_events) = two_service_request(41, 12);
    post(&base, &mild_events);
    let analysis = analysed(&up, &base, &mild, None);
    if let Some(anomaly) = bank_anomaly(&analysis) {
        assert_eq!(anomaly["severity"], "minor", "{analysis}");
    }

    let (status, listed) = get_json(&format!("{base}/api/anomalies?severity=critical"));
    assert_eq!(status, 200);
    assert!(
        listed["anomalies"]
            .as_array()
            .is_some_and(|a| a.iter().any(|a| a["trace_id"] == slow.as_str())),
        "{listed}"
    );

    assert_eq!(api_to_bank_calls(&base), 32);
    // Posting the same events again re-opens and re-analyses the traces: nothing doubles.
    let last = &normal[29].0;
    let before = analysed(&up, &base, last, None)["analyzed_at"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    post(&base, &all);
    analysed(&up, &base, last, Some(&before));
    assert_eq!(api_to_bank_calls(&base), 32, "replays don't double counts");

    // The models were trained (20 traces, every second) and list their clusters.
    let deadline = Instant::now() + Duration::from_secs(30);
    let clusters = loop {
        let (status, body) = get_json(&format!("{base}/api/clusters"));
        assert_eq!(status, 200, "{body}");
        if !body["model_version"].is_null() {
            break body;
        }
        assert!(Instant::now() < deadline, "no model: {}", up.output());
        std::thread::sleep(Duration::from_millis(200));
    };
    let sizes: u64 = clusters["clusters"]
        .as_array()
        .expect("clusters")
        .iter()
        .map(|c| c["size"].as_u64().unwrap_or_default())
        .sum();
    assert_eq!(
        sizes,
        clusters["trained_on"].as_u64().unwrap_or(0),
        "{clusters}"
    );
    assert!(sizes >= 20, "{clusters}");

    let metrics = metrics(&base);
    assert!(
        metrics.contains("raceway_duration_anomalies_total{severity=\"critical\"}"),
        "{metrics}"
    );

    let (status, body) = get_json(&format!("{base}/api/anomalies?severity=awful"));
    assert_eq!(status, 400);
    assert!(body["error"]
        .as_str()
        .is_some_and(|m| m.contains("severity")));
    assert!(up.terminate().success(), "{}", up.output());
}

/// A checkout at `minute`: `api` handles it, `bank` runs `steps` in order on one thread.
fn checkout(minute: u32, steps: &[&str]) -> (String, Vec<Value>) {
    let trace = uuid::Uuid::new_v4().to_string();
    let root = uuid::Uuid::new_v4().to_string();
    let at = |ms: usize| format!("2024-01-02T12:{minute:02}:00.{ms:03}Z");
    let mut events = vec![function_call(
        &trace,
        (&root, None),
        &at(0),
        ("api", "handle"),
        20,
    )];
    for (i, function) in steps.iter().enumerate() {
        let id = uuid::Uuid::new_v4().to_string();
        events.push(function_call(
            &trace,
            (&id, Some(&root)),
            &at(i + 1),
            ("bank", function),
            1,
        ));
    }
    (trace, events)
}

/// `raceway up` completing traces idle for 300 ms and training the models every second once 20
/// traces are stored.
fn up_training_models(dir: &std::path::Path) -> (Raceway, String) {
    EmbeddedUp::args(
        dir,
        &[
            "--trace-idle-ms",
            "300",
            "--model-min-traces",
            "20",
            "--model-retrain-secs",
            "1",
        ],
    )
    .start()
}

#[test]
fn swapped_steps_are_an_unusual_sequence_via_raceway_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut up, base) = up_training_models(dir.path());
    let normal: Vec<(String, Vec<Value>)> = (0..30)
        .map(|i| checkout(i, &["validate", "debit", "credit", "notify"]))
        .collect();
    post(
        &base,
        &normal
            .iter()
            .flat_map(|(_, e)| e.clone())
            .collect::<Vec<_>>(),
    );
    for (trace, _) in &normal {
        analysed(&up, &base, trace, None);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while get_json(&format!("{base}/api/clusters")).1["model_version"].is_null() {
        assert!(Instant::now() < deadline, "no model: {}", up.output());
        std::thread::sleep(Duration::from_millis(200));
    }

    let (swapped, events) = checkout(40, &["validate", "credit", "debit", "notify"]);
    post(&base, &events);
    let analysis = analysed(&up, &base, &swapped, None);
    let unusual: Vec<&Value> = analysis["anomalies"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|a| a["anomaly_kind"] == "unusual_sequence")
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(unusual.len(), 1, "{analysis}");
    let anomaly = unusual[0];
    assert_eq!(anomaly["service"], "bank");
    assert_eq!(anomaly["location"], "validate");
    assert_eq!(anomaly["transition"]["from"], "FunctionCall:validate");
    assert_eq!(anomaly["transition"]["to"], "FunctionCall:credit");
    assert_eq!(anomaly["event_id"], events[2]["id"], "the early credit");
    assert!(
        anomaly["description"]
            .as_str()
            .is_some_and(|d| d.contains("FunctionCall:validate -> FunctionCall:credit")),
        "{anomaly}"
    );

    let (status, listed) = get_json(&format!("{base}/api/anomalies"));
    assert_eq!(status, 200);
    assert!(
        listed["anomalies"].as_array().is_some_and(|a| a
            .iter()
            .any(|a| a["trace_id"] == swapped.as_str() && a["anomaly_kind"] == "unusual_sequence")),
        "{listed}"
    );
    let metrics = metrics(&base);
    assert!(
        metrics.contains("raceway_sequence_anomalies_total"),
        "{metrics}"
    );
    assert!(up.terminate().success(), "{}", up.output());
}

//! End to end on the real services: gateway, trace stage, race stage and query API as four
//! separate `raceway` processes on one Kafka broker and one ClickHouse server.

mod common;

use std::time::Duration;

use common::setups::KafkaClickHouse;
use common::*;

#[test]
fn fixture_race_is_found_across_separate_processes() {
    let backend = KafkaClickHouse::new("e2e", &clickhouse(), 4);
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = backend.prefix.clone();
    let with = |command: &[&str]| backend.with(command);
    backend.migrate();

    let ingest_addr = free_addr();
    let query_addr = free_addr();
    let trace_metrics = free_addr();
    let race_metrics = free_addr();
    let ingest_args = with(&["ingest", "--http-addr", &ingest_addr]);
    let trace_args = with(&[
        "process",
        "--stage",
        "trace",
        "--metrics-addr",
        &trace_metrics,
    ]);
    let race_args = with(&[
        "process",
        "--stage",
        "race",
        "--metrics-addr",
        &race_metrics,
    ]);
    let query_args = with(&["query", "--http-addr", &query_addr]);

    let mut ingest = Raceway::start(&as_refs(&ingest_args), dir.path());
    let mut trace = Raceway::start(&as_refs(&trace_args), dir.path());
    let mut race = Raceway::start(&as_refs(&race_args), dir.path());
    let mut query = Raceway::start(&as_refs(&query_args), dir.path());
    ingest.wait_http_ok(&format!("http://{ingest_addr}/health"));
    trace.wait_http_ok(&format!("http://{trace_metrics}/health"));
    race.wait_http_ok(&format!("http://{race_metrics}/health"));
    query.wait_http_ok(&format!("http://{query_addr}/health"));

    let answer = post_events(&format!("http://{ingest_addr}"), fixture());
    assert_eq!(answer["accepted"], 3, "{answer}");

    let races = wait_for_races(
        &format!("http://{query_addr}"),
        FIXTURE_TRACE,
        Duration::from_secs(60),
    );
    if races.is_empty() {
        panic!(
            "no race within 60 s.\ningest:\n{}\ntrace:\n{}\nrace:\n{}",
            ingest.output(),
            trace.output(),
            race.output()
        );
    }
    assert_fixture_race(&races);

    // The trace stage stored the trace's analysis in ClickHouse before forwarding its accesses.
    let query_base = format!("http://{query_addr}");
    let analysis: serde_json::Value =
        reqwest::blocking::get(format!("{query_base}/api/traces/{FIXTURE_TRACE}/anomalies"))
            .unwrap()
            .json()
            .unwrap();
    assert_eq!(analysis["event_count"], 3, "{analysis}");
    assert_eq!(analysis["duration_ms"], 17.0, "{analysis}");
    let dependencies: serde_json::Value =
        reqwest::blocking::get(format!("{query_base}/api/dependencies"))
            .unwrap()
            .json()
            .unwrap();
    assert_eq!(
        dependencies["dependencies"].as_array().map(Vec::len),
        Some(0),
        "one service, no edge: {dependencies}"
    );

    let metrics = reqwest::blocking::get(format!("http://{trace_metrics}/metrics"))
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("raceway_traces_completed_total 1"),
        "{metrics}"
    );
    // The trace stage forwarded the race inputs (2 accesses at least) to the accesses topic.
    assert!(
        metrics.contains(&format!(
            "raceway_records_produced_total{{topic=\"{prefix}raceway.accesses\"}}"
        )),
        "{metrics}"
    );

    // Both processors are ready once they hold partitions and are caught up; the lag gauges
    // cover every partition they hold (4 each: one processor per stage). Ready allows some lag,
    // so wait until both are drained before asserting that none is left.
    let bases = [
        format!("http://{trace_metrics}"),
        format!("http://{race_metrics}"),
    ];
    wait_drained(&as_refs(&bases), Some(4), Duration::from_secs(60));
    for metrics_addr in [&trace_metrics, &race_metrics] {
        let ready = wait_until_ready(&format!("http://{metrics_addr}/ready"));
        let stages = ready["stages"].as_object().expect("stages");
        assert_eq!(stages.len(), 1, "{ready}");
        for stage in stages.values() {
            assert_eq!(stage["assigned_partitions"], 4, "{ready}");
            assert_eq!(stage["lag"], 0, "{ready}");
        }
        let metrics = reqwest::blocking::get(format!("http://{metrics_addr}/metrics"))
            .and_then(|r| r.text())
            .expect("metrics");
        let lag_lines = metrics
            .lines()
            .filter(|l| l.starts_with("raceway_consumer_lag{"))
            .count();
        assert_eq!(lag_lines, 4, "{metrics}");
        assert!(metrics.contains("raceway_batch_processing_seconds_bucket"));
    }

    for process in [&mut ingest, &mut trace, &mut race, &mut query] {
        assert!(process.terminate().success(), "{}", process.output());
    }
}

/// Polls a `/ready` URL until it answers 200; returns its JSON body.
fn wait_until_ready(url: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let response = reqwest::blocking::get(url).expect("GET /ready");
        let status = response.status();
        let body: serde_json::Value = response.json().expect("JSON");
        if status == 200 {
            assert_eq!(body["ready"], true, "{body}");
            return body;
        }
        assert_eq!(status, 503, "{body}");
        assert!(std::time::Instant::now() < deadline, "never ready: {body}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

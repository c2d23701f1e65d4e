//! The labeled race scenarios of `tests/scenarios/`, all at once, through the real pipeline:
//! `raceway up` on the embedded default, and `raceway up` on Kafka + ClickHouse. Every scenario
//! is sent three times (file order, then two shuffles), each copy with fresh trace and event ids
//! in an environment of its own, so one run checks every scenario in several arrival orders.
//! Any false alarm or miss fails the test; precision and recall are printed.

mod common;

use std::time::Duration;

use common::scenario_run::*;
use common::setups::{EmbeddedUp, KafkaClickHouse};
use common::*;
use raceway_analysis::scenarios::namespaced_copy;
use raceway_schemas::Event;
use serde_json::Value;

/// Copy 0 in file order, copies 1 and 2 shuffled with these seeds.
const SHUFFLE_SEEDS: [Option<u64>; 3] = [None, Some(0x5eed_0001), Some(0x5eed_0002)];

/// Sends every copy of every scenario to `base` (one `raceway up`) and checks what the query
/// API reports once the pipeline is drained.
fn run_all_scenarios(base: &str, backend: &str) {
    let workload = Workload::of(&load_scenarios(), &SHUFFLE_SEEDS);
    post_all(base, &workload.events);
    let findings = drained_findings(base, &[base], None, Duration::from_secs(240));
    workload.assert_exact(backend, &findings);
}

/// `raceway up` on a data folder of its own, with a short trace idle timeout.
fn embedded_up(dir: &std::path::Path, idle_ms: &str) -> (Raceway, String) {
    EmbeddedUp::args(dir, &["--trace-idle-ms", idle_ms]).start()
}

#[test]
fn every_scenario_on_the_embedded_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_up, base) = embedded_up(dir.path(), "500");
    run_all_scenarios(&base, "embedded");
}

/// `raceway up` on Kafka + ClickHouse (topics and database of its own, dropped with the
/// returned backend), with a short trace idle timeout.
fn kafka_clickhouse_up(
    label: &str,
    partitions: u32,
    dir: &std::path::Path,
    idle_ms: &str,
) -> (KafkaClickHouse, Raceway, String) {
    let backend = KafkaClickHouse::new(label, &clickhouse(), partitions);
    let addr = free_addr();
    let mut up = backend.start(
        &["up", "--http-addr", &addr, "--trace-idle-ms", idle_ms],
        dir,
    );
    let base = format!("http://{addr}");
    up.wait_http_ok(&format!("{base}/health"));
    (backend, up, base)
}

#[test]
fn every_scenario_on_kafka_and_clickhouse() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_backend, _up, base) = kafka_clickhouse_up("scenarios", 4, dir.path(), "500");
    run_all_scenarios(&base, "kafka+clickhouse");
}

/// A late event re-opens a trace and the re-analysis replaces its findings: without its two
/// atomic events, scenario 032's trace has a race on `data`; once they arrive, the race is
/// retracted (the message-passing pattern orders the accesses).
#[test]
fn late_events_replace_the_findings_of_a_trace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_up, base) = embedded_up(dir.path(), "300");

    let scenario = load_scenarios()
        .into_iter()
        .find(|s| s.name == "032-seqcst-default-derived-no")
        .expect("scenario 032");
    let events = namespaced_copy(&scenario, 0, None);
    let trace = events[0].trace_id.to_string();
    let is_atomic = |e: &Event| e.state_change().is_some_and(|c| c.variable == "ready");
    let (late, early): (Vec<Event>, Vec<Event>) = events.into_iter().partition(is_atomic);
    assert_eq!(late.len(), 2);

    let races_of_trace = || -> Value {
        reqwest::blocking::get(format!("{base}/api/traces/{trace}/races"))
            .and_then(|r| r.json())
            .expect("races")
    };
    post_all(&base, &early);
    wait_drained(&[&base], None, Duration::from_secs(30));
    let listed = races_of_trace();
    let races = listed["races"].as_array().expect("races");
    assert_eq!(races.len(), 1, "the partial trace races on data: {races:?}");
    assert_eq!(races[0]["variable"], "data");

    post_all(&base, &late);
    wait_drained(&[&base], None, Duration::from_secs(30));
    let listed = races_of_trace();
    assert!(
        listed["races"].as_array().is_some_and(Vec::is_empty),
        "the race was not retracted: {listed}"
    );
    let all = all_findings(&base);
    assert!(all.is_empty(), "global listing still has {all:?}");
}

/// The other direction: a late event re-opens a trace and its re-analysis finds what the partial
/// trace could not show. Without bob's write, scenario 057 has only the read-write race of bob's
/// read with alice's write; once the write arrives, its write-write race and the lost update
/// (alice's read-modify-write overwritten) are found from inputs sent twice.
fn late_event_reveals_a_lost_update(base: &str) {
    let scenario = load_scenarios()
        .into_iter()
        .find(|s| s.name == "057-lost-update-trusted-yes")
        .expect("scenario 057");
    let mut early = namespaced_copy(&scenario, 0, None);
    let late = vec![early.pop().expect("bob's write is the last event")];
    assert!(late[0]
        .state_change()
        .is_some_and(|c| c.variable == "balance"));

    let trace = early[0].trace_id.to_string();
    let findings_of_trace = || -> Vec<(String, Vec<String>)> {
        let listed: Value = reqwest::blocking::get(format!("{base}/api/traces/{trace}/races"))
            .and_then(|r| r.json())
            .expect("races");
        let mut found: Vec<(String, Vec<String>)> = listed["races"]
            .as_array()
            .expect("races")
            .iter()
            .map(|race| {
                let mut locations = [&race["first"], &race["second"]]
                    .map(|side| side["location"].as_str().unwrap_or_default().to_string())
                    .to_vec();
                locations.sort();
                (
                    race["kind"].as_str().unwrap_or_default().to_string(),
                    locations,
                )
            })
            .collect();
        found.sort();
        found
    };
    let pair = |kind: &str, a: &str, b: &str| (kind.to_string(), vec![a.into(), b.into()]);

    // Drained should mean every finding is written; the findings are still waited for, up to
    // 10 s after it (at once when they are there), because this test once saw the drained
    // signal before the first finding on Kafka + ClickHouse, not reproduced since.
    let within = Duration::from_secs(10);

    post_all(base, &early);
    wait_drained(&[base], None, Duration::from_secs(30));
    wait_for_race_count(base, &trace, 1, within);
    assert_eq!(
        findings_of_trace(),
        vec![pair("data_race", "bank.py:10", "bank.py:12")],
        "the partial trace"
    );

    post_all(base, &late);
    wait_drained(&[base], None, Duration::from_secs(30));
    wait_for_race_count(base, &trace, 3, within);
    assert_eq!(
        findings_of_trace(),
        vec![
            pair("data_race", "bank.py:10", "bank.py:12"),
            pair("data_race", "bank.py:12", "bank.py:12"),
            pair("lost_update", "bank.py:12", "bank.py:12"),
        ],
        "the whole trace"
    );
}

#[test]
fn late_events_can_reveal_a_lost_update_embedded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_up, base) = embedded_up(dir.path(), "300");
    late_event_reveals_a_lost_update(&base);
}

/// The same on Kafka + ClickHouse, where the re-opened trace is read back from ClickHouse.
#[test]
fn late_events_can_reveal_a_lost_update_on_kafka_and_clickhouse() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_backend, _up, base) = kafka_clickhouse_up("late", 2, dir.path(), "300");
    late_event_reveals_a_lost_update(&base);
}

//! The labeled race scenarios of `tests/scenarios/`, all at once, through the real pipeline:
//! `raceway up` on the embedded default, and `raceway up` on Kafka + ClickHouse. Every scenario
//! is sent three times (file order, then two shuffles), each copy with fresh trace and event ids
//! in an environment of its own, so one run checks every scenario in several arrival orders.
//! Any false alarm or miss fails the test; precision and recall are printed.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::*;
use raceway_analysis::scenarios::{
    expectations, namespaced_copy, parse_scenario, score, ExpectedFinding, Scenario,
};
use raceway_schemas::json::encode_event;
use raceway_schemas::{Event, RaceFinding};
use serde_json::{json, Value};

/// Copy 0 in file order, copies 1 and 2 shuffled with these seeds.
const SHUFFLE_SEEDS: [Option<u64>; 3] = [None, Some(0x5eed_0001), Some(0x5eed_0002)];
/// Events per POST.
const CHUNK: usize = 1000;

fn load_scenarios() -> Vec<Scenario> {
    let dir = repo_path("tests/scenarios");
    let mut scenarios: Vec<Scenario> = std::fs::read_dir(&dir)
        .expect("tests/scenarios")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let name = path
                .file_stem()
                .expect("name")
                .to_string_lossy()
                .to_string();
            parse_scenario(&name, &std::fs::read(&path).expect("read")).expect("scenario")
        })
        .collect();
    scenarios.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(scenarios.len() >= 60, "only {} scenarios", scenarios.len());
    scenarios
}

/// All copies of all scenarios, and the expectations keyed by environment.
fn workload(scenarios: &[Scenario]) -> (Vec<Event>, BTreeSet<(String, ExpectedFinding)>) {
    let mut events = Vec::new();
    let mut expected = BTreeSet::new();
    for (copy, seed) in SHUFFLE_SEEDS.iter().enumerate() {
        let copy = copy as u32;
        for scenario in scenarios {
            events.extend(namespaced_copy(scenario, copy, *seed));
        }
        expected.extend(expectations(scenarios, copy));
    }
    (events, expected)
}

fn post_all(base: &str, events: &[Event]) {
    for chunk in events.chunks(CHUNK) {
        let body = json!({ "events": chunk.iter().map(encode_event).collect::<Vec<_>>() });
        let answer = post_events(base, serde_json::to_vec(&body).expect("json"));
        assert_eq!(
            answer["accepted"].as_u64(),
            Some(chunk.len() as u64),
            "{answer}"
        );
    }
}

/// Sum of the samples of one Prometheus metric (all label sets) in a /metrics text.
fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Every finding the query API lists, page by page.
fn all_findings(base: &str) -> Vec<RaceFinding> {
    let mut findings = Vec::new();
    loop {
        let url = format!("{base}/api/races?limit=1000&offset={}", findings.len());
        let page: Value = reqwest::blocking::get(&url)
            .and_then(|r| r.json())
            .expect("GET /api/races");
        let races = page["races"].as_array().cloned().unwrap_or_default();
        if races.is_empty() {
            return findings;
        }
        for race in races {
            findings.push(serde_json::from_value(race).expect("a finding"));
        }
    }
}

/// Waits until every trace completed and the race stage consumed every input the trace stage
/// forwarded, and the findings no longer change; returns them.
fn settled_findings(base: &str, traces: usize) -> Vec<RaceFinding> {
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut previous: Option<BTreeMap<String, u64>> = None;
    loop {
        assert!(Instant::now() < deadline, "the pipeline did not settle");
        std::thread::sleep(Duration::from_millis(1000));
        let Ok(metrics) = reqwest::blocking::get(format!("{base}/metrics")).and_then(|r| r.text())
        else {
            continue;
        };
        let completed = metric_sum(&metrics, "raceway_traces_completed_total");
        let forwarded = metric_sum(&metrics, "raceway_accesses_forwarded_total");
        let consumed_inputs = metrics
            .lines()
            .filter(|l| l.starts_with("raceway_records_consumed_total{") && l.contains("accesses"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>();
        if completed < traces as f64 || consumed_inputs < forwarded {
            previous = None;
            continue;
        }
        let findings = all_findings(base);
        let now: BTreeMap<String, u64> = findings.iter().map(|f| (f.id.clone(), f.count)).collect();
        if previous.as_ref() == Some(&now) {
            return findings;
        }
        previous = Some(now);
    }
}

/// Sends every copy of every scenario to `base` and scores what the query API reports.
fn run_all_scenarios(base: &str, backend: &str) {
    let scenarios = load_scenarios();
    let (events, expected) = workload(&scenarios);
    let traces: BTreeSet<_> = events.iter().map(|e| e.trace_id).collect();
    post_all(base, &events);
    let findings = settled_findings(base, traces.len());
    let result = score(&expected, &findings);
    println!(
        "{backend}: {} scenarios x {} copies, {} events, {} traces: precision {:.3}, recall {:.3} \
         ({} true positives, {} false alarms, {} misses)",
        scenarios.len(),
        SHUFFLE_SEEDS.len(),
        events.len(),
        traces.len(),
        result.precision(),
        result.recall(),
        result.true_positives,
        result.false_positives,
        result.false_negatives
    );
    assert!(
        result.mismatches.is_empty(),
        "{backend}: {} mismatches:\n{}",
        result.mismatches.len(),
        result.mismatches.join("\n")
    );
    assert_eq!(result.true_positives, expected.len());
}

#[test]
fn every_scenario_on_the_embedded_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = free_addr();
    let data_dir = dir.path().join("data").to_string_lossy().to_string();
    let args = [
        "up",
        "--http-addr",
        &addr,
        "--data-dir",
        &data_dir,
        "--trace-idle-ms",
        "500",
    ];
    let mut up = Raceway::start(&args, dir.path());
    let base = format!("http://{addr}");
    up.wait_http_ok(&format!("{base}/health"));
    run_all_scenarios(&base, "embedded");
}

#[test]
fn every_scenario_on_kafka_and_clickhouse() {
    let kafka = kafka();
    let clickhouse = clickhouse();
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = free_addr();
    let prefix = format!("{}-", unique_name("scenarios"));
    let database = unique_name("raceway_scenarios");
    let args = [
        "up",
        "--http-addr",
        &addr,
        "--kafka",
        &kafka,
        "--clickhouse",
        &clickhouse,
        "--database",
        &database,
        "--topic-prefix",
        &prefix,
        "--partitions",
        "4",
        "--trace-idle-ms",
        "500",
    ];
    let mut up = Raceway::start(&args, dir.path());
    let base = format!("http://{addr}");
    up.wait_http_ok(&format!("{base}/health"));
    run_all_scenarios(&base, "kafka+clickhouse");
}

/// A late event re-opens a trace and the re-analysis replaces its findings: without its two
/// atomic events, scenario 032's trace has a race on `data`; once they arrive, the race is
/// retracted (the message-passing pattern orders the accesses).
#[test]
fn late_events_replace_the_findings_of_a_trace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = free_addr();
    let data_dir = dir.path().join("data").to_string_lossy().to_string();
    let args = [
        "up",
        "--http-addr",
        &addr,
        "--data-dir",
        &data_dir,
        "--trace-idle-ms",
        "300",
    ];
    let mut up = Raceway::start(&args, dir.path());
    let base = format!("http://{addr}");
    up.wait_http_ok(&format!("{base}/health"));

    let scenario = load_scenarios()
        .into_iter()
        .find(|s| s.name == "032-seqcst-default-derived-no")
        .expect("scenario 032");
    let events = namespaced_copy(&scenario, 0, None);
    let trace = events[0].trace_id.to_string();
    let is_atomic = |e: &Event| e.state_change().is_some_and(|c| c.variable == "ready");
    let (late, early): (Vec<Event>, Vec<Event>) = events.into_iter().partition(is_atomic);
    assert_eq!(late.len(), 2);

    post_all(&base, &early);
    let races = wait_for_races(&base, &trace, Duration::from_secs(30));
    assert_eq!(races.len(), 1, "the partial trace races on data: {races:?}");
    assert_eq!(races[0]["variable"], "data");

    post_all(&base, &late);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listed: Value = reqwest::blocking::get(format!("{base}/api/traces/{trace}/races"))
            .and_then(|r| r.json())
            .expect("races");
        if listed["races"].as_array().is_some_and(Vec::is_empty) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the race was not retracted: {listed}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let all = all_findings(&base);
    assert!(all.is_empty(), "global listing still has {all:?}");
}

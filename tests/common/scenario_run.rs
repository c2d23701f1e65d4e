//! Sending the labeled scenarios of `tests/scenarios/` through a running Raceway and reading
//! back what it reports: shared by the bulk scenario test and the fault tests, which use the
//! scenarios as a workload whose right answer is known.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use raceway_analysis::scenarios::{
    expectations, namespaced_copy, parse_scenario, score, ExpectedFinding, Scenario, Score,
};
use raceway_schemas::json::encode_event;
use raceway_schemas::{Event, RaceFinding};
use serde_json::{json, Value};

use super::{post_events, repo_path, wait_drained};

/// Events per POST.
pub const CHUNK: usize = 1000;

/// Every scenario file, sorted by name.
pub fn load_scenarios() -> Vec<Scenario> {
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

/// The scenarios sent as a workload: one copy per seed (`None` keeps file order), each with
/// fresh ids in environments of its own, and the findings they must give.
pub struct Workload {
    pub events: Vec<Event>,
    pub expected: BTreeSet<(String, ExpectedFinding)>,
    pub traces: usize,
}

impl Workload {
    /// Copies of every scenario, shuffled with `seeds`.
    pub fn of(scenarios: &[Scenario], seeds: &[Option<u64>]) -> Workload {
        let mut events = Vec::new();
        let mut expected = BTreeSet::new();
        for (copy, seed) in seeds.iter().enumerate() {
            let copy = copy as u32;
            for scenario in scenarios {
                events.extend(namespaced_copy(scenario, copy, *seed));
            }
            expected.extend(expectations(scenarios, copy));
        }
        let traces = events
            .iter()
            .map(|e| e.trace_id)
            .collect::<BTreeSet<_>>()
            .len();
        Workload {
            events,
            expected,
            traces,
        }
    }

    /// The workload cut in POST-sized chunks.
    pub fn chunks(&self) -> Vec<&[Event]> {
        self.events.chunks(CHUNK).collect()
    }

    /// Scores `findings` against the expectations, printing precision and recall.
    pub fn score(&self, label: &str, findings: &[RaceFinding]) -> Score {
        let result = score(&self.expected, findings);
        println!(
            "{label}: {} events, {} traces: precision {:.3}, recall {:.3} ({} true positives, \
             {} false alarms, {} misses)",
            self.events.len(),
            self.traces,
            result.precision(),
            result.recall(),
            result.true_positives,
            result.false_positives,
            result.false_negatives
        );
        result
    }

    /// Asserts that `findings` are exactly the expected ones.
    pub fn assert_exact(&self, label: &str, findings: &[RaceFinding]) {
        let result = self.score(label, findings);
        assert!(
            result.mismatches.is_empty(),
            "{label}: {} mismatches:\n{}",
            result.mismatches.len(),
            result.mismatches.join("\n")
        );
        assert_eq!(result.true_positives, self.expected.len());
    }
}

/// The JSON body of `POST /events` for `events`.
pub fn events_body(events: &[Event]) -> Vec<u8> {
    let body = json!({ "events": events.iter().map(encode_event).collect::<Vec<_>>() });
    serde_json::to_vec(&body).expect("json")
}

/// POSTs `events` in chunks; every event must be accepted.
pub fn post_all(base: &str, events: &[Event]) {
    for chunk in events.chunks(CHUNK) {
        let answer = post_events(base, events_body(chunk));
        assert_eq!(
            answer["accepted"].as_u64(),
            Some(chunk.len() as u64),
            "{answer}"
        );
    }
}

/// Every finding the query API at `base` lists, page by page.
pub fn all_findings(base: &str) -> Vec<RaceFinding> {
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

/// Sum of the samples of one Prometheus metric (all label sets) in a /metrics text whose labels
/// contain `label_part` (empty: all).
pub fn metric_sum(text: &str, name: &str, label_part: &str) -> f64 {
    text.lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
                && line.contains(label_part)
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Waits until the processors at `ready_bases` are drained (see [`wait_drained`]), then returns
/// every finding listed at `query_base`. Drained means every record sent before the call is
/// processed, so the findings are final: a false alarm that arrives late is among them.
pub fn drained_findings(
    query_base: &str,
    ready_bases: &[&str],
    partitions: Option<u64>,
    within: Duration,
) -> Vec<RaceFinding> {
    wait_drained(ready_bases, partitions, within);
    all_findings(query_base)
}

/// Finding id -> count, to compare two runs.
pub fn counts(findings: &[RaceFinding]) -> BTreeMap<String, u64> {
    findings.iter().map(|f| (f.id.clone(), f.count)).collect()
}

//! Test support for the labeled race scenarios of `tests/scenarios/` (feature `scenarios`):
//! parsing, namespaced and shuffled copies, the pure reference pipeline and scoring. The
//! end-to-end runs (embedded, Kafka + ClickHouse) reuse everything but [`pure_findings`]: they
//! send [`namespaced_copy`] events through the real services and [`score`] what the store holds.
//!
//! A scenario file is `{"description": "...", "events": [Event, ...], "expected": [{"kind",
//! "variable", "locations": [a, b]}]}` in the Raceway JSON format; `expected` lists every distinct
//! (kind, variable, location pair) the scenario must report, and nothing else may be reported.
//! Pure functions only: callers read the files.

use std::collections::{BTreeMap, BTreeSet};

use raceway_schemas::json::{decode_event, FieldError};
use raceway_schemas::{Event, FindingKind, RaceFinding};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde_json::Value;
use thiserror::Error;
use uuid::Uuid;

use crate::{race_inputs, FindingAggregator, LockOrderDetector, RaceConfig, RaceDetector};

/// Namespace of the fresh ids of copies (UUID v5 of the original id and the copy number).
const COPY_NAMESPACE: Uuid = Uuid::from_u128(0x4b1d_2c3e_5f60_4718_9a2b_3c4d_5e6f_7081);

/// One finding a scenario must report, identified as the scenario files do.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExpectedFinding {
    /// `data_race`, `lost_update` or `lock_order_inversion`.
    pub kind: FindingKind,
    /// The variable (`"A <-> B"` for lock-order inversions).
    pub variable: String,
    /// The two locations, sorted.
    pub locations: [String; 2],
}

impl ExpectedFinding {
    /// The expectation a finding satisfies.
    pub fn of(finding: &RaceFinding) -> Self {
        let mut locations = [
            finding.first.location.clone(),
            finding.second.location.clone(),
        ];
        locations.sort();
        ExpectedFinding {
            kind: finding.kind,
            variable: finding.variable.clone(),
            locations,
        }
    }
}

/// A parsed scenario file.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The file name without `.json`, e.g. `001-write-write-trusted-yes`.
    pub name: String,
    /// What the scenario shows.
    pub description: String,
    /// Its events, in file order.
    pub events: Vec<Event>,
    /// What it must report (empty for a race-free scenario).
    pub expected: BTreeSet<ExpectedFinding>,
}

impl Scenario {
    /// True for a racy (`-yes`) scenario.
    pub fn is_racy(&self) -> bool {
        !self.expected.is_empty()
    }
}

/// Why a scenario file could not be used.
#[derive(Debug, Error)]
pub enum ScenarioError {
    /// Not JSON of the scenario shape.
    #[error("scenario {name}: {reason}")]
    Shape {
        /// The scenario.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// An event does not decode.
    #[error("scenario {name}: event {index}: {source}")]
    Event {
        /// The scenario.
        name: String,
        /// Position of the event in `events`.
        index: usize,
        /// The decoder's error.
        #[source]
        source: FieldError,
    },
}

/// Parses one scenario file's contents.
pub fn parse_scenario(name: &str, json: &[u8]) -> Result<Scenario, ScenarioError> {
    let shape = |reason: String| ScenarioError::Shape {
        name: name.to_string(),
        reason,
    };
    let value: Value = serde_json::from_slice(json).map_err(|e| shape(e.to_string()))?;
    let events = value["events"]
        .as_array()
        .ok_or_else(|| shape("no \"events\" array".into()))?
        .iter()
        .enumerate()
        .map(|(index, e)| {
            decode_event(e).map_err(|source| ScenarioError::Event {
                name: name.to_string(),
                index,
                source,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let expected = value["expected"]
        .as_array()
        .ok_or_else(|| shape("no \"expected\" array".into()))?
        .iter()
        .map(|item| {
            let kind = item["kind"]
                .as_str()
                .and_then(FindingKind::parse)
                .ok_or_else(|| shape(format!("bad kind in {item}")))?;
            let variable = item["variable"]
                .as_str()
                .ok_or_else(|| shape(format!("bad variable in {item}")))?;
            let mut locations = match item["locations"].as_array().map(Vec::as_slice) {
                Some([Value::String(a), Value::String(b)]) => [a.clone(), b.clone()],
                _ => return Err(shape(format!("bad locations in {item}"))),
            };
            locations.sort();
            Ok(ExpectedFinding {
                kind,
                variable: variable.to_string(),
                locations,
            })
        })
        .collect::<Result<BTreeSet<_>, _>>()?;
    Ok(Scenario {
        name: name.to_string(),
        description: value["description"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        events,
        expected,
    })
}

/// The environment of copy `copy` of scenario `name`: copies and scenarios never share a
/// variable or a lock, so any number of them run through one detector without meeting.
pub fn environment_of(copy: u32, name: &str) -> String {
    format!("copy-{copy}/{name}")
}

/// Copy `copy` of a scenario's events: fresh event and trace ids (parent links follow), the
/// environment of [`environment_of`], and, when `seed` is given, shuffled order.
pub fn namespaced_copy(scenario: &Scenario, copy: u32, seed: Option<u64>) -> Vec<Event> {
    let fresh = |id: Uuid| Uuid::new_v5(&COPY_NAMESPACE, format!("{id}/{copy}").as_bytes());
    let environment = environment_of(copy, &scenario.name);
    let mut events: Vec<Event> = scenario
        .events
        .iter()
        .map(|event| {
            let mut event = event.clone();
            event.id = fresh(event.id);
            event.trace_id = fresh(event.trace_id);
            event.parent_id = event.parent_id.map(fresh);
            event.metadata.environment.clone_from(&environment);
            event
        })
        .collect();
    if let Some(seed) = seed {
        shuffle(&mut events, seed);
    }
    events
}

/// Shuffles `items` deterministically from `seed`, so that a failing order can be replayed.
pub fn shuffle<T>(items: &mut [T], seed: u64) {
    items.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(seed));
}

/// The reference pipeline, as the trace and race stages chain it but in one process: events
/// grouped by trace, [`race_inputs`] per trace, every access, span and edge fed to one
/// [`RaceDetector`] and one [`LockOrderDetector`] (in shuffled order when `seed` is given), pairs
/// aggregated. Returns the findings sorted by id.
pub fn pure_findings(events: &[Event], config: &RaceConfig, seed: Option<u64>) -> Vec<RaceFinding> {
    enum Input {
        Access(raceway_schemas::Access),
        Update(raceway_schemas::UpdateSpan),
        Edge(raceway_schemas::LockOrderEdge),
    }
    let mut traces: BTreeMap<Uuid, Vec<Event>> = BTreeMap::new();
    for event in events {
        traces
            .entry(event.trace_id)
            .or_default()
            .push(event.clone());
    }
    let mut inputs = Vec::new();
    for trace in traces.values() {
        let found = race_inputs(trace);
        inputs.extend(found.accesses.into_iter().map(Input::Access));
        inputs.extend(found.updates.into_iter().map(Input::Update));
        inputs.extend(found.lock_edges.into_iter().map(Input::Edge));
    }
    if let Some(seed) = seed {
        shuffle(&mut inputs, seed);
    }
    let mut races = RaceDetector::new(config.clone());
    let mut locks = LockOrderDetector::new(config.clone());
    let mut aggregator = FindingAggregator::default();
    for input in inputs {
        match input {
            Input::Access(access) => {
                for pair in races.observe(access).pairs {
                    aggregator.record(&pair, 0);
                }
            }
            Input::Update(span) => {
                for pair in races.observe_update(span).pairs {
                    aggregator.record(&pair, 0);
                }
            }
            Input::Edge(edge) => {
                for pair in locks.observe(edge) {
                    aggregator.record_inversion(&pair, 0);
                }
            }
        }
    }
    let mut findings: Vec<RaceFinding> = aggregator.findings().cloned().collect();
    findings.sort_by(|a, b| a.id.cmp(&b.id));
    findings
}

/// How reported findings compare with the labels.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Score {
    /// Expected and reported.
    pub true_positives: usize,
    /// Reported, not expected: false alarms.
    pub false_positives: usize,
    /// Expected, not reported: misses.
    pub false_negatives: usize,
    /// One line per false alarm or miss, with its environment.
    pub mismatches: Vec<String>,
}

impl Score {
    /// Precision: true positives over everything reported (1.0 when nothing was reported).
    pub fn precision(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }

    /// Recall: true positives over everything expected (1.0 when nothing was expected).
    pub fn recall(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        1.0
    } else {
        part as f64 / whole as f64
    }
}

/// Compares findings with expectations, both keyed by environment (see [`environment_of`]).
/// Several findings with the same (kind, variable, locations) in one environment (e.g. for
/// different trace pairs) count once.
pub fn score<'a>(
    expected: &BTreeSet<(String, ExpectedFinding)>,
    found: impl IntoIterator<Item = &'a RaceFinding>,
) -> Score {
    let found: BTreeSet<(String, ExpectedFinding)> = found
        .into_iter()
        .map(|f| (f.environment.clone(), ExpectedFinding::of(f)))
        .collect();
    let mut score = Score {
        true_positives: expected.intersection(&found).count(),
        ..Score::default()
    };
    for (environment, finding) in found.difference(expected) {
        score.false_positives += 1;
        score
            .mismatches
            .push(format!("false alarm in {environment}: {finding:?}"));
    }
    for (environment, finding) in expected.difference(&found) {
        score.false_negatives += 1;
        score
            .mismatches
            .push(format!("missed in {environment}: {finding:?}"));
    }
    score
}

/// The expectations of copy `copy` of `scenarios`, keyed for [`score`].
pub fn expectations(scenarios: &[Scenario], copy: u32) -> BTreeSet<(String, ExpectedFinding)> {
    scenarios
        .iter()
        .flat_map(|s| {
            let environment = environment_of(copy, &s.name);
            s.expected
                .iter()
                .map(move |e| (environment.clone(), e.clone()))
        })
        .collect()
}

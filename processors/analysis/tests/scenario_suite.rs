//! The labeled scenario suite of tests/scenarios/ (repository root) through the pure pipeline:
//! events -> race_inputs -> detectors -> findings, all scenarios in one pass, then shuffled
//! copies. Any false alarm or miss fails; precision and recall are printed.

use std::collections::BTreeSet;
use std::path::PathBuf;

use raceway_analysis::scenarios::{
    expectations, namespaced_copy, parse_scenario, pure_findings, score, Scenario,
};
use raceway_analysis::RaceConfig;

fn scenario_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/scenarios")
}

fn load_all() -> Vec<Scenario> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(scenario_dir())
        .expect("tests/scenarios exists")
        .map(|entry| entry.expect("readable directory").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            let bytes = std::fs::read(path).unwrap();
            parse_scenario(&name, &bytes).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

/// Runs copies `copies` of every scenario through one pipeline pass and checks the result.
fn run(scenarios: &[Scenario], copies: &[u32], shuffled: bool, what: &str) {
    let mut events = Vec::new();
    let mut expected = BTreeSet::new();
    for &copy in copies {
        for (i, scenario) in scenarios.iter().enumerate() {
            let seed = shuffled.then_some(u64::from(copy) * 1_000 + i as u64);
            events.extend(namespaced_copy(scenario, copy, seed));
        }
        expected.extend(expectations(scenarios, copy));
    }
    let seed = shuffled.then_some(0x5eed_u64 + u64::from(copies[0]));
    let findings = pure_findings(&events, &RaceConfig::default(), seed);
    let result = score(&expected, &findings);
    println!(
        "{what}: {} scenarios x {} copies, {} events: precision {:.3}, recall {:.3} ({} true, {} \
         false alarms, {} misses)",
        scenarios.len(),
        copies.len(),
        events.len(),
        result.precision(),
        result.recall(),
        result.true_positives,
        result.false_positives,
        result.false_negatives
    );
    assert!(
        result.mismatches.is_empty(),
        "{what}:\n{}",
        result.mismatches.join("\n")
    );
}

#[test]
fn every_scenario_gives_exactly_its_expected_findings_in_any_order() {
    let scenarios = load_all();
    let racy = scenarios.iter().filter(|s| s.is_racy()).count();
    let free = scenarios.len() - racy;
    println!(
        "{} scenarios: {racy} racy, {free} race-free",
        scenarios.len()
    );
    assert!(scenarios.len() >= 60, "at least 60 scenarios");
    assert!(free * 2 >= scenarios.len(), "at least half race-free");
    for scenario in &scenarios {
        assert_eq!(
            scenario.name.ends_with("-yes"),
            scenario.is_racy(),
            "{}: -yes files expect findings, -no files none",
            scenario.name
        );
    }
    run(&scenarios, &[0], false, "file order");
    run(&scenarios, &[1, 2, 3], true, "shuffled copies");
}

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

#[test]
fn arrival_order_changes_no_finding_at_all() {
    // Beyond the verdicts: ids, representatives, explanations and clocks are the same whatever
    // the order events reach the trace stage and inputs reach the race stage.
    let scenarios = load_all();
    let copy = |seed: u64| {
        let events: Vec<_> = scenarios
            .iter()
            .flat_map(|s| namespaced_copy(s, 9, Some(seed)))
            .collect();
        pure_findings(&events, &RaceConfig::default(), Some(seed))
    };
    let reference = copy(1);
    assert!(!reference.is_empty());
    for seed in 2..6 {
        assert_eq!(copy(seed), reference, "seed {seed}");
    }
}

#[test]
fn findings_explain_themselves_and_have_stable_ids() {
    let scenarios = load_all();
    let by_name = |name: &str| {
        scenarios
            .iter()
            .find(|s| s.name.contains(name))
            .unwrap_or_else(|| panic!("no scenario {name}"))
    };
    let config = RaceConfig::default();
    let lost = pure_findings(
        &by_name("lost-update-locked-separately-derived-yes").events,
        &config,
        None,
    );
    assert_eq!(lost.len(), 1, "{lost:#?}");
    assert!(
        lost[0]
            .explanation
            .contains("read balance (100) at bank.py:10 and wrote it at bank.py:12")
            && lost[0]
                .explanation
                .ends_with("final balance 150; applying both updates gives 200: 50 lost"),
        "{}",
        lost[0].explanation
    );
    let inversion = pure_findings(&by_name("lock-order-trusted-yes").events, &config, None);
    assert_eq!(inversion.len(), 1, "{inversion:#?}");
    assert_eq!(inversion[0].variable, "a <-> b");
    assert!(inversion[0].explanation.contains("deadlock"));
    assert_eq!(inversion[0].first.access_type, "LockAcquire");
    assert!(!inversion[0].first.clock.is_empty());
    assert!(!inversion[0].explanation.contains("assumed"));
    let [assumed] = &pure_findings(
        &by_name("unknown-lock-type-derived-yes").events,
        &config,
        None,
    )[..] else {
        panic!("one finding expected")
    };
    let explanation = &assumed.explanation;
    let expected = "lock types not known, assumed exclusive: a (\"Latch\"), b (\"Latch\")";
    assert!(explanation.ends_with(expected), "{explanation}");
    // Same events in another order: the same findings, ids included.
    let mut shuffled = by_name("lost-update-trusted-yes").events.clone();
    let reference = pure_findings(&shuffled, &config, None);
    raceway_analysis::scenarios::shuffle(&mut shuffled, 7);
    assert_eq!(pure_findings(&shuffled, &config, Some(3)), reference);
}

use std::collections::BTreeMap;
use std::sync::Arc;

use raceway_schemas::{Access, AccessType, FindingKind, LockMode, Severity};

use super::*;
use crate::testing::{access, held, id};

fn write_at(n: u128, thread: &str, ts: i64, location: &str) -> Access {
    let mut a = access(n, thread, ts, AccessType::Write, &[(thread, 1)]);
    a.location = location.into();
    a
}

fn pair(a: &Access, b: &Access) -> RacePair {
    RacePair::new(
        Arc::new(a.clone()),
        Arc::new(b.clone()),
        FindingKind::DataRace,
    )
}

#[test]
fn new_finding_describes_the_pair() {
    let w1 = write_at(1, "worker-1", 10, "balance.rs:12");
    let w2 = write_at(2, "worker-2", 20, "balance.rs:45");
    let mut aggregator = FindingAggregator::default();
    let finding = aggregator.record(&pair(&w2, &w1), 99).unwrap();
    assert_eq!(finding.kind, FindingKind::DataRace);
    assert_eq!(finding.severity, Severity::Critical);
    assert_eq!(finding.count, 1);
    assert_eq!(finding.environment, "test");
    assert_eq!(finding.variable, "balance");
    assert_eq!(finding.detected_at_ns, 99);
    assert_eq!(
        finding.explanation,
        "worker-2 wrote balance at balance.rs:45 while worker-1's write at balance.rs:12 was not \
         ordered before it; no common lock"
    );
    assert_eq!(finding.first.event_id, id(1).to_string());
    assert_eq!(finding.first.thread_id, "worker-1");
    assert_eq!(finding.first.service, "web");
    assert_eq!(finding.first.access_type, "Write");
    assert_eq!(finding.first.clock, vec![("worker-1".to_string(), 1)]);
    assert_eq!(finding.second.location, "balance.rs:45");
    assert_eq!(finding.id, finding_id(&pair(&w1, &w2)).to_string());
    assert_eq!(aggregator.len(), 1);
    assert_eq!(aggregator.get(finding_id(&pair(&w1, &w2))), Some(&finding));
}

#[test]
fn redelivered_pair_changes_nothing() {
    let (a, b) = (write_at(1, "a", 10, "x:1"), write_at(2, "b", 20, "x:2"));
    let mut aggregator = FindingAggregator::default();
    assert!(aggregator.record(&pair(&a, &b), 1).is_some());
    assert_eq!(aggregator.record(&pair(&b, &a), 2), None);
    assert_eq!(aggregator.findings().next().unwrap().count, 1);
}

#[test]
fn distinct_pairs_count_and_the_smallest_represents() {
    let a = write_at(1, "a", 10, "x:1");
    let b = write_at(2, "b", 20, "x:2");
    let earlier_a = write_at(3, "a", 5, "x:1");
    let later_b = write_at(4, "b", 30, "x:2");
    let mut aggregator = FindingAggregator::default();
    aggregator.record(&pair(&a, &b), 1).unwrap();
    let grown = aggregator.record(&pair(&a, &later_b), 2).unwrap();
    assert_eq!(grown.count, 2);
    assert_eq!(
        grown.first.event_id,
        id(1).to_string(),
        "(1, 2) still smallest"
    );
    assert_eq!(grown.second.event_id, id(2).to_string());
    assert_eq!(grown.detected_at_ns, 2);
    let replaced = aggregator.record(&pair(&earlier_a, &b), 3).unwrap();
    assert_eq!(replaced.count, 3);
    assert_eq!(replaced.first.event_id, id(3).to_string());
    assert_eq!(aggregator.len(), 1);
}

#[test]
fn key_is_order_free_and_separates_traces_and_kinds() {
    let a = write_at(1, "a", 10, "x:1");
    let b = write_at(2, "b", 20, "x:2");
    // Same locations the other way round: same finding.
    let c = write_at(3, "c", 30, "x:2");
    let d = write_at(4, "d", 40, "x:1");
    assert_eq!(finding_id(&pair(&a, &b)), finding_id(&pair(&c, &d)));
    let mut other_trace = b.clone();
    other_trace.trace_id = id(42);
    assert_ne!(
        finding_id(&pair(&a, &b)),
        finding_id(&pair(&a, &other_trace))
    );
    let mut lost = pair(&a, &b);
    lost.kind = FindingKind::LostUpdate;
    assert_ne!(finding_id(&pair(&a, &b)), finding_id(&lost));
    assert!(explain(&lost).starts_with("lost_update: "));
}

#[test]
fn read_write_is_a_warning_and_severity_only_rises() {
    let mut read = write_at(1, "a", 10, "x:1");
    read.access_type = AccessType::Read;
    let w = write_at(2, "b", 20, "x:2");
    let mut aggregator = FindingAggregator::default();
    let finding = aggregator.record(&pair(&read, &w), 1).unwrap();
    assert_eq!(finding.severity, Severity::Warning);
    assert_eq!(
        finding.explanation,
        "b wrote balance at x:2 while a's read at x:1 was not ordered before it; no common lock"
    );
    let mut write_same_place = write_at(3, "a", 15, "x:1");
    write_same_place.access_type = AccessType::AtomicWrite;
    let finding = aggregator.record(&pair(&write_same_place, &w), 2).unwrap();
    assert_eq!(finding.severity, Severity::Critical);
    let mut read_again = read.clone();
    read_again.event_id = id(9);
    let finding = aggregator.record(&pair(&read_again, &w), 3).unwrap();
    assert_eq!(finding.severity, Severity::Critical);
}

#[test]
fn explanation_names_atomics_shared_locks_and_other_traces() {
    let mut a = write_at(1, "a", 10, "x:1");
    a.access_type = AccessType::AtomicRMW;
    a.locks = vec![held("rw", LockMode::Shared)].into();
    let mut b = write_at(2, "b", 20, "x:2");
    b.locks = vec![held("rw", LockMode::Shared)].into();
    b.trace_id = id(7);
    assert_eq!(
        explain(&pair(&a, &b)),
        "b wrote balance at x:2 while a's atomic update at x:1 in another trace was not ordered \
         before it; both held rw only in shared mode"
    );
}

#[test]
fn same_thread_names_are_qualified_by_service() {
    let a = write_at(1, "main", 10, "x:1");
    let mut b = write_at(2, "main", 20, "x:2");
    std::sync::Arc::make_mut(&mut b.actor).service = "api".into();
    assert!(explain(&pair(&a, &b)).starts_with("api/main wrote balance at x:2 while web/main's"));
}

#[test]
fn past_the_pair_cap_new_pairs_still_count() {
    let a = write_at(1, "a", 10, "x:1");
    let b = write_at(2, "b", 20, "x:2");
    let c = write_at(3, "b", 30, "x:2");
    let mut aggregator = FindingAggregator::new(1);
    aggregator.record(&pair(&a, &b), 1);
    assert_eq!(aggregator.record(&pair(&a, &b), 2), None, "remembered");
    assert_eq!(aggregator.record(&pair(&a, &c), 3).unwrap().count, 2);
    assert_eq!(
        aggregator.record(&pair(&a, &c), 4).unwrap().count,
        3,
        "not remembered past the cap"
    );
    assert!(!aggregator.is_empty());
}

/// The remembered ids are the derived ones: pairs over two variables and three locations, in
/// both orders and from two traces, the names in allocations of their own each time, every
/// finding's id equal to `finding_id` of the pair recorded.
#[test]
fn remembered_ids_are_the_ids_the_keys_derive() {
    let mut aggregator = FindingAggregator::default();
    let locations = ["a.rs:1", "a.rs:2", "b.rs:7"];
    for round in 0..3u128 {
        for (n, &location) in locations.iter().enumerate() {
            let n = n as u128;
            for variable in ["x", "y"] {
                let mut a = write_at(round * 100 + n + 1, "w1", 10, location);
                let mut b = write_at(
                    round * 100 + n + 50,
                    "w2",
                    20,
                    locations[(n as usize + 1) % 3],
                );
                a.variable = Arc::from(variable);
                b.variable = Arc::from(variable);
                if round == 2 {
                    b.trace_id = id(999);
                }
                for pair in [pair(&a, &b), pair(&b, &a)] {
                    if let Some(finding) = aggregator.record(&pair, 1) {
                        assert_eq!(finding.id, finding_id(&pair).to_string());
                    }
                    let remembered = aggregator.pair_finding_id(&pair);
                    assert_eq!(remembered, finding_id(&pair));
                }
            }
        }
    }
    // Three location pairs, two variables, two trace pairs.
    assert_eq!(aggregator.len(), 12);
}

/// Adding pairs and copying each changed finding once per batch gives what copying the finding
/// at every change gave: random batches of pairs (repeated pairs, earlier and later
/// representatives, reads and writes, two traces), the last copy `record` returned per id in a
/// batch equal to the finding `get` gives for the ids `add` returned, and `add` returning
/// nothing exactly where `record` did.
#[test]
fn added_ids_give_the_findings_record_returned() {
    use rand::Rng;
    crate::testing::random_rounds(16, 100, |rng, _| {
        let mut copied = FindingAggregator::new(4);
        let mut added = FindingAggregator::new(4);
        for batch in 0..4 {
            let mut last_copies: BTreeMap<String, RaceFinding> = BTreeMap::new();
            let mut ids: HashSet<Uuid> = HashSet::new();
            for _ in 0..rng.gen_range(1..30) {
                let mut a = write_at(rng.gen_range(1..8), "w1", rng.gen_range(0..5), "a.rs:1");
                let mut b = write_at(rng.gen_range(50..58), "w2", rng.gen_range(0..5), "b.rs:2");
                if rng.gen_bool(0.5) {
                    a.access_type = AccessType::Read;
                }
                if rng.gen_bool(0.3) {
                    b.trace_id = id(999);
                }
                let pair = if rng.gen_bool(0.5) {
                    pair(&a, &b)
                } else {
                    pair(&b, &a)
                };
                let copy = copied.record(&pair, batch);
                let id = added.add(&pair, batch);
                assert_eq!(copy.is_some(), id.is_some());
                if let Some(copy) = copy {
                    last_copies.insert(copy.id.clone(), copy);
                }
                ids.extend(id);
            }
            let taken: BTreeMap<String, RaceFinding> = ids
                .into_iter()
                .map(|id| {
                    let finding = added.get(id).expect("an added id names a finding").clone();
                    (finding.id.clone(), finding)
                })
                .collect();
            assert_eq!(taken, last_copies);
        }
        assert!(!added.is_empty());
    });
}

use raceway_schemas::{AccessType, LockMode, UpdateRead, UpdateSpan};

use super::*;
use crate::config::RaceConfig;
use crate::rules::{common_lock_protects, is_data_race};
use crate::testing::{access, held, id};

use AccessType::{AtomicRMW, AtomicRead, AtomicWrite, Read, Write};

/// An access by `thread` whose clock only knows itself: concurrent with every other thread's.
fn lone(n: u128, thread: &str, ts: i64, access_type: AccessType) -> Access {
    access(n, thread, ts, access_type, &[(thread, 1)])
}

fn pairs(accesses: Vec<Access>) -> Vec<(Uuid, Uuid)> {
    let mut detector = RaceDetector::default();
    accesses
        .into_iter()
        .flat_map(|a| detector.observe(a).pairs)
        .map(|p| (p.first.event_id, p.second.event_id))
        .collect()
}

#[test]
fn concurrent_writes_race_and_pair_is_ordered_by_time() {
    let found = pairs(vec![lone(2, "b", 20, Write), lone(1, "a", 10, Write)]);
    assert_eq!(found, vec![(id(1), id(2))]);
}

#[test]
fn read_write_races_but_read_read_does_not() {
    assert_eq!(
        pairs(vec![lone(1, "a", 10, Read), lone(2, "b", 20, Write)]).len(),
        1
    );
    assert!(pairs(vec![lone(1, "a", 10, Read), lone(2, "b", 20, Read)]).is_empty());
}

#[test]
fn same_actor_never_races() {
    let first = lone(1, "a", 10, Write);
    let mut second = access(2, "a", 20, Write, &[("other", 1)]);
    second.trace_id = id(77);
    assert!(pairs(vec![first, second]).is_empty());
}

#[test]
fn ordered_accesses_do_not_race() {
    let first = access(1, "a", 10, Write, &[("a", 1)]);
    let second = access(2, "b", 20, Write, &[("a", 1), ("b", 1)]);
    assert!(pairs(vec![second, first]).is_empty());
}

#[test]
fn atomics_race_only_with_plain_accesses() {
    assert!(pairs(vec![
        lone(1, "a", 10, AtomicWrite),
        lone(2, "b", 20, AtomicRMW)
    ])
    .is_empty());
    assert!(pairs(vec![
        lone(1, "a", 10, AtomicRead),
        lone(2, "b", 20, AtomicWrite)
    ])
    .is_empty());
    assert_eq!(
        pairs(vec![lone(1, "a", 10, AtomicWrite), lone(2, "b", 20, Write)]).len(),
        1
    );
    assert_eq!(
        pairs(vec![lone(1, "a", 10, AtomicRead), lone(2, "b", 20, Write)]).len(),
        1
    );
}

fn locked(mut a: Access, mode: LockMode) -> Access {
    a.locks = vec![held("m", mode)].into();
    a
}

#[test]
fn lock_modes_decide_protection() {
    use LockMode::{Exclusive, Shared};
    let cases = [
        (Exclusive, Exclusive, Write, Write, false),
        (Exclusive, Shared, Write, Read, false),
        (Shared, Exclusive, Read, Write, false),
        (Shared, Shared, Write, Write, true),
        (Shared, Shared, Read, Write, true),
    ];
    for (mode_a, mode_b, type_a, type_b, race) in cases {
        let a = locked(lone(1, "a", 10, type_a), mode_a);
        let b = locked(lone(2, "b", 20, type_b), mode_b);
        assert_eq!(
            !pairs(vec![a, b]).is_empty(),
            race,
            "{mode_a:?}/{mode_b:?} {type_a:?}/{type_b:?}"
        );
    }
}

#[test]
fn shared_holds_protect_two_reads() {
    let a = locked(lone(1, "a", 10, Read), LockMode::Shared);
    let b = locked(lone(2, "b", 20, Read), LockMode::Shared);
    assert!(common_lock_protects(&a, &b));
    let w = locked(lone(3, "b", 20, Write), LockMode::Shared);
    assert!(!common_lock_protects(&a, &w));
}

#[test]
fn different_locks_do_not_protect() {
    let mut a = lone(1, "a", 10, Write);
    a.locks = vec![held("m1", LockMode::Exclusive)].into();
    let mut b = lone(2, "b", 20, Write);
    b.locks = vec![held("m2", LockMode::Exclusive)].into();
    assert_eq!(pairs(vec![a, b]).len(), 1);
}

fn in_trace(mut a: Access, trace: u128, start: i64, end: i64) -> Access {
    a.trace_id = id(trace);
    a.trace_start_ns = start;
    a.trace_end_ns = end;
    a
}

#[test]
fn cross_trace_pairs_need_overlapping_spans() {
    let slack = RaceConfig::default().cross_trace_slack_ns;
    let a = in_trace(lone(1, "a", 10, Write), 100, 0, 1_000);
    let overlapping = in_trace(lone(2, "b", 600, Write), 200, 500, 2_000);
    let within_slack = in_trace(
        lone(3, "b", 1_000 + slack, Write),
        300,
        1_000 + slack,
        9_999_999_999,
    );
    let apart = in_trace(
        lone(4, "b", 2_000 + slack, Write),
        400,
        1_001 + slack,
        9_999_999_999,
    );
    assert_eq!(pairs(vec![a.clone(), overlapping]).len(), 1);
    assert_eq!(pairs(vec![a.clone(), within_slack]).len(), 1);
    assert!(pairs(vec![a, apart]).is_empty());
}

#[test]
fn trusted_clocks_can_order_traces() {
    let mut a = in_trace(access(1, "a", 10, Write, &[("sdk-a", 3)]), 100, 0, 1_000);
    a.trusted_clock = true;
    let mut b = in_trace(
        access(2, "b", 20, Write, &[("sdk-a", 3), ("sdk-b", 1)]),
        200,
        0,
        1_000,
    );
    b.trusted_clock = true;
    assert!(pairs(vec![a.clone(), b]).is_empty());
    let mut c = in_trace(access(3, "c", 20, Write, &[("sdk-c", 1)]), 300, 0, 1_000);
    c.trusted_clock = true;
    assert_eq!(pairs(vec![a, c]).len(), 1);
}

#[test]
fn different_environments_or_variables_never_meet() {
    let a = lone(1, "a", 10, Write);
    let mut b = lone(2, "b", 20, Write);
    b.environment = "prod".into();
    let mut c = lone(3, "c", 30, Write);
    c.variable = "other".into();
    assert!(pairs(vec![a.clone(), b.clone(), c.clone()]).is_empty());
    let config = RaceConfig::default();
    assert!(!is_data_race(&a, &b, &config));
    assert!(!is_data_race(&a, &c, &config));
    assert!(is_data_race(&a, &lone(4, "d", 5, Write), &config));
}

#[test]
fn redelivered_access_is_ignored() {
    let mut detector = RaceDetector::default();
    detector.observe(lone(1, "a", 10, Write));
    assert_eq!(detector.observe(lone(2, "b", 20, Write)).pairs.len(), 1);
    assert_eq!(
        detector.observe(lone(2, "b", 20, Write)),
        Observation::default()
    );
    assert_eq!(detector.retained_len(), 2);
}

#[test]
fn dominated_accesses_are_dropped_without_losing_races() {
    let mut detector = RaceDetector::default();
    let mut evicted = Vec::new();
    for k in 1..=100u64 {
        let a = access(
            u128::from(k),
            "a",
            k as i64,
            Write,
            &[("a", k), ("main", 1)],
        );
        evicted.extend(detector.observe(a).evicted);
    }
    assert_eq!(detector.retained_len(), 1);
    assert_eq!(evicted.len(), 99);
    assert_eq!(
        detector.evictions(),
        0,
        "domination is not a lossy eviction"
    );
    // Concurrent with all of them: still found against the survivor.
    let other = access(1000, "b", 50, Write, &[("b", 1), ("main", 1)]);
    assert_eq!(detector.observe(other).pairs.len(), 1);
}

#[test]
fn synchronisation_between_accesses_keeps_both() {
    // a: e (a=1). b: x (b=1), then releases a lock (b=2) that a acquires (a=2, b=2); a: l
    // (a=3, b=2). x is concurrent with e but ordered before l: dropping e would lose the race,
    // and the two clocks differ in two components, so e is kept.
    let e = access(1, "a", 10, Write, &[("a", 1)]);
    let l = access(2, "a", 40, Write, &[("a", 3), ("b", 2)]);
    let x = access(3, "b", 30, Write, &[("b", 1)]);
    let found = pairs(vec![e, l, x]);
    assert_eq!(found, vec![(id(1), id(3))]);
}

#[test]
fn capacity_evicts_oldest_and_counts() {
    let mut detector = RaceDetector::new(RaceConfig {
        max_accesses_per_variable: 2,
        ..RaceConfig::default()
    });
    detector.observe(lone(1, "a", 10, Read));
    detector.observe(lone(2, "b", 20, Read));
    let observation = detector.observe(lone(3, "c", 30, Read));
    assert_eq!(observation.evicted[..], [id(1)]);
    assert_eq!(detector.evictions(), 1);
    assert_eq!(detector.retained_len(), 2);
}

/// A detector holding reads 1 (actor `a`, time 10) and 2 (actor `b`, time 20).
fn two_reads_at_10_and_20() -> RaceDetector {
    let mut detector = RaceDetector::default();
    detector.observe(lone(1, "a", 10, Read));
    detector.observe(lone(2, "b", 20, Read));
    detector
}

#[test]
fn age_eviction_drops_old_accesses_and_refuses_late_ones() {
    let mut detector = two_reads_at_10_and_20();
    assert_eq!(detector.evict_older_than(15), vec![id(1)]);
    assert_eq!(detector.retained_len(), 1);
    let late = detector.observe(lone(3, "c", 5, Write));
    assert_eq!(late.pairs.len(), 1, "still compared");
    assert_eq!(late.evicted[..], [id(3)], "but not kept");
    assert_eq!(detector.retained_len(), 1);
    let window = detector.config().window_ns;
    assert_eq!(detector.evict_expired(21 + window), vec![id(2)]);
    assert_eq!(detector.retained_len(), 0);
    assert_eq!(detector.evictions(), 0);
}

#[test]
fn forgetting_for_a_bound_keeps_later_arrivals_so_they_still_meet() {
    let mut detector = two_reads_at_10_and_20();
    assert_eq!(detector.forget_older_than(15), vec![id(1)]);
    // Two racing writes older than the cut arrive one after the other (a partition that fell
    // behind): the first is kept, so the second meets it.
    let first = detector.observe(lone(3, "c", 5, Write));
    assert!(first.evicted.is_empty(), "kept");
    let second = detector.observe(lone(4, "d", 6, Write));
    let met: Vec<_> = second
        .pairs
        .iter()
        .map(|pair| (pair.first.event_id, pair.second.event_id))
        .collect();
    assert!(met.contains(&(id(3), id(4))), "{met:?}");
    assert_eq!(detector.retained_len(), 3);
}

fn span_of(read_clock: &[(&str, u64)], write: Access) -> UpdateSpan {
    UpdateSpan {
        read: UpdateRead {
            event_id: id(900),
            timestamp_ns: write.timestamp_ns - 1,
            location: "read.rs:1".into(),
            value: "100".into(),
            clock: read_clock
                .iter()
                .map(|(c, n)| (c.to_string(), *n))
                .collect(),
        },
        write,
        held_throughout: Vec::new(),
    }
}

#[test]
fn lost_updates_are_found_in_both_arrival_orders() {
    let rmw = access(2, "a", 30, Write, &[("a", 2)]);
    let span = span_of(&[("a", 1)], rmw.clone());
    let other = lone(3, "b", 20, Write);
    for span_first in [true, false] {
        let mut detector = RaceDetector::default();
        let mut found = Vec::new();
        if span_first {
            found.extend(detector.observe_update(span.clone()).pairs);
            found.extend(detector.observe(other.clone()).pairs);
        } else {
            found.extend(detector.observe(other.clone()).pairs);
            found.extend(detector.observe_update(span.clone()).pairs);
        }
        let lost: Vec<&RacePair> = found
            .iter()
            .filter(|p| p.kind == FindingKind::LostUpdate)
            .collect();
        assert_eq!(lost.len(), 1, "span first: {span_first}");
        assert_eq!(
            (lost[0].first.event_id, lost[0].second.event_id),
            (id(3), id(2))
        );
        let update = lost[0].update.as_ref().unwrap();
        assert_eq!(
            (update.write_event_id, update.read.event_id),
            (id(2), id(900))
        );
        assert!(
            detector.observe_update(span.clone()).pairs.is_empty(),
            "redelivery"
        );
    }
}

#[test]
fn fast_path_skips_the_scan_and_agrees_with_it() {
    let mut detector = RaceDetector::default();
    // Nothing retained yet: trivially after everything.
    detector.observe(access(1, "a", 10, Write, &[("a", 1)]));
    let ordered = detector.observe(access(2, "b", 20, Write, &[("a", 1), ("b", 1)]));
    assert!(ordered.pairs.is_empty());
    assert_eq!(detector.fast_path_hits(), 2);
    // Concurrent with the second access: the scan runs and finds the race.
    let racy = detector.observe(access(3, "c", 30, Write, &[("a", 1), ("c", 1)]));
    assert_eq!(racy.pairs.len(), 1);
    assert_eq!(detector.fast_path_hits(), 2);
    // An unclocked access disables the fast path while it is retained.
    detector.observe(access(4, "d", 40, Read, &[]));
    detector.observe(access(
        5,
        "e",
        50,
        Read,
        &[("a", 9), ("b", 9), ("c", 9), ("e", 1)],
    ));
    assert_eq!(detector.fast_path_hits(), 2);
}

#[test]
fn forgetting_a_trace_drops_its_accesses_and_spans() {
    let mut detector = RaceDetector::default();
    let mut mine = in_trace(lone(1, "a", 10, Write), 100, 0, 1_000);
    mine.variable = "x".into();
    detector.observe(mine.clone());
    let mut rmw = in_trace(access(2, "a", 30, Write, &[("a", 2)]), 100, 0, 1_000);
    rmw.variable = "x".into();
    detector.observe_update(span_of(&[("a", 1)], rmw));
    detector.observe(in_trace(lone(3, "b", 20, Read), 200, 0, 1_000));
    assert_eq!(detector.retained_len(), 3);
    assert_eq!(detector.forget_trace(id(100)), vec![id(1)]);
    assert_eq!(detector.take_evicted_spans(), vec![id(2)]);
    assert_eq!(detector.retained_len(), 1);
    // Fed again after re-analysis: compared afresh.
    mine.variable = "balance".into();
    assert_eq!(detector.observe(mine).pairs.len(), 1);
}

#[test]
fn verdicts_survive_the_compaction_of_component_ids() {
    let mut detector = RaceDetector::default();
    // Retained before the compaction, with components that stay in use.
    let first = access(1, "a", 10, Write, &[("a", 1), ("z", 3)]);
    assert!(detector.observe(first).pairs.is_empty());
    // Enough short-lived components elsewhere (one variable each, later aged out) to make the
    // detector reclaim their ids and renumber the live ones.
    for n in 0..20_000u128 {
        let mut other = lone(1_000 + n, &format!("t{n}"), 5, Write);
        other.variable = format!("v{n}").into();
        detector.observe(other);
        if n % 5_000 == 4_999 {
            detector.evict_older_than(6);
        }
    }
    assert!(
        detector.names.len() < 10_000,
        "dead component ids were reclaimed"
    );
    // Concurrent with the first access: a race. Ordered after it: none.
    let concurrent = access(2, "b", 20, Write, &[("b", 1), ("z", 3)]);
    let pairs = detector.observe(concurrent).pairs;
    assert_eq!(pairs.len(), 1);
    assert_eq!(
        pairs[0].first.clock.to_pairs(),
        vec![("a".into(), 1), ("z".into(), 3)]
    );
    let ordered = access(3, "c", 30, Write, &[("a", 1), ("b", 1), ("c", 1), ("z", 3)]);
    assert!(detector.observe(ordered).pairs.is_empty());
}

#[test]
fn an_access_in_several_findings_is_reported_by_one_whole_access_with_its_values() {
    let mut detector = RaceDetector::default();
    let mut first = lone(1, "a", 10, Write);
    first.value = "a value longer than sixteen bytes".into();
    first.old_value = Some("0".into());
    assert!(detector.observe(first).pairs.is_empty());
    // The first write is an arrival's partner twice, and an arrival (the third) is a partner
    // after it was part of a finding on arrival.
    let second = detector.observe(lone(2, "b", 20, Write)).pairs;
    let third = detector.observe(lone(3, "c", 30, Write)).pairs;
    assert_eq!(second.len(), 1);
    assert_eq!(third.len(), 2);
    let (earlier, later) = (&second[0].first, &third[0].first);
    assert!(Arc::ptr_eq(earlier, later));
    assert_eq!(earlier.value, "a value longer than sixteen bytes");
    assert_eq!(earlier.old_value.as_deref(), Some("0"));
    assert!(Arc::ptr_eq(&second[0].second, &third[1].first));
    // Forgotten with its entry (the variable keeps the others): the access fed again (same
    // event id, new facts) is reported as it is now, on arrival and as a later one's partner.
    assert_eq!(detector.forget_older_than(15), vec![id(1)]);
    let mut again = lone(1, "a", 10, Write);
    again.value = "re-analysed".into();
    let on_arrival = detector.observe(again).pairs;
    assert_eq!(on_arrival.len(), 2);
    assert_eq!(on_arrival[0].first.value, "re-analysed");
    let found = detector.observe(lone(4, "d", 40, Write)).pairs;
    assert_eq!(found.len(), 3);
    assert_eq!(found[0].first.event_id, id(1));
    assert_eq!(found[0].first.value, "re-analysed");
    assert_eq!(found[0].first.old_value, None);
}

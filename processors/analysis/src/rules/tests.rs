use raceway_schemas::{AccessType, CompactClock, UpdateRead};

use super::*;
use crate::testing::{access, held, id};

/// Actor `a`'s read (clock a=1) and write (a=2) of the test variable.
fn span(held_throughout: Vec<HeldLock>) -> UpdateSpan {
    UpdateSpan {
        read: UpdateRead {
            event_id: id(1),
            timestamp_ns: 10,
            location: "a.rs:1".into(),
            value: "100".into(),
            clock: CompactClock::from_pairs([("a", 1)]),
        },
        write: access(2, "a", 30, AccessType::Write, &[("a", 2)]),
        held_throughout,
    }
}

fn other(clock: &[(&str, u64)]) -> Access {
    access(3, "b", 20, AccessType::Write, clock)
}

#[test]
fn a_concurrent_write_is_lost() {
    let config = RaceConfig::default();
    assert!(is_lost_update(&span(vec![]), &other(&[("b", 1)]), &config));
}

#[test]
fn a_write_before_the_read_or_after_the_write_is_not() {
    let config = RaceConfig::default();
    let before = other(&[("b", 1)]);
    let mut span_after = span(vec![]);
    span_after.read.clock = CompactClock::from_pairs([("a", 1), ("b", 1)]);
    span_after.write.clock = CompactClock::from_pairs([("a", 2), ("b", 1)]);
    assert!(!is_lost_update(&span_after, &before, &config));
    let after = other(&[("a", 2), ("b", 1)]);
    assert!(!is_lost_update(&span(vec![]), &after, &config));
}

#[test]
fn a_write_between_read_and_write_is_lost() {
    // o saw the read (a=1) and the write saw o: the textbook interleaving.
    let config = RaceConfig::default();
    let mut between = span(vec![]);
    between.write.clock = CompactClock::from_pairs([("a", 2), ("b", 1)]);
    assert!(is_lost_update(
        &between,
        &other(&[("a", 1), ("b", 1)]),
        &config
    ));
}

#[test]
fn same_actor_reads_and_other_kinds_are_not() {
    let config = RaceConfig::default();
    let mut own = other(&[("b", 1)]);
    std::sync::Arc::make_mut(&mut own.actor).thread = "a".into();
    assert!(!is_lost_update(&span(vec![]), &own, &config));
    let read = access(3, "b", 20, AccessType::Read, &[("b", 1)]);
    assert!(!is_lost_update(&span(vec![]), &read, &config));
    let atomic = access(3, "b", 20, AccessType::AtomicRMW, &[("b", 1)]);
    assert!(is_lost_update(&span(vec![]), &atomic, &config));
}

#[test]
fn a_lock_held_throughout_protects_in_excluding_modes() {
    let config = RaceConfig::default();
    let mut locked = other(&[("b", 1)]);
    locked.locks = vec![held("m", LockMode::Shared)].into();
    let exclusive = span(vec![held("m", LockMode::Exclusive)]);
    assert!(!is_lost_update(&exclusive, &locked, &config));
    let shared = span(vec![held("m", LockMode::Shared)]);
    assert!(is_lost_update(&shared, &locked, &config));
    assert!(is_lost_update(&span(vec![]), &locked, &config));
}

#[test]
fn other_traces_count_only_when_they_overlap() {
    let config = RaceConfig::default();
    let mut far = other(&[("b", 1)]);
    far.trace_id = id(77);
    far.trace_start_ns = 10_000_000_000;
    far.trace_end_ns = 11_000_000_000;
    assert!(!is_lost_update(&span(vec![]), &far, &config));
    far.trace_start_ns = 500;
    assert!(is_lost_update(&span(vec![]), &far, &config));
}

/// Every lock set of up to three holds of locks `m` and `n` in either mode (sorted and
/// deduplicated, as the detector keeps them).
fn lock_sets() -> Vec<Vec<HeldLock>> {
    let holds = [
        held("m", LockMode::Exclusive),
        held("m", LockMode::Shared),
        held("n", LockMode::Exclusive),
        held("n", LockMode::Shared),
    ];
    (0u32..16)
        .map(|mask| {
            let mut set: Vec<HeldLock> = (0..4)
                .filter(|bit| mask & (1 << bit) != 0)
                .map(|bit| holds[bit].clone())
                .collect();
            set.sort();
            set
        })
        .filter(|set| set.len() <= 3)
        .collect()
}

#[test]
fn one_shared_lock_set_protects_as_two_equal_copies_do() {
    // The lock tests settle a lock set compared with itself (one shared copy) without comparing
    // lock ids: the verdict must be the one two separate equal copies get.
    let types = AccessType::ALL;
    for set in lock_sets() {
        let copy = set.clone();
        for a in types {
            for b in types {
                assert_eq!(
                    locks_protect((&set, a), (&set, b)),
                    locks_protect((&set, a), (&copy, b)),
                    "{set:?} {a:?} {b:?}"
                );
            }
        }
        assert_eq!(
            held_locks_protect(&set, &set),
            held_locks_protect(&set, &copy),
            "{set:?}"
        );
    }
}

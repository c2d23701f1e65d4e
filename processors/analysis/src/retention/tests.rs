use std::cell::RefCell;

use raceway_schemas::{Access, AccessType, CompactClock, LockMode};

use super::*;
use crate::testing::{access, held, id};

thread_local! {
    /// One numbering of clock components for every clock of a test, as in one detector.
    static NAMES: RefCell<ComponentIds> = RefCell::default();
    /// One set of shared pieces for every access of a test, as in one detector (domination
    /// keys hash the shared copies by address).
    static PIECES: RefCell<CanonicalPieces> = RefCell::default();
}

fn normalised(mut access: Access) -> Retained {
    NAMES.with(|names| {
        PIECES.with(|pieces| {
            Retained::interned_near(
                &mut access,
                &mut names.borrow_mut(),
                &mut pieces.borrow_mut(),
                None,
            )
        })
    })
}

fn retained(n: u128, ts: i64, clock: &[(&str, u64)]) -> Retained {
    normalised(access(n, "a", ts, AccessType::Write, clock))
}

fn clock_of(pairs: &[(&str, u64)]) -> Clock {
    let clock = CompactClock::from_pairs(pairs.iter().copied());
    NAMES.with(|names| names.borrow_mut().clock(clock))
}

#[test]
fn own_progress_dominates() {
    let earlier = retained(1, 10, &[("a", 1), ("b", 3)]);
    let later = retained(2, 20, &[("a", 4), ("b", 3)]);
    assert!(dominates(&later, &earlier));
    assert!(!dominates(&earlier, &later));
}

#[test]
fn learning_from_another_actor_prevents_domination() {
    let earlier = retained(1, 10, &[("a", 1), ("b", 3)]);
    let later = retained(2, 20, &[("a", 2), ("b", 4)]);
    assert!(!dominates(&later, &earlier));
}

#[test]
fn any_difference_but_the_clock_prevents_domination() {
    let earlier = retained(1, 10, &[("a", 1)]);
    let variants: [fn(&mut Access); 6] = [
        |a| a.trace_id = id(99),
        |a| a.trace_end_ns += 1,
        |a| std::sync::Arc::make_mut(&mut a.actor).thread = "other".into(),
        |a| a.location = "elsewhere".into(),
        |a| a.access_type = AccessType::Read,
        |a| a.locks = vec![held("m", LockMode::Exclusive)].into(),
    ];
    for change in variants {
        let mut later = access(2, "a", 20, AccessType::Write, &[("a", 2)]);
        change(&mut later);
        assert!(!dominates(&normalised(later), &earlier));
    }
}

#[test]
fn insert_drops_dominated_and_refuses_dominated_newcomers() {
    let mut accesses = VariableAccesses::default();
    assert!(accesses
        .insert(retained(1, 10, &[("a", 1)]), 10, false)
        .removed
        .is_empty());
    let outcome = accesses.insert(retained(3, 30, &[("a", 3)]), 10, false);
    assert_eq!(outcome.removed[..], [id(1)]);
    // Arrives late, already dominated by the retained id 3.
    let outcome = accesses.insert(retained(2, 20, &[("a", 2)]), 10, false);
    assert_eq!(outcome.removed[..], [id(2)]);
    assert_eq!(accesses.len(), 1);
    assert!(accesses.contains((30, id(3))));
}

#[test]
fn capacity_evicts_the_oldest() {
    let mut accesses = VariableAccesses::default();
    accesses.insert(retained(1, 30, &[("x", 1)]), 2, false);
    accesses.insert(retained(2, 10, &[("y", 1)]), 2, false);
    let outcome = accesses.insert(retained(3, 20, &[("z", 1)]), 2, false);
    assert_eq!(outcome.removed[..], [id(2)]);
    assert_eq!(outcome.capacity_evictions, 1);
    let ages: Vec<i64> = accesses.iter().map(|r| r.timestamp_ns).collect();
    assert_eq!(ages, vec![20, 30]);
    let room = accesses.entries.capacity();
    // Older than everything a full variable holds: the arrival itself leaves, and with no
    // clock it leaves nothing behind that disables the fast path.
    let outcome = accesses.insert(retained(4, 5, &[]), 2, false);
    assert_eq!(outcome.removed[..], [id(4)]);
    assert_eq!(outcome.capacity_evictions, 1);
    assert_eq!(accesses.unclocked, 0);
    // Newer: the oldest leaves first, so a full deque does not grow.
    let outcome = accesses.insert(retained(5, 40, &[("w", 1)]), 2, false);
    assert_eq!(outcome.removed[..], [id(3)]);
    let ages: Vec<i64> = accesses.iter().map(|r| r.timestamp_ns).collect();
    assert_eq!(ages, vec![30, 40]);
    assert_eq!(accesses.entries.capacity(), room);
}

#[test]
fn evict_older_than_cuts_by_timestamp() {
    let mut accesses = VariableAccesses::default();
    for (n, ts) in [(1, 10), (2, 20), (3, 30)] {
        accesses.insert(retained(n, ts, &[(format!("c{n}").as_str(), 1)]), 10, false);
    }
    assert_eq!(accesses.evict_older_than(30), vec![id(1), id(2)]);
    assert_eq!(accesses.len(), 1);
    assert!(!accesses.is_empty());
}

#[test]
fn summary_clock_says_when_everything_retained_is_before() {
    let mut accesses = VariableAccesses::default();
    assert!(accesses.all_before(&clock_of(&[("a", 1)])));
    assert!(
        !accesses.all_before(&Clock::default()),
        "empty clocks never"
    );
    accesses.insert(retained(1, 10, &[("a", 1)]), 10, false);
    accesses.insert(retained(2, 20, &[("b", 1)]), 10, false);
    let both = clock_of(&[("a", 1), ("b", 1), ("c", 1)]);
    assert!(accesses.all_before(&both));
    assert!(!accesses.all_before(&clock_of(&[("a", 1), ("c", 1)])));
    let equal = clock_of(&[("a", 1), ("b", 1)]);
    assert!(
        !accesses.all_before(&equal),
        "equal to the summary: not after it"
    );
    accesses.insert(retained(3, 30, &[]), 10, false);
    assert!(
        !accesses.all_before(&both),
        "an unclocked access disables it"
    );
}

#[test]
fn spans_are_kept_bounded_and_forgotten_by_trace() {
    use raceway_schemas::{UpdateRead, UpdateSpan};
    let span = |n: u128, ts: i64| {
        let span = UpdateSpan {
            read: UpdateRead {
                event_id: id(n + 100),
                timestamp_ns: ts - 1,
                location: "r".into(),
                value: "1".into(),
                clock: CompactClock::from_pairs([("a", 1)]),
            },
            write: access(n, "a", ts, AccessType::Write, &[("a", 2)]),
            held_throughout: Vec::new(),
        };
        let mut pieces = CanonicalPieces::default();
        NAMES.with(|names| RetainedSpan::interned(span, &mut names.borrow_mut(), &mut pieces, None))
    };
    let mut accesses = VariableAccesses::default();
    assert_eq!(accesses.insert_span(span(1, 10), 2), 0);
    accesses.insert_span(span(2, 20), 2);
    assert_eq!(accesses.insert_span(span(3, 30), 2), 1);
    assert_eq!(accesses.take_dropped_spans(), vec![id(1)]);
    assert!(accesses.contains_span((20, id(2))));
    assert_eq!(accesses.spans().count(), 2);
    accesses.evict_older_than(25);
    assert_eq!(accesses.take_dropped_spans(), vec![id(2)]);
    accesses.forget_trace(crate::testing::TRACE);
    assert_eq!(accesses.take_dropped_spans(), vec![id(3)]);
    assert!(accesses.is_empty());
}

#[test]
fn bulk_removals_rebuild_the_summary() {
    let mut accesses = VariableAccesses::default();
    accesses.insert(retained(1, 10, &[("old", 5)]), 10, false);
    accesses.insert(retained(2, 20, &[("new", 1)]), 10, false);
    let after_new = clock_of(&[("new", 2)]);
    assert!(
        !accesses.all_before(&after_new),
        "the old access is still there"
    );
    accesses.evict_older_than(15);
    assert!(
        accesses.all_before(&after_new),
        "its component left the summary"
    );
}

/// An insertion on the fast path sets the summary to the new clock instead of joining it: the
/// summary must still be the join of every clock retained, on random streams that mostly arrive
/// in happens-before order (fast) and sometimes out of it (joined).
#[test]
fn a_fast_insertion_leaves_the_summary_the_join_of_every_clock() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
    let names = ["a", "b", "c", "d"];
    for _ in 0..50 {
        let mut accesses = VariableAccesses::default();
        let mut reference = Clock::default();
        // Each actor's clock; an access by one actor learns another's clock now and then.
        let mut clocks = vec![vec![0u64; names.len()]; names.len()];
        let (mut fast_seen, mut slow_seen) = (false, false);
        for n in 1..200u128 {
            let actor = rng.gen_range(0..names.len());
            if rng.gen_bool(0.5) {
                let other = clocks[rng.gen_range(0..names.len())].clone();
                for (mine, theirs) in clocks[actor].iter_mut().zip(other) {
                    *mine = (*mine).max(theirs);
                }
            }
            clocks[actor][actor] += 1;
            let pairs: Vec<(&str, u64)> =
                names.iter().copied().zip(clocks[actor].clone()).collect();
            let new = normalised(access(n, names[actor], n as i64, AccessType::Write, &pairs));
            let fast = accesses.all_before(&new.clock);
            fast_seen |= fast;
            slow_seen |= !fast;
            reference.join(&new.clock);
            accesses.insert(new, 10_000, fast);
            assert_eq!(accesses.summary, reference);
        }
        assert!(fast_seen && slow_seen, "both paths taken");
    }
}

#[test]
fn a_deque_holds_at_most_twice_its_entries_and_never_more_than_capacity() {
    let capacity = 200;
    let mut accesses = VariableAccesses::default();
    for n in 0..300u128 {
        // Each access on its own component: concurrent with every other, none dominated.
        let component = format!("c{n}");
        accesses.insert(retained(n, n as i64, &[(&component, 1)]), capacity, false);
        let (len, room) = (accesses.entries.len(), accesses.entries.capacity());
        assert_eq!(len, (n as usize + 1).min(capacity));
        assert!(room <= (2 * len).max(4), "{len} entries in room for {room}");
        assert!(room <= capacity, "{len} entries in room for {room}");
        assert!(accesses.fingerprints.room() <= capacity.div_ceil(32) * 32);
    }
    assert_eq!(accesses.entries.capacity(), capacity);
}

#[test]
fn a_retained_access_fits_two_cache_lines() {
    // The rule of `Retained`: the form written at every insertion and read at every eviction.
    assert!(std::mem::size_of::<Retained>() <= 128);
}

/// The fingerprints, one per entry in the entries' order, as the index's rule says.
fn fingerprints_in_step(accesses: &VariableAccesses) -> bool {
    let expected: Vec<u16> = accesses
        .entries
        .iter()
        .map(|kept| fingerprint(kept.key()))
        .collect();
    accesses.fingerprints.as_vec() == expected
}

#[test]
fn the_key_index_stays_in_step_and_finds_candidates_anywhere_in_the_deque() {
    // Actors t0 and t1 write at one place (each newer write dominates the actor's older one);
    // t2 and t3 write at a new place every round (unique keys, none dominated). Arrivals come
    // out of timestamp order in odd rounds, and the capacity evicts the oldest, so the ring
    // wraps and dominated entries sit in its middle.
    let capacity = 9;
    let mut accesses = VariableAccesses::default();
    let other_trace = id(0xbbbb);
    for round in 0..40u64 {
        let mut arrivals: Vec<u64> = (0..4).collect();
        if round % 2 == 1 {
            arrivals.reverse();
        }
        for actor in arrivals {
            let n = u128::from(round * 4 + actor + 1);
            let thread = format!("t{actor}");
            let mut access = access(
                n,
                &thread,
                (round * 10 + actor) as i64,
                AccessType::Write,
                &[(thread.as_str(), round + 1)],
            );
            if actor >= 2 {
                access.location = format!("place {round}").into();
            }
            if actor % 2 == 1 {
                access.trace_id = other_trace;
            }
            accesses.insert(normalised(access), capacity, false);
            assert!(
                fingerprints_in_step(&accesses),
                "round {round}, actor {actor}"
            );
        }
        // Found wherever they sit: one write of t0 and one of t1 are left.
        for thread in ["t0", "t1"] {
            let kept = accesses
                .iter()
                .filter(|kept| kept.who.actor.thread == thread)
                .count();
            assert_eq!(kept, 1, "round {round}, {thread}");
        }
    }
    accesses.insert(retained(1000, 1000, &[("t9", 1)]), 2, false);
    assert!(fingerprints_in_step(&accesses), "several evicted at once");
    accesses.evict_older_than(395);
    assert!(fingerprints_in_step(&accesses), "evicted by age");
    for n in 0..6u128 {
        let component = format!("c{n}");
        accesses.insert(
            retained(2000 + n, 2000 + n as i64, &[(&component, 1)]),
            9,
            false,
        );
    }
    accesses.forget_trace(other_trace);
    assert!(fingerprints_in_step(&accesses), "a trace forgotten");
    assert!(accesses.iter().all(|kept| kept.who.trace_id != other_trace));
    assert_eq!(
        accesses.len(),
        7,
        "id 1000 and the six new accesses, of the test's trace"
    );
}

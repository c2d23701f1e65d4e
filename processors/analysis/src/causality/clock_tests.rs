//! Tests of the clocks themselves: sent clocks as `VectorClock::from_pairs` reads them, derived
//! clocks as `VectorClock` joins them, and a trusted trace's order by counter sums.

use raceway_schemas::{Event, LockMode, VectorClock};

use super::*;
use crate::testing::{acquire, call, event, id, release, trusted, write};

/// A trusted trace's clocks are its events' clocks as `VectorClock::from_pairs` reads them,
/// whether or not a clock lists the previous clock's components in its order (the case built
/// without checking the order again): on random trusted traces whose clocks repeat, reorder,
/// drop, add, repeat and zero components, given in random order. Half the traces send no zero
/// counter, so that every clock is built on the path without one (a clock listing the names of
/// the clock before it in input order takes that clock's indices).
#[test]
fn sent_clocks_are_the_clocks_from_pairs_reads() {
    use raceway_schemas::VectorClock;
    use rand::seq::SliceRandom;
    use rand::Rng;
    crate::testing::random_rounds(17, 200, |rng, _| {
        let len = rng.gen_range(1..40u128);
        let names = ["a#1", "b#1", "c#1", "d#1"];
        let mut events: Vec<Event> = crate::testing::random_events(rng, len);
        let mut clock: Vec<(String, u64)> = vec![("a#1".into(), 1), ("b#1".into(), 1)];
        let zeros = rng.gen_bool(0.5);
        for e in &mut events {
            match rng.gen_range(0..8) {
                0 => clock.shuffle(rng),
                1 => {
                    let counter = rng.gen_range(if zeros { 0 } else { 1 }..3);
                    clock.push((names[rng.gen_range(0..4)].into(), counter));
                }
                2 if clock.len() > 1 => {
                    clock.remove(rng.gen_range(0..clock.len()));
                }
                3 if zeros => {
                    let at = rng.gen_range(0..clock.len());
                    clock[at].1 = 0;
                }
                _ => {
                    let at = rng.gen_range(0..clock.len());
                    clock[at].1 += rng.gen_range(1..3);
                }
            }
            let pairs: Vec<(&str, u64)> = clock.iter().map(|(c, n)| (c.as_str(), *n)).collect();
            *e = trusted(e.clone(), &pairs);
        }
        events.shuffle(rng);
        let causality = trace_causality(&events);
        assert!(causality.trusted);
        for (index, event) in events.iter().enumerate() {
            let expected = VectorClock::from_pairs(
                event.causality_vector.iter().map(|(c, n)| (c.as_str(), *n)),
            );
            assert_eq!(causality.per_event[index].clock.to_vector_clock(), expected);
        }
    });
}

/// Derived clocks are the clocks `VectorClock` computes from the same evidence (the join of the
/// predecessors' clocks, then the actor's component named `"{trace}/{actor}"` incremented), on
/// random traces of three actors taking two locks, writing and naming random parents.
#[test]
fn derived_clocks_are_the_vector_clock_joins_of_the_evidence() {
    use rand::Rng;
    crate::testing::random_rounds(23, 200, |rng, _| {
        let len = rng.gen_range(1..40u128);
        let events: Vec<Event> = (1..=len)
            .map(|n| {
                let kind = match rng.gen_range(0..5) {
                    0 => acquire(["m", "n"][rng.gen_range(0..2)], LockMode::Exclusive),
                    1 => release(["m", "n"][rng.gen_range(0..2)], LockMode::Exclusive),
                    2 => write("x", "a.rs:1"),
                    _ => call(),
                };
                let mut e = event(
                    n,
                    ["a", "b", "c"][rng.gen_range(0..3)],
                    rng.gen_range(0..30),
                    kind,
                );
                e.parent_id = rng.gen_bool(0.3).then(|| id(rng.gen_range(1..=len)));
                e
            })
            .collect();
        let causality = trace_causality(&events);
        assert!(!causality.trusted);
        let indexed = indexed_program_order(&events);
        let sorted = &indexed.order.order;
        let mut evidence =
            edges::collect(&events, sorted, &indexed.actor_of, indexed.by_id.as_ref());
        let merged = responses::response_edges(&events, sorted, &evidence.actor_of);
        evidence.edges.extend(merged);
        let n = events.len();
        let kept = graph::break_cycles(n, &evidence.edges);
        let mut clocks = vec![VectorClock::new(); n];
        for &position in &graph::priority_topological_order(n, &kept) {
            let mut clock = VectorClock::new();
            for &(before, after) in &kept {
                if after == position {
                    clock.join(&clocks[before]);
                }
            }
            let (trace, actor) = &evidence.actors[evidence.actor_of[position]];
            clock.increment(&format!("{trace}/{actor}"));
            clocks[position] = clock;
        }
        for (position, &index) in sorted.iter().enumerate() {
            assert_eq!(
                causality.per_event[index].clock.to_vector_clock(),
                clocks[position]
            );
        }
    });
}

/// The order of a trusted trace's positions by (sum, position) is the pairs' own sort, whether
/// the sums are counted (small next to the number of positions), packed into integers, or too
/// large to pack.
#[test]
fn positions_sort_by_sum_as_the_pairs_do() {
    use rand::Rng;
    crate::testing::random_rounds(29, 300, |rng, _| {
        let len = rng.gen_range(0..200usize);
        let largest: u128 = match rng.gen_range(0..3) {
            0 => 50,
            1 => 1 << 40,
            _ => u128::from(u64::MAX) * 4,
        };
        let sums: Vec<u128> = (0..len).map(|_| rng.gen_range(0..=largest)).collect();
        let mut expected: Vec<(u128, usize)> = sums.iter().copied().zip(0..).collect();
        expected.sort();
        let expected: Vec<usize> = expected.into_iter().map(|(_, p)| p).collect();
        assert_eq!(by_sum_then_position(sums), expected);
    });
}

//! The compact clocks against vector clocks, and the numbering of their components.

use raceway_schemas::CompactClock;

use super::*;

fn pairs(list: &[(&str, u64)]) -> CompactClock {
    list.iter().copied().collect()
}

#[test]
fn clocks_compare_like_vector_clocks() {
    let mut ids = ComponentIds::default();
    let a = ids.clock(pairs(&[("x", 1), ("y", 2)]));
    let b = ids.clock(pairs(&[("y", 3), ("x", 1)]));
    let c = ids.clock(pairs(&[("x", 2), ("z", 1)]));
    assert!(a.happens_before(&b));
    assert!(!b.happens_before(&a));
    assert!(!a.happens_before(&a));
    assert!(a.concurrent_with(&c) && c.concurrent_with(&b));
    assert!(a.concurrent_with(&a), "equal clocks are not ordered");
    assert!(a.strictly_below(&b) && !a.strictly_below(&a));
    assert!(Clock::default().strictly_below(&a));
    assert_eq!(a.differing_components(&b), 1);
    assert_eq!(a.differing_components(&c), 3);
    assert_eq!(ids.pairs(&b), pairs(&[("x", 1), ("y", 3)]));
}

#[test]
fn empty_clocks_are_never_ordered() {
    let mut ids = ComponentIds::default();
    let a = ids.clock(pairs(&[("x", 1)]));
    let empty = ids.clock(pairs(&[("x", 0)]));
    assert!(empty.is_empty());
    assert!(!empty.happens_before(&a) && !a.happens_before(&empty));
    assert!(empty.concurrent_with(&a));
}

#[test]
fn duplicates_keep_their_largest_counter() {
    let mut ids = ComponentIds::default();
    ids.clock(pairs(&[("b", 1)]));
    let clock = ids.clock(pairs(&[("a", 2), ("b", 1), ("a", 5)]));
    assert_eq!(ids.pairs(&clock), pairs(&[("a", 5), ("b", 1)]));
}

#[test]
fn clocks_listed_out_of_id_order_are_sorted_every_time() {
    let mut ids = ComponentIds::default();
    ids.clock(pairs(&[("c", 1)]));
    ids.clock(pairs(&[("b", 1)]));
    // Ids c=0, b=1, a=2: every clock listed by name needs sorting.
    for n in 1..4 {
        let clock = ids.clock(pairs(&[("a", n), ("b", 2), ("c", 3)]));
        assert!(is_sorted(&clock.entries()));
        assert_eq!(ids.pairs(&clock), pairs(&[("a", n), ("b", 2), ("c", 3)]));
    }
    // Same length, other components: the remembered permutation does not sort it.
    let clock = ids.clock(pairs(&[("c", 1), ("a", 1), ("d", 4)]));
    assert!(is_sorted(&clock.entries()));
    assert_eq!(ids.pairs(&clock), pairs(&[("a", 1), ("c", 1), ("d", 4)]));
    let clock = ids.clock(pairs(&[("b", 1), ("a", 2), ("b", 5)]));
    assert_eq!(ids.pairs(&clock), pairs(&[("a", 2), ("b", 5)]));
}

#[test]
fn a_shared_table_is_numbered_once_and_again_after_compaction() {
    let a = raceway_schemas::VectorClock::from_pairs([("a", 1), ("z", 2)]);
    let b = raceway_schemas::VectorClock::from_pairs([("a", 2), ("m", 1), ("z", 2)]);
    let table = raceway_schemas::component_names([&a, &b]);
    let (ca, cb) = (CompactClock::of(&table, &a), CompactClock::of(&table, &b));
    // z=0 from another table first, then a=1, m=2: the table's ids do not increase, so
    // every clock over it is sorted.
    let mut ids = ComponentIds::default();
    ids.clock(pairs(&[("z", 1)]));
    let (x, y) = (ids.clock(ca.clone()), ids.clock(cb.clone()));
    assert_eq!(ids.tables.len(), 2, "one entry per table, not per clock");
    assert!(is_sorted(&x.entries()) && is_sorted(&y.entries()));
    assert!(x.happens_before(&y));
    assert_eq!((ids.pairs(&x), ids.pairs(&y)), (ca.clone(), cb));
    let mut marks = vec![false; ids.len()];
    for id in x.ids() {
        marks[id as usize] = true;
    }
    let new_ids = ids.compact(&marks);
    let mut x = x;
    x.renumber(&new_ids);
    assert!(
        ids.tables.is_empty(),
        "ids of tables are stale after compaction"
    );
    let again = ids.clock(ca.clone());
    assert_eq!(ids.pairs(&again), ca);
    assert_eq!(ids.pairs(&x), ca);
}

#[test]
fn a_table_of_new_names_is_numbered_as_a_run() {
    let mut ids = ComponentIds::default();
    ids.clock(pairs(&[("z", 1)]));
    // a and b are new: ids 1 and 2, a run from 1, numbered by adding 1 to each index.
    let a = ids.clock(pairs(&[("a", 1), ("b", 2)]));
    assert_eq!(ids.tables.last().and_then(|t| t.first_of_run), Some(1));
    assert_eq!(a.entries(), vec![(1, 1), (2, 2)]);
    assert_eq!(ids.pairs(&a), pairs(&[("a", 1), ("b", 2)]));
    // a, b, z: ids 1, 2, 0, not a run.
    let b = ids.clock(pairs(&[("a", 1), ("b", 3), ("z", 1)]));
    assert_eq!(ids.tables.last().and_then(|t| t.first_of_run), None);
    assert!(a.happens_before(&b) && !b.happens_before(&a));
    assert_eq!(ids.pairs(&b), pairs(&[("a", 1), ("b", 3), ("z", 1)]));
}

#[test]
fn join_is_componentwise_max() {
    let mut ids = ComponentIds::default();
    let mut a = ids.clock(pairs(&[("x", 3), ("z", 1)]));
    a.join(&ids.clock(pairs(&[("x", 1), ("y", 2), ("z", 4)])));
    assert_eq!(ids.pairs(&a), pairs(&[("x", 3), ("y", 2), ("z", 4)]));
    a.join(&ids.clock(pairs(&[("x", 5), ("y", 1), ("z", 1)])));
    assert_eq!(ids.pairs(&a), pairs(&[("x", 5), ("y", 2), ("z", 4)]));
}

#[test]
fn compaction_renumbers_live_ids_in_order() {
    let mut ids = ComponentIds::default();
    let dead = ids.clock(pairs(&[("dead", 1)]));
    let mut live = ids.clock(pairs(&[("b", 1), ("a", 2)]));
    let mut marks = vec![false; ids.len()];
    for id in live.ids() {
        marks[id as usize] = true;
    }
    let new_ids = ids.compact(&marks);
    assert_eq!(
        new_ids[dead.ids().next().unwrap() as usize],
        ComponentId::MAX
    );
    live.renumber(&new_ids);
    assert_eq!(ids.len(), 2);
    assert_eq!(ids.pairs(&live), pairs(&[("a", 2), ("b", 1)]));
    let again = ids.clock(pairs(&[("a", 2), ("b", 3)]));
    assert!(live.happens_before(&again));
}

/// The one-pass comparisons, count of differing components and join of clocks over the same
/// ids agree with [`raceway_schemas::VectorClock`] on random clocks, over the same components
/// (a whole run of ids, or with a gap), other ones, the same number of other ones (where the
/// one pass must fall back to the merge), and other ones between the same first and last
/// (where the test of a run must not take them for the same).
#[test]
fn comparisons_and_join_agree_with_vector_clocks_on_random_clocks() {
    use raceway_schemas::VectorClock;
    use rand::{Rng, SeedableRng};
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(11);
    let names = ["a", "b", "c", "d"];
    let random = |rng: &mut rand_xoshiro::Xoshiro256PlusPlus| -> Vec<(&str, u64)> {
        let mut clock = Vec::new();
        for name in names {
            if rng.gen_bool(0.7) {
                clock.push((name, rng.gen_range(0..4)));
            }
        }
        clock
    };
    let mut ids = ComponentIds::default();
    for _ in 0..5_000 {
        let (a, b) = (random(&mut rng), random(&mut rng));
        let (va, vb) = (
            VectorClock::from_pairs(a.iter().copied()),
            VectorClock::from_pairs(b.iter().copied()),
        );
        let (ca, cb) = (ids.clock(pairs(&a)), ids.clock(pairs(&b)));
        assert_eq!(
            ca.happens_before(&cb),
            va.happens_before(&vb),
            "{a:?} {b:?}"
        );
        assert_eq!(
            ca.concurrent_with(&cb),
            va.concurrent_with(&vb),
            "{a:?} {b:?}"
        );
        let counter = |clock: &[(&str, u64)], name| {
            clock
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(0, |(_, c)| *c)
        };
        let differing = names
            .iter()
            .filter(|&&name| counter(&a, name) != counter(&b, name))
            .count();
        assert_eq!(ca.differing_components(&cb), differing, "{a:?} {b:?}");
        let mut joined = ca.clone();
        joined.join(&cb);
        let mut vjoined = va.clone();
        vjoined.join(&vb);
        let expected = vjoined.to_pairs();
        let expected = CompactClock::from_pairs(expected.iter().map(|(n, c)| (n.as_str(), *c)));
        assert_eq!(ids.pairs(&joined), expected, "{a:?} {b:?}");
        assert!(is_sorted(&joined.entries()));
    }
}

/// A clock is inline exactly when it is a run of at most `INLINE` ids with counters up to
/// `INLINE_MAX`; clocks of either form compare and join as vector clocks do, and a join that
/// becomes a short run is inline (so `==` holds between equal clocks whatever built them).
#[test]
fn a_clock_is_inline_only_as_a_short_run_of_small_counters() {
    use raceway_schemas::VectorClock;
    let is_inline = |clock: &Clock| matches!(clock.form, Form::Run { .. });
    let mut ids = ComponentIds::default();
    let names: Vec<String> = (0..=INLINE).map(|n| format!("c{n:02}")).collect();
    let run = |counters: &[u64]| -> Vec<(&str, u64)> {
        names
            .iter()
            .map(String::as_str)
            .zip(counters.iter().copied())
            .collect()
    };
    let big = u64::from(INLINE_MAX) + 1;
    let cases: Vec<(Vec<(&str, u64)>, bool)> = vec![
        (run(&[1; INLINE]), true),
        (run(&[2; INLINE + 1]), false),
        (run(&[1, big, 1]), false),
        (run(&[1, u64::from(INLINE_MAX), 1]), true),
        (run(&[u64::from(u32::MAX), 1]), false),
        (vec![("c00", 1), ("c02", 1)], false),
        (run(&[3, 1, 1]), true),
    ];
    let clocks: Vec<Clock> = cases
        .iter()
        .map(|(pairs_of, inline)| {
            let clock = ids.clock(pairs(pairs_of));
            assert_eq!(is_inline(&clock), *inline, "{pairs_of:?}");
            clock
        })
        .collect();
    for (a, (pa, _)) in clocks.iter().zip(&cases) {
        for (b, (pb, _)) in clocks.iter().zip(&cases) {
            let (va, vb) = (
                VectorClock::from_pairs(pa.iter().copied()),
                VectorClock::from_pairs(pb.iter().copied()),
            );
            assert_eq!(a.happens_before(b), va.happens_before(&vb), "{pa:?} {pb:?}");
            assert_eq!(
                a.concurrent_with(b),
                va.concurrent_with(&vb),
                "{pa:?} {pb:?}"
            );
            let mut joined = a.clone();
            joined.join(b);
            let mut vjoined = va.clone();
            vjoined.join(&vb);
            let expected = vjoined.to_pairs();
            let expected: Vec<(&str, u64)> =
                expected.iter().map(|(n, c)| (n.as_str(), *c)).collect();
            assert_eq!(joined, ids.clock(pairs(&expected)), "{pa:?} {pb:?}");
        }
    }
    // Two lists whose join is a short run: inline, equal to the run built directly.
    let mut gap = ids.clock(pairs(&[("c00", 1), ("c02", 1)]));
    gap.join(&ids.clock(pairs(&[("c01", 4)])));
    assert!(is_inline(&gap));
    assert_eq!(gap, ids.clock(pairs(&[("c00", 1), ("c01", 4), ("c02", 1)])));
}

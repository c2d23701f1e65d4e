use raceway_schemas::{ActorId, HeldLock, LockAcquisition, LockMode, LockOrderEdge};
use uuid::Uuid;

use super::*;
use crate::rules::is_lock_order_inversion;
use crate::testing::{held, id, TRACE};

use LockMode::{Exclusive, Shared};

fn acquisition(n: u128, lock_id: &str, mode: LockMode, clock: &[(&str, u64)]) -> LockAcquisition {
    LockAcquisition {
        event_id: id(n),
        lock_id: lock_id.into(),
        mode,
        location: format!("{lock_id}.rs:{n}"),
        timestamp_ns: n as i64,
        clock: clock.iter().map(|(c, k)| (c.to_string(), *k)).collect(),
        lock_type: "Mutex".into(),
    }
}

/// `thread` holds `first` (taken at event n) and takes `second` (event n + 1); its clock only
/// knows itself.
fn edge(n: u128, thread: &str, first: &str, second: &str) -> LockOrderEdge {
    LockOrderEdge {
        trace_id: TRACE,
        environment: "test".into(),
        actor: ActorId {
            service: "web".into(),
            instance: String::new(),
            thread: thread.into(),
        },
        held: acquisition(n, first, Exclusive, &[(thread, 2)]),
        acquired: acquisition(n + 1, second, Exclusive, &[(thread, 3)]),
        start_clock: vec![(thread.to_string(), 1)],
        guards: Vec::new(),
        trusted_clock: false,
        trace_start_ns: 0,
        trace_end_ns: 1_000,
    }
}

fn inversions(edges: Vec<LockOrderEdge>) -> Vec<(Uuid, Uuid)> {
    let mut detector = LockOrderDetector::new(RaceConfig::default());
    edges
        .into_iter()
        .flat_map(|e| detector.observe(e))
        .map(|p| (p.first().acquired.event_id, p.second().acquired.event_id))
        .collect()
}

#[test]
fn opposite_orders_invert_in_either_arrival_order() {
    let (x, y) = (edge(10, "x", "a", "b"), edge(20, "y", "b", "a"));
    assert_eq!(
        inversions(vec![x.clone(), y.clone()]),
        vec![(id(11), id(21))]
    );
    assert_eq!(inversions(vec![y, x]), vec![(id(11), id(21))]);
}

#[test]
fn same_order_same_actor_or_redelivery_do_not() {
    assert!(inversions(vec![edge(10, "x", "a", "b"), edge(20, "y", "a", "b")]).is_empty());
    assert!(inversions(vec![edge(10, "x", "a", "b"), edge(20, "x", "b", "a")]).is_empty());
    let mut detector = LockOrderDetector::new(RaceConfig::default());
    detector.observe(edge(10, "x", "a", "b"));
    assert_eq!(detector.observe(edge(20, "y", "b", "a")).len(), 1);
    assert!(detector.observe(edge(20, "y", "b", "a")).is_empty());
    assert_eq!(detector.retained_len(), 2);
}

#[test]
fn a_common_guard_prevents_it_unless_both_share_it() {
    let config = RaceConfig::default();
    let guarded = |mode_x, mode_y| {
        let mut x = edge(10, "x", "a", "b");
        x.guards = vec![held("g", mode_x)];
        let mut y = edge(20, "y", "b", "a");
        y.guards = vec![held("g", mode_y)];
        is_lock_order_inversion(&x, &y, &config)
    };
    assert!(!guarded(Exclusive, Exclusive));
    assert!(!guarded(Shared, Exclusive));
    assert!(guarded(Shared, Shared));
    let mut x = edge(10, "x", "a", "b");
    x.guards = vec![HeldLock {
        lock_id: "other".into(),
        mode: Exclusive,
    }];
    assert!(is_lock_order_inversion(
        &x,
        &edge(20, "y", "b", "a"),
        &config
    ));
}

#[test]
fn read_locks_on_both_sides_of_a_wait_never_block() {
    let config = RaceConfig::default();
    let mut x = edge(10, "x", "a", "b");
    let mut y = edge(20, "y", "b", "a");
    x.held.mode = Shared;
    y.acquired.mode = Shared;
    assert!(!is_lock_order_inversion(&x, &y, &config));
    y.acquired.mode = Exclusive;
    assert!(is_lock_order_inversion(&x, &y, &config));
}

#[test]
fn sections_ordered_by_something_else_do_not_invert() {
    let config = RaceConfig::default();
    let x = edge(10, "x", "a", "b");
    let mut y = edge(20, "y", "b", "a");
    // y started after x's nested section, e.g. spawned after x was joined.
    y.start_clock = vec![("x".into(), 5), ("y".into(), 1)];
    assert!(!is_lock_order_inversion(&x, &y, &config));
    assert!(!is_lock_order_inversion(&y, &x, &config));
}

#[test]
fn other_traces_count_only_when_they_overlap() {
    let config = RaceConfig::default();
    let x = edge(10, "x", "a", "b");
    let mut y = edge(20, "y", "b", "a");
    y.trace_id = id(77);
    assert!(is_lock_order_inversion(&x, &y, &config));
    y.trace_start_ns = 10_000_000_000;
    y.trace_end_ns = 11_000_000_000;
    assert!(!is_lock_order_inversion(&x, &y, &config));
}

#[test]
fn eviction_and_forgetting_bound_the_state() {
    let mut detector = LockOrderDetector::new(RaceConfig {
        max_accesses_per_variable: 1,
        ..RaceConfig::default()
    });
    detector.observe(edge(10, "x", "a", "b"));
    detector.observe(edge(20, "z", "a", "b"));
    assert_eq!((detector.retained_len(), detector.evictions()), (1, 1));
    let mut other = edge(30, "w", "c", "d");
    other.trace_id = id(5);
    detector.observe(other);
    assert_eq!(detector.forget_trace(id(5)), 1);
    assert_eq!(detector.evict_older_than(100), 1);
    assert_eq!(detector.retained_len(), 0);
}

/// Three actors around three locks: x takes a then b, y b then c, z c then a.
fn three_lock_cycle() -> Vec<LockOrderEdge> {
    vec![
        edge(10, "x", "a", "b"),
        edge(20, "y", "b", "c"),
        edge(30, "z", "c", "a"),
    ]
}

#[test]
fn a_three_lock_cycle_is_reported_once_in_any_arrival_order() {
    let orders: [[usize; 3]; 6] = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    for order in orders {
        let edges = three_lock_cycle();
        let mut detector = LockOrderDetector::new(RaceConfig::default());
        let found: Vec<LockCycle> = order
            .iter()
            .flat_map(|&i| detector.observe(edges[i].clone()))
            .collect();
        assert_eq!(found.len(), 1, "order {order:?}: {found:#?}");
        let cycle = &found[0];
        assert_eq!(cycle.variable(), "a -> b -> c -> a");
        assert_eq!(cycle.first().acquired.event_id, id(11));
        assert_eq!(cycle.second().acquired.event_id, id(21));
        let explanation = crate::explain_inversion(cycle);
        for location in ["b.rs:11", "c.rs:21", "a.rs:31"] {
            assert!(explanation.contains(location), "{explanation}");
        }
        assert_eq!(crate::inversion_id(cycle), crate::inversion_id(&found[0]));
    }
}

#[test]
fn a_gate_lock_held_by_the_cycle_breaks_it() {
    let gate = |mut e: LockOrderEdge| {
        e.guards = vec![held("gate", Exclusive)];
        e
    };
    // All three under one gate: no two sections can overlap.
    let mut detector = LockOrderDetector::new(RaceConfig::default());
    let found: usize = three_lock_cycle()
        .into_iter()
        .map(|e| detector.observe(gate(e)).len())
        .sum();
    assert_eq!(found, 0);
    // Two of them under the gate already keep the cycle from closing.
    let mut edges = three_lock_cycle();
    edges[0] = gate(edges[0].clone());
    edges[2] = gate(edges[2].clone());
    let mut detector = LockOrderDetector::new(RaceConfig::default());
    let found: usize = edges.into_iter().map(|e| detector.observe(e).len()).sum();
    assert_eq!(found, 0);
}

#[test]
fn a_cycle_needs_distinct_actors_and_blocking_waits() {
    let mut edges = three_lock_cycle();
    edges[2].actor.thread = "x".into();
    let mut detector = LockOrderDetector::new(RaceConfig::default());
    assert_eq!(
        edges
            .into_iter()
            .map(|e| detector.observe(e).len())
            .sum::<usize>(),
        0
    );
    let cycle: Vec<LockOrderEdge> = three_lock_cycle();
    let refs: Vec<&LockOrderEdge> = cycle.iter().collect();
    assert!(crate::is_lock_order_cycle(&refs, &RaceConfig::default()));
    // Out of cycle order it is no cycle.
    assert!(!crate::is_lock_order_cycle(
        &[refs[0], refs[2], refs[1]],
        &RaceConfig::default()
    ));
}

#[test]
fn an_inversion_names_the_lock_types_it_assumed_exclusive() {
    let (x, mut y) = (edge(10, "x", "a", "b"), edge(20, "y", "b", "a"));
    let mut detector = LockOrderDetector::new(RaceConfig::default());
    assert!(detector.observe(x.clone()).is_empty());
    let known = detector.observe(y.clone());
    let explanation = crate::explain_inversion(&known[0]);
    assert!(!explanation.contains("assumed"), "{explanation}");

    y.held.lock_type = "Latch".into();
    let mut detector = LockOrderDetector::new(RaceConfig::default());
    detector.observe(x);
    let found = detector.observe(y);
    let explanation = crate::explain_inversion(&found[0]);
    assert!(
        explanation.ends_with("; lock types not known, assumed exclusive: b (\"Latch\")"),
        "{explanation}"
    );
}

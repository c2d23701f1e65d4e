use super::*;
use crate::trace::fixtures::{at, await_task, call, chain, id, lasting, spawn, with_parent, MS};
use crate::trace::trace_tree;
use raceway_schemas::Event;

fn path_of(events: &[Event]) -> CriticalPath {
    critical_path(&trace_tree(events))
}

fn step_ids(path: &CriticalPath) -> Vec<Uuid> {
    path.steps.iter().map(|s| s.event_id).collect()
}

#[test]
fn parallel_children_count_as_the_max() {
    // Root of 25 ms with two parallel children of 5 and 20 ms: 5 ms of self time.
    let events = vec![
        lasting(at(1, "main", 0, call("root")), 25),
        lasting(with_parent(at(2, "w1", 5, call("fast")), 1), 5),
        lasting(with_parent(at(3, "w2", 5, call("slow")), 1), 20),
    ];
    let path = path_of(&events);
    assert_eq!(path.steps[0].self_time_ns, 5 * MS as u64);
    assert_eq!(step_ids(&path), vec![id(1), id(3)]);
    assert_eq!(path.total_duration_ms, 25.0);
    assert_eq!(path.trace_duration_ms, 25.0);
    assert_eq!(path.share_of_trace, 1.0);
    assert_eq!(&*path.steps[1].location, "app::slow");
    assert_eq!(path.steps[1].duration_ns, 20 * MS as u64);
}

#[test]
fn sequential_children_count_as_the_sum() {
    let events = vec![
        lasting(at(1, "main", 0, call("parent")), 30),
        lasting(with_parent(at(2, "main", 0, call("a")), 1), 10),
        lasting(with_parent(at(3, "main", 10, call("b")), 1), 10),
        lasting(with_parent(at(4, "main", 20, call("c")), 1), 10),
    ];
    let path = path_of(&events);
    assert_eq!(path.total_duration_ms, 30.0);
    assert_eq!(step_ids(&path), vec![id(1), id(2), id(3), id(4)]);
}

#[test]
fn two_short_sequential_children_beat_one_long_overlapping_one() {
    // a: 0..10 overlaps both b: 0..4 and c: 5..12, which are sequential: 4 + 7 > 10.
    let events = vec![
        lasting(at(1, "main", 0, call("parent")), 12),
        lasting(with_parent(at(2, "x", 0, call("a")), 1), 10),
        lasting(with_parent(at(3, "y", 0, call("b")), 1), 4),
        lasting(with_parent(at(4, "y", 5, call("c")), 1), 7),
    ];
    let path = path_of(&events);
    assert_eq!(step_ids(&path), vec![id(1), id(3), id(4)]);
    // The parent has no self time (its children cover 0..12); 4 + 7 beats 10.
    assert_eq!(path.total_duration_ns, 11 * MS as u64);
}

#[test]
fn derived_durations_follow_the_longer_branch_after_a_spawn() {
    // Go-style: no durations. main: 0 call, 1 spawn, 2 work, 30 await; the task runs 2..50.
    let chain = |n: u128, thread: &str, ms: i64, parent: Option<u128>, kind| {
        let event = at(n, thread, ms, kind);
        match parent {
            Some(p) => with_parent(event, p),
            None => event,
        }
    };
    let events = vec![
        chain(1, "main", 0, None, call("handle")),
        chain(2, "main", 1, Some(1), spawn("task")),
        chain(3, "main", 2, Some(2), call("work")),
        chain(4, "main", 30, Some(3), await_task("task")),
        chain(5, "task", 2, Some(2), call("slow_io")),
        chain(6, "task", 50, Some(5), call("done")),
    ];
    let path = path_of(&events);
    assert_eq!(step_ids(&path), vec![id(1), id(2), id(5), id(6)]);
    assert_eq!(path.total_duration_ms, 50.0);
    assert_eq!(path.share_of_trace, 1.0);
}

#[test]
fn gaps_between_roots_lower_the_share() {
    let events = vec![
        lasting(at(1, "a", 0, call("first")), 10),
        lasting(at(2, "b", 20, call("second")), 10),
    ];
    let path = path_of(&events);
    assert_eq!(path.total_duration_ms, 20.0);
    assert!((path.share_of_trace - 20.0 / 30.0).abs() < 1e-12);
}

#[test]
fn placeholders_are_crossed_but_not_listed() {
    let events = vec![
        lasting(with_parent(at(2, "w", 0, call("orphan")), 99), 8),
        lasting(with_parent(at(3, "w", 8, call("next")), 2), 4),
    ];
    let path = path_of(&events);
    assert_eq!(step_ids(&path), vec![id(2), id(3)]);
    assert_eq!(path.total_duration_ms, 12.0);
}

#[test]
fn empty_and_deep_traces() {
    let empty = path_of(&[]);
    assert!(empty.steps.is_empty());
    assert_eq!((empty.total_duration_ns, empty.share_of_trace), (0, 0.0));

    let n = 20_000u128;
    let events = chain(n);
    let path = path_of(&events);
    assert_eq!(path.steps.len(), n as usize);
    assert_eq!(path.total_duration_ns, (n as u64 - 1) * MS as u64);
}

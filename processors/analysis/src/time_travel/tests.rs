use raceway_schemas::{AccessType, Event, EventKind, LockMode, StateChange};

use super::*;
use crate::testing::{acquire, call, event, held, id, release, trusted};
use crate::trace_causality;

/// A StateChange on `variable` with the recorded value `value`.
fn set(variable: &str, value: &str, access_type: AccessType) -> EventKind {
    EventKind::StateChange(StateChange {
        variable: variable.into(),
        old_value: None,
        new_value: value.into(),
        location: "balance.rs:1".into(),
        access_type,
    })
}

/// The fixture, shaped the same: a call, then worker-1 writes 15, then worker-2 writes 20.
fn fixture() -> Vec<Event> {
    let mut first = event(
        2,
        "worker-1",
        1_000,
        set("balance", "15", AccessType::Write),
    );
    first.parent_id = Some(id(1));
    let mut second = event(
        3,
        "worker-2",
        2_000,
        set("balance", "20", AccessType::Write),
    );
    second.parent_id = Some(id(1));
    // Given out of order: the state must not depend on arrival.
    vec![second, event(1, "main", 0, call()), first]
}

/// Events 1, 2, ... 10 ns apart: (thread, variable, recorded value, access).
fn accesses(accesses: &[(&str, &str, &str, AccessType)]) -> Vec<Event> {
    (1..)
        .zip(accesses)
        .map(|(n, &(thread, variable, value, access))| {
            event(n, thread, n as i64 * 10, set(variable, value, access))
        })
        .collect()
}

fn state(events: &[Event], step: usize) -> TraceState {
    state_after(events, &trace_causality(events), step).expect("step exists")
}

#[test]
fn steps_follow_the_causal_order_with_labels() {
    let events = fixture();
    let steps = trace_steps(&events, &trace_causality(&events));
    let ids: Vec<Uuid> = steps.iter().map(|s| s.event_id).collect();
    assert_eq!(ids, vec![id(1), id(2), id(3)]);
    assert_eq!(steps[1].label, "write balance = 15");
    assert_eq!(steps[1].kind, "StateChange");
    assert_eq!(steps[2].actor.thread, "worker-2");
    assert_eq!(steps[0].label, "call handle");
}

#[test]
fn state_after_a_write_holds_its_value_and_writer() {
    let events = fixture();
    let after_first = state(&events, 1);
    let balance = &after_first.variables["balance"];
    assert_eq!(balance.value, "15");
    assert_eq!(balance.written_at_step, Some(1));
    let writer = balance.last_writer.as_ref().expect("written");
    assert_eq!(
        (writer.event_id, writer.actor.thread.as_str()),
        (id(2), "worker-1")
    );

    let after_second = state(&events, 2);
    let balance = &after_second.variables["balance"];
    assert_eq!(balance.value, "20");
    let writer = balance.last_writer.as_ref().expect("written");
    assert_eq!(writer.actor.thread, "worker-2");
    assert_eq!((after_second.step, after_second.total_steps), (2, 3));
}

#[test]
fn before_any_access_the_variable_does_not_exist() {
    let events = fixture();
    assert!(state(&events, 0).variables.is_empty());
    assert!(state_after(&events, &trace_causality(&events), 3).is_none());
}

#[test]
fn a_read_gives_the_value_until_the_first_write_and_never_after() {
    use AccessType::{Read, Write};
    let events = accesses(&[
        ("a", "x", "1", Read),
        ("a", "x", "2", Write),
        ("a", "x", "7", Read),
    ]);
    let read_only = &state(&events, 0).variables["x"];
    assert_eq!(read_only.value, "1");
    assert_eq!(
        (read_only.last_writer.as_ref(), read_only.written_at_step),
        (None, None)
    );
    assert_eq!(state(&events, 1).variables["x"].value, "2");
    // A later read (even one that saw another value) does not replace the written value.
    let after_read = &state(&events, 2).variables["x"];
    assert_eq!(
        (after_read.value.as_str(), after_read.written_at_step),
        ("2", Some(1))
    );
}

#[test]
fn threads_show_their_last_event_and_the_locks_they_hold() {
    let events = vec![
        event(1, "a", 0, acquire("m", LockMode::Exclusive)),
        event(2, "a", 10, set("x", "1", AccessType::Write)),
        event(3, "b", 20, call()),
        event(4, "a", 30, release("m", LockMode::Exclusive)),
    ];
    let mid = state(&events, 2);
    let threads: Vec<(&str, Uuid, Vec<HeldLock>)> = mid
        .threads
        .iter()
        .map(|t| {
            (
                t.actor.thread.as_str(),
                t.last_event_id,
                t.locks_held.clone(),
            )
        })
        .collect();
    assert_eq!(
        threads,
        vec![
            ("a", id(2), vec![held("m", LockMode::Exclusive)]),
            ("b", id(3), vec![]),
        ]
    );
    let end = state(&events, 3);
    assert!(end.threads[0].locks_held.is_empty());
    assert_eq!(end.threads[0].last_step, 3);
}

/// `acquire`/`release` of a semaphore: a lock type that excludes nobody.
fn semaphore(kind: EventKind) -> EventKind {
    match kind {
        EventKind::LockAcquire(mut lock) => {
            lock.lock_type = "Semaphore".into();
            EventKind::LockAcquire(lock)
        }
        EventKind::LockRelease(mut lock) => {
            lock.lock_type = "Semaphore".into();
            EventKind::LockRelease(lock)
        }
        other => other,
    }
}

#[test]
fn threads_show_the_semaphore_permits_they_hold() {
    let events = vec![
        event(1, "a", 0, semaphore(acquire("pool", LockMode::Exclusive))),
        event(2, "a", 10, acquire("m", LockMode::Exclusive)),
        event(3, "b", 20, semaphore(acquire("pool", LockMode::Exclusive))),
        event(4, "a", 30, release("m", LockMode::Exclusive)),
        event(5, "a", 40, semaphore(release("pool", LockMode::Exclusive))),
    ];
    let held_at = |step: usize| -> Vec<(String, Vec<HeldLock>)> {
        state(&events, step)
            .threads
            .iter()
            .map(|t| (t.actor.thread.clone(), t.locks_held.clone()))
            .collect()
    };
    // Both hold a permit at once: a semaphore excludes nobody, yet each holds it.
    assert_eq!(
        held_at(2),
        vec![
            (
                "a".to_string(),
                vec![
                    held("m", LockMode::Exclusive),
                    held("pool", LockMode::Exclusive)
                ]
            ),
            ("b".to_string(), vec![held("pool", LockMode::Exclusive)]),
        ]
    );
    assert_eq!(
        held_at(4),
        vec![
            ("a".to_string(), vec![]),
            ("b".to_string(), vec![held("pool", LockMode::Exclusive)]),
        ]
    );
}

#[test]
fn trusted_clocks_order_the_replay_against_timestamps() {
    // The write that happens first carries the later timestamp (clock skew).
    let events = vec![
        trusted(
            event(1, "a", 50, set("x", "first", AccessType::Write)),
            &[("a", 1)],
        ),
        trusted(
            event(2, "b", 10, set("x", "second", AccessType::Write)),
            &[("a", 1), ("b", 1)],
        ),
    ];
    assert_eq!(state(&events, 1).variables["x"].value, "second");
    let causality = trace_causality(&events);
    assert_eq!(step_of_event(&events, &causality, id(2)), Some(1));
    assert_eq!(step_of_event(&events, &causality, id(9)), None);
}

#[test]
fn compare_lists_only_variables_whose_values_differ() {
    let write = AccessType::Write;
    let events = accesses(&[
        ("a", "x", "1", write),
        ("b", "x", "1", write),
        ("a", "y", "5", write),
        ("a", "x", "3", write),
    ]);
    // Same value, other writer: no difference.
    assert!(compare_states(&state(&events, 0), &state(&events, 1)).is_empty());
    let differences = compare_states(&state(&events, 1), &state(&events, 3));
    let summary: Vec<(&str, Option<&str>, Option<&str>)> = differences
        .iter()
        .map(|d| {
            (
                d.variable.as_str(),
                d.left.as_ref().map(|v| v.value.as_str()),
                d.right.as_ref().map(|v| v.value.as_str()),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![("x", Some("1"), Some("3")), ("y", None, Some("5"))]
    );
}

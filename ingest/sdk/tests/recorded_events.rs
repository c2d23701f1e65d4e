//! The events the recording path delivers are exactly what was recorded: each event's clock is
//! the actor's clock right after it, across own steps, lock hand-overs, spawns, joins and span
//! changes; names, values and locations read as they were given, short or past the inline text.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{clock, local_var, memory_tracer};
use raceway_schemas::{Event, EventKind, VectorClock};
use raceway_sdk::{Actor, Tracked, TrackedMutex, Var};
use serde::Serialize;
use uuid::Uuid;

/// Records through `record` and keeps the actor's clock right after it, by the event's id.
fn expect(
    expected: &mut BTreeMap<Uuid, VectorClock>,
    actor: &mut Actor,
    record: impl FnOnce(&mut Actor),
) {
    record(actor);
    let id = actor.last_event_id().expect("recorded");
    expected.insert(id, actor.clock().clone());
}

#[test]
fn every_event_carries_its_actors_clock_at_that_step() {
    let (tracer, sink) = memory_tracer();
    let lock = Arc::new(TrackedMutex::new("lock", 0_u64));
    let mut expected = BTreeMap::new();
    let mut main = tracer.start_trace("main");
    for i in 0..3_u64 {
        expect(&mut expected, &mut main, |a| a.write("x", &i, &(i + 1)));
    }
    let mut children = Vec::new();
    for name in ["a", "b"] {
        let mut child = main.spawn_child(name);
        expected.insert(main.last_event_id().expect("spawn"), main.clock().clone());
        let (lock, mut mine) = (Arc::clone(&lock), BTreeMap::new());
        children.push(std::thread::spawn(move || {
            for i in 0..50_u64 {
                expect(&mut mine, &mut child, |a| a.read("y", &i));
                let mut guard = lock.lock(&mut child).expect("not poisoned");
                let (value, actor) = guard.split();
                let acquired = actor.last_event_id().expect("acquire");
                mine.insert(acquired, actor.clock().clone());
                expect(&mut mine, actor, |a| a.write("y", &*value, &(*value + 1)));
                *value += 1;
                drop(guard);
                mine.insert(
                    child.last_event_id().expect("release"),
                    child.clock().clone(),
                );
            }
            (child, mine)
        }));
    }
    for handle in children {
        let (child, mine) = handle.join().expect("child");
        expected.extend(mine);
        expect(&mut expected, &mut main, |a| a.join(child));
        expect(&mut expected, &mut main, |a| a.read("x", &3));
    }
    tracer.shutdown_blocking().expect("shutdown");

    let events = sink.events();
    assert_eq!(events.len(), expected.len());
    for event in &events {
        let want = expected.get(&event.id).expect("an expected event");
        assert_eq!(&clock(event), want, "{:?}", event.kind);
        let sorted = event
            .causality_vector
            .windows(2)
            .all(|pair| pair[0].0 < pair[1].0);
        assert!(
            sorted,
            "pairs sorted and distinct: {:?}",
            event.causality_vector
        );
    }
}

#[derive(Serialize)]
struct Account {
    owner: &'static str,
    balance: i64,
    tags: Vec<&'static str>,
}

fn state_change(event: &Event) -> (&str, Option<&str>, &str, &str) {
    let change = event.state_change().expect("a state change");
    (
        change.variable.as_str(),
        change.old_value.as_deref(),
        change.new_value.as_str(),
        change.location.as_str(),
    )
}

#[test]
fn names_values_and_locations_read_as_recorded_short_or_long() {
    let (tracer, sink) = memory_tracer();
    let mut main = tracer.start_trace("main");
    let long_name = "a-variable-name-".repeat(8);
    let long_text = "ü{x}\"q\"\n".repeat(20);
    let account = Account {
        owner: "alice",
        balance: -5,
        tags: vec!["b", "a"],
    };
    let line = line!() + 1;
    main.write("short", &1_u8, &2_u8);
    main.write(&long_name, &long_text, &vec![1.5_f64, -0.0]);
    main.read(Var::shared("account:alice"), &account);
    main.write("text", "a{b}", &Option::<u8>::None);
    let tracked = Tracked::new("tracked", String::from("before"));
    tracked.write(&mut main, long_text.clone());
    tracked.read(&mut main);
    let lock = TrackedMutex::new(long_name.clone(), ());
    drop(lock.lock(&mut main).expect("not poisoned"));
    tracer.shutdown_blocking().expect("shutdown");

    let events = sink.events();
    let here = |offset: u32| format!("{}:{}", file!(), line + offset);
    let account_json = r#"{"balance":-5,"owner":"alice","tags":["b","a"]}"#;
    let long_json = serde_json::to_string(&long_text).expect("text");
    let numbers = serde_json::to_string(&[1.5_f64, -0.0]).expect("numbers");
    assert_eq!(
        state_change(&events[0]),
        (
            local_var("short").as_str(),
            Some("1"),
            "2",
            here(0).as_str()
        )
    );
    assert_eq!(
        state_change(&events[1]),
        (
            local_var(&long_name).as_str(),
            Some(long_json.as_str()),
            numbers.as_str(),
            here(1).as_str()
        )
    );
    assert_eq!(
        state_change(&events[2]),
        ("account:alice", None, account_json, here(2).as_str())
    );
    assert_eq!(
        state_change(&events[3]),
        (
            local_var("text").as_str(),
            Some(r#""a{b}""#),
            "null",
            here(3).as_str()
        )
    );
    assert_eq!(
        state_change(&events[4]),
        (
            local_var("tracked").as_str(),
            Some(r#""before""#),
            long_json.as_str(),
            here(5).as_str()
        )
    );
    assert_eq!(
        state_change(&events[5]),
        (
            local_var("tracked").as_str(),
            None,
            long_json.as_str(),
            here(6).as_str()
        )
    );
    for (event, acquire) in events[6..].iter().zip([true, false]) {
        let lock = match (&event.kind, acquire) {
            (EventKind::LockAcquire(lock), true) | (EventKind::LockRelease(lock), false) => lock,
            other => panic!("not the lock event expected: {other:?}"),
        };
        assert_eq!(lock.lock_id, local_var(&long_name));
        assert_eq!(lock.lock_type, "Mutex");
        assert_eq!(lock.location, here(8));
    }
    assert_eq!(events.len(), 8);
}

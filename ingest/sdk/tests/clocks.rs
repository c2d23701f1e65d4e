//! Clocks recorded by actors: spawn/join, unsynchronised and locked accesses, locations.

mod common;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use common::{clock, find, join_all, local_var, memory_tracer, of_actor, spawn_workers, writes_of};
use raceway_schemas::{AccessType, EventKind, LockMode, TRUSTED_CLOCK_VALUE};
use raceway_sdk::{TrackedMutex, Var};

#[test]
fn unlocked_writes_from_two_threads_are_concurrent() {
    let (tracer, sink) = memory_tracer();
    let balance = Arc::new(AtomicI64::new(100));
    let mut main = tracer.start_trace("main");
    let workers = spawn_workers(&mut main, &["alice", "bob"], &balance, |actor, balance| {
        let old = balance.load(Ordering::Relaxed);
        actor.read("balance", &old);
        balance.store(old - 10, Ordering::Relaxed);
        actor.write("balance", &old, &(old - 10));
    });
    join_all(&mut main, workers);
    main.read("balance", &balance.load(Ordering::Relaxed));
    tracer.shutdown_blocking().unwrap();

    let events = sink.events();
    let writes = writes_of(&events, &local_var("balance"));
    assert_eq!(writes.len(), 2);
    assert_ne!(writes[0].metadata.thread_id, writes[1].metadata.thread_id);
    let (a, b) = (clock(writes[0]), clock(writes[1]));
    assert!(a.concurrent_with(&b), "{a:?} vs {b:?}");
    // After joining both, main's read is ordered after both writes.
    let last = events
        .iter()
        .rfind(|e| e.metadata.thread_id == main.name())
        .unwrap();
    assert!(a.happens_before(&clock(last)) && b.happens_before(&clock(last)));
}

#[test]
fn a_tracked_mutex_orders_the_second_acquirer_after_the_first_releaser() {
    let (tracer, sink) = memory_tracer();
    let balance = Arc::new(TrackedMutex::new("balance-lock", 100_i64));
    let mut main = tracer.start_trace("main");
    let workers = spawn_workers(&mut main, &["alice", "bob"], &balance, |actor, balance| {
        let mut guard = balance.lock(actor).unwrap();
        let (value, me) = guard.split();
        me.read("balance", &*value);
        me.write("balance", &*value, &(*value - 10));
        *value -= 10;
    });
    let names: Vec<String> = workers
        .into_iter()
        .map(|w| {
            let actor = w.join().unwrap();
            let name = actor.name().to_string();
            main.join(actor);
            name
        })
        .collect();
    tracer.shutdown_blocking().unwrap();
    assert_eq!(Arc::try_unwrap(balance).unwrap().into_inner(), 80);

    let events = sink.events();
    let acquire = |n: &str| clock(find(&events, n, "LockAcquire"));
    let release = |n: &str| clock(find(&events, n, "LockRelease"));
    let (x, y) = (names[0].as_str(), names[1].as_str());
    let x_first = release(x).happens_before(&acquire(y));
    let y_first = release(y).happens_before(&acquire(x));
    assert!(
        x_first != y_first,
        "exactly one critical section comes first"
    );
    let (first, second) = if x_first { (x, y) } else { (y, x) };
    assert!(release(first).le(&acquire(second)));
    let write = |n: &str| {
        clock(
            writes_of(&events, &local_var("balance"))
                .into_iter()
                .find(|e| e.metadata.thread_id == n)
                .unwrap(),
        )
    };
    assert!(write(first).happens_before(&write(second)));

    let EventKind::LockAcquire(lock) = &find(&events, first, "LockAcquire").kind else {
        unreachable!()
    };
    assert_eq!(lock.lock_id, local_var("balance-lock"));
    assert_eq!(lock.lock_type, "Mutex");
    assert_eq!(lock.mode, LockMode::Exclusive);
}

#[test]
fn spawn_and_join_order_parent_and_child() {
    let (tracer, sink) = memory_tracer();
    let mut parent = tracer.start_trace("parent");
    parent.write("x", &0, &1);
    let mut child = parent.spawn_child("child");
    let child_name = child.name().to_string();
    let worker = std::thread::spawn(move || {
        child.write("x", &1, &2);
        child
    });
    parent.read("y", &0); // concurrent with the child's write
    parent.join(worker.join().unwrap());
    parent.write("x", &2, &3);
    tracer.shutdown_blocking().unwrap();

    let events = sink.events();
    let parent_events = of_actor(&events, parent.name());
    let child_events = of_actor(&events, &child_name);
    let kinds: Vec<_> = parent_events.iter().map(|e| e.kind.name()).collect();
    assert_eq!(
        kinds,
        [
            "StateChange",
            "AsyncSpawn",
            "StateChange",
            "AsyncAwait",
            "StateChange"
        ]
    );
    assert_eq!(child_events.len(), 1);
    let (before, spawn, during, await_, after) = (
        parent_events[0],
        parent_events[1],
        parent_events[2],
        parent_events[3],
        parent_events[4],
    );
    let child_write = child_events[0];

    assert!(clock(before).happens_before(&clock(child_write)));
    assert!(clock(spawn).happens_before(&clock(child_write)));
    assert_eq!(child_write.parent_id, Some(spawn.id));
    assert!(clock(during).concurrent_with(&clock(child_write)));
    assert!(clock(child_write).happens_before(&clock(await_)));
    assert!(clock(child_write).happens_before(&clock(after)));

    let EventKind::AsyncSpawn(spawned) = &spawn.kind else {
        unreachable!()
    };
    assert_eq!(spawned.task_id, child_name);
    assert_eq!(spawned.spawned_by, parent.name());
    assert_eq!(spawned.task_name.as_deref(), Some("child"));
    let EventKind::AsyncAwait(awaited) = &await_.kind else {
        unreachable!()
    };
    assert_eq!(awaited.future_id, child_name);
    // Program order: each event's parent is the actor's previous event.
    for pair in parent_events.windows(2) {
        assert_eq!(pair[1].parent_id, Some(pair[0].id));
    }
}

#[test]
fn locations_point_at_the_calling_line() {
    let (tracer, sink) = memory_tracer();
    let mutex = TrackedMutex::new("m", 0);
    let mut actor = tracer.start_trace("main");
    let write_line = line!() + 1;
    actor.write("x", &0, &1);
    let lock_line = line!() + 1;
    let guard = mutex.lock(&mut actor).unwrap();
    let unlock_line = line!() + 1;
    guard.unlock();
    let spawn_line = line!() + 1;
    let child = actor.spawn_child("c");
    let join_line = line!() + 1;
    actor.join(child);
    tracer.shutdown_blocking().unwrap();

    let at = |line: u32| format!("{}:{}", file!(), line);
    let events = sink.events();
    let location = |kind: &str| match &find(&events, actor.name(), kind).kind {
        EventKind::StateChange(c) => c.location.clone(),
        EventKind::LockAcquire(l) | EventKind::LockRelease(l) => l.location.clone(),
        EventKind::AsyncSpawn(s) => s.spawned_at.clone().unwrap_or_default(),
        EventKind::AsyncAwait(a) => a.awaited_at.clone(),
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(location("StateChange"), at(write_line));
    assert_eq!(location("LockAcquire"), at(lock_line));
    assert_eq!(location("LockRelease"), at(unlock_line));
    assert_eq!(location("AsyncSpawn"), at(spawn_line));
    assert_eq!(location("AsyncAwait"), at(join_line));
}

#[test]
fn events_carry_the_trusted_clock_tag_and_actor_metadata() {
    let (tracer, sink) = memory_tracer();
    let mut actor = tracer.start_trace("main");
    actor.read("local", &1);
    actor.write(Var::shared("account:alice.balance"), &100, &70);
    #[derive(serde::Serialize)]
    struct Row {
        z: u8,
        a: [u8; 2],
    }
    actor.read("json", &Row { z: 0, a: [1, 2] });
    tracer.shutdown_blocking().unwrap();

    let events = sink.events();
    assert_eq!(events.len(), 3);
    for (n, event) in events.iter().enumerate() {
        assert!(event.has_trusted_clock());
        assert_eq!(common::clock_tag(event), Some(TRUSTED_CLOCK_VALUE));
        assert_eq!(event.trace_id, actor.trace_id());
        assert_eq!(event.metadata.thread_id, actor.name());
        assert_eq!(event.metadata.service_name, "bank");
        assert_eq!(event.metadata.instance_id.as_deref(), Some("i-1"));
        assert_eq!(event.metadata.environment, "test");
        assert_eq!(event.metadata.process_id, std::process::id());
        assert_eq!(
            event.causality_vector,
            vec![(actor.component().to_string(), n as u64 + 1)]
        );
        assert!(event.lock_set.is_empty());
    }
    assert_eq!(actor.component(), format!("bank#i-1/{}", actor.name()));
    let changes: Vec<_> = events.iter().filter_map(|e| e.state_change()).collect();
    assert_eq!(changes[0].variable, local_var("local"));
    assert_eq!(changes[0].access_type, AccessType::Read);
    assert_eq!(changes[0].old_value, None);
    assert_eq!(changes[1].variable, "account:alice.balance");
    assert_eq!(changes[1].old_value.as_deref(), Some("100"));
    assert_eq!(changes[1].new_value, "70");
    assert_eq!(
        changes[2].new_value, r#"{"a":[1,2],"z":0}"#,
        "canonical: keys sorted"
    );
}

#[test]
fn actors_with_the_same_label_get_distinct_components() {
    let (tracer, _sink) = memory_tracer();
    let a = tracer.start_trace("worker");
    let b = tracer.start_trace("worker");
    assert_ne!(a.component(), b.component());
    assert!(a.name().starts_with("worker-") && b.name().starts_with("worker-"));
}

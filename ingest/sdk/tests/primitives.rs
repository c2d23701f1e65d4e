//! Tracked atomics, RwLock and `Tracked<T>`: their events and the findings the analyses derive.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{clock, findings_of, join_all, local_var, memory_tracer, writes_of};
use raceway_schemas::{AccessType, FindingKind};
use raceway_sdk::{Tracked, TrackedAtomicBool, TrackedAtomicU64, TrackedRwLock, Var};

/// A writer publishes `data` through a flag; a reader spins on the flag, then reads `data`.
fn message_passing(store: Ordering, load: Ordering) -> Vec<raceway_schemas::Event> {
    let (tracer, sink) = memory_tracer();
    let flag = Arc::new(TrackedAtomicBool::new("ready", false));
    let data = Arc::new(AtomicBool::new(false));
    let mut main = tracer.start_trace("main");
    let (mut writer, mut reader) = (main.spawn_child("writer"), main.spawn_child("reader"));
    let (wflag, rflag, wdata, rdata) = (flag.clone(), flag, data.clone(), data);
    let w = std::thread::spawn(move || {
        wdata.store(true, Ordering::Relaxed);
        writer.write("data", &false, &true);
        wflag.store(&mut writer, true, store);
        writer
    });
    let r = std::thread::spawn(move || {
        while !rflag.load(&mut reader, load) {
            std::thread::yield_now();
        }
        let seen = rdata.load(Ordering::Relaxed);
        reader.read("data", &seen);
        reader
    });
    let (w, r) = (w.join().unwrap(), r.join().unwrap());
    main.join(w);
    main.join(r);
    tracer.shutdown_blocking().unwrap();
    sink.events()
}

#[test]
fn release_store_and_acquire_load_order_the_published_data() {
    let events = message_passing(Ordering::Release, Ordering::Acquire);
    let flag_accesses: Vec<_> = events
        .iter()
        .filter_map(|e| e.state_change())
        .filter(|c| c.variable == local_var("ready"))
        .map(|c| c.access_type)
        .collect();
    assert!(flag_accesses.contains(&AccessType::AtomicWrite));
    assert!(flag_accesses.contains(&AccessType::AtomicRead));
    let races = findings_of(&events, FindingKind::DataRace, &local_var("data"));
    assert!(races.is_empty(), "ordered by release/acquire: {races:?}");
    // The flag itself is atomic on both sides: never a data race.
    assert!(findings_of(&events, FindingKind::DataRace, &local_var("ready")).is_empty());
}

#[test]
fn relaxed_flag_does_not_order_the_data() {
    let events = message_passing(Ordering::Relaxed, Ordering::Relaxed);
    let races = findings_of(&events, FindingKind::DataRace, &local_var("data"));
    assert_eq!(races.len(), 1, "relaxed publishes nothing: {races:?}");
}

#[test]
fn fetch_add_records_read_modify_writes_with_old_and_new_values() {
    let (tracer, sink) = memory_tracer();
    let counter = TrackedAtomicU64::new("hits", 41);
    let mut actor = tracer.start_trace("main");
    assert_eq!(counter.fetch_add(&mut actor, 1, Ordering::AcqRel), 41);
    assert_eq!(
        counter.compare_exchange(&mut actor, 7, 9, Ordering::SeqCst, Ordering::Acquire),
        Err(42)
    );
    assert_eq!(counter.swap(&mut actor, 5, Ordering::SeqCst), 42);
    tracer.shutdown_blocking().unwrap();
    let changes: Vec<_> = sink
        .events()
        .into_iter()
        .filter_map(|e| e.state_change().cloned())
        .collect();
    let summary: Vec<_> = changes
        .iter()
        .map(|c| (c.access_type, c.old_value.clone(), c.new_value.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (AccessType::AtomicRMW, Some("41".into()), "42".into()),
            (AccessType::AtomicRead, None, "42".into()),
            (AccessType::AtomicRMW, Some("42".into()), "5".into()),
        ]
    );
    assert!(
        changes[0].location.starts_with(file!()),
        "{}",
        changes[0].location
    );
}

#[test]
fn rwlock_writers_are_ordered_and_record_their_mode() {
    let (tracer, sink) = memory_tracer();
    let table = Arc::new(TrackedRwLock::new("table", 0_i64));
    let mut main = tracer.start_trace("main");
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let mut actor = main.spawn_child("worker");
            let table = table.clone();
            std::thread::spawn(move || {
                if i % 2 == 0 {
                    let mut guard = table.write(&mut actor).unwrap();
                    let (value, actor) = guard.split();
                    actor.write("row", &*value, &(*value + 1));
                    *value += 1;
                } else {
                    let mut guard = table.read(&mut actor).unwrap();
                    let (value, actor) = guard.split();
                    actor.read("row", value);
                }
                actor
            })
        })
        .collect();
    join_all(&mut main, threads);
    tracer.shutdown_blocking().unwrap();
    let events = sink.events();
    let writes = writes_of(&events, &local_var("row"));
    assert_eq!(writes.len(), 2);
    let (a, b) = (clock(writes[0]), clock(writes[1]));
    assert!(
        a.happens_before(&b) || b.happens_before(&a),
        "writers ordered"
    );
    let modes: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            raceway_schemas::EventKind::LockAcquire(lock) => Some(lock.lock_type.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(modes.iter().filter(|m| *m == "RwLock::Write").count(), 2);
    assert_eq!(modes.iter().filter(|m| *m == "RwLock::Read").count(), 2);
    assert!(findings_of(&events, FindingKind::DataRace, &local_var("row")).is_empty());
}

#[test]
fn tracked_read_then_write_from_two_threads_is_a_lost_update() {
    let (tracer, sink) = memory_tracer();
    let balance = Arc::new(Tracked::shared("account:alice.balance", 100_i64));
    let mut main = tracer.start_trace("main");
    let barrier = Arc::new(std::sync::Barrier::new(2));
    let tellers: Vec<_> = [30, 50]
        .into_iter()
        .map(|amount| {
            let mut actor = main.spawn_child("teller");
            let (balance, barrier) = (balance.clone(), barrier.clone());
            std::thread::spawn(move || {
                let read = balance.read(&mut actor);
                barrier.wait(); // both read before either writes
                balance.write(&mut actor, read - amount);
                actor
            })
        })
        .collect();
    join_all(&mut main, tellers);
    tracer.shutdown_blocking().unwrap();
    let events = sink.events();
    let lost = findings_of(&events, FindingKind::LostUpdate, "account:alice.balance");
    assert!(!lost.is_empty(), "lost update found");
    for finding in &lost {
        assert!(finding.first.location.starts_with(file!()));
        assert!(finding.second.location.starts_with(file!()));
    }
    let _ = Var::shared("unused"); // the Var API stays public
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tokio_mutex_orders_sections_that_await() {
    let (tracer, sink) = memory_tracer();
    let balance = Arc::new(raceway_sdk::TrackedAsyncMutex::new("balance-lock", 100_i64));
    let mut main = tracer.start_trace("main");
    let tasks: Vec<_> = [30, 50]
        .into_iter()
        .map(|amount| {
            let mut actor = main.spawn_child("teller");
            let balance = balance.clone();
            tokio::spawn(async move {
                {
                    let mut guard = balance.lock(&mut actor).await;
                    let read = *guard;
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    let (value, actor) = guard.split();
                    actor.read(Var::shared("account:bob.balance"), &read);
                    actor.write(Var::shared("account:bob.balance"), &read, &(read - amount));
                    *value = read - amount;
                }
                actor
            })
        })
        .collect();
    for task in tasks {
        main.join(task.await.unwrap());
    }
    tracer.shutdown().await.unwrap();
    let events = sink.events();
    let writes = writes_of(&events, "account:bob.balance");
    assert_eq!(writes.len(), 2);
    let (a, b) = (clock(writes[0]), clock(writes[1]));
    assert!(
        a.happens_before(&b) || b.happens_before(&a),
        "sections ordered"
    );
    let findings = common::findings(&events);
    assert!(findings.is_empty(), "{findings:?}");
    let acquire = events
        .iter()
        .find_map(|e| match &e.kind {
            raceway_schemas::EventKind::LockAcquire(lock) => Some(lock.location.clone()),
            _ => None,
        })
        .unwrap();
    assert!(acquire.starts_with(file!()), "{acquire}");
}

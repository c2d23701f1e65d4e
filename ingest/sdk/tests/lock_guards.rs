//! The API every tracked lock shares: `try_*` that records only what it takes, `unlock` located
//! at its caller, release clocks handed to the next holder, and `get_mut`/`into_inner`.

mod common;

use std::sync::{TryLockError, TryLockResult};

use common::{clock, memory_tracer};
use raceway_schemas::{Event, EventKind};
use raceway_sdk::{MemorySink, Tracer, TrackedAsyncMutex, TrackedMutex, TrackedRwLock};

/// (event kind, lock type, line) of the lock events of the actor named `actor`.
fn lock_events(events: &[Event], actor: &str) -> Vec<(&'static str, String, u32)> {
    let line = |location: &str| location.rsplit(':').next().unwrap().parse().unwrap();
    events
        .iter()
        .filter(|e| e.metadata.thread_id == actor)
        .filter_map(|e| match &e.kind {
            EventKind::LockAcquire(l) => Some(("acquire", l.lock_type.clone(), line(&l.location))),
            EventKind::LockRelease(l) => Some(("release", l.lock_type.clone(), line(&l.location))),
            _ => None,
        })
        .collect()
}

/// A memory tracer, a mutex holding `m` and an RwLock holding `rw`.
fn tracer_and_locks(
    m: i32,
    rw: i32,
) -> (Tracer, MemorySink, TrackedMutex<i32>, TrackedRwLock<i32>) {
    let (tracer, sink) = memory_tracer();
    (
        tracer,
        sink,
        TrackedMutex::new("m", m),
        TrackedRwLock::new("rw", rw),
    )
}

fn is_busy<G>(result: TryLockResult<G>) -> bool {
    matches!(result, Err(TryLockError::WouldBlock))
}

#[test]
fn try_locks_of_a_busy_lock_record_nothing_and_unlock_is_located_at_its_caller() {
    let (tracer, sink, mutex, rwlock) = tracer_and_locks(1, 2);
    let (mut owner, mut actor) = (tracer.start_trace("owner"), tracer.start_trace("actor"));

    let held = mutex.lock(&mut owner).unwrap();
    assert!(is_busy(mutex.try_lock(&mut actor)));
    drop(held);
    let written = rwlock.write(&mut owner).unwrap();
    assert!(is_busy(rwlock.try_read(&mut actor)));
    assert!(is_busy(rwlock.try_write(&mut actor)));
    drop(written);

    let mut expected = Vec::new();
    let mut mutex_guard = mutex.try_lock(&mut actor).unwrap();
    expected.push(("acquire", "Mutex", line!() - 1));
    *mutex_guard += 1;
    mutex_guard.actor().write("m-value", &1, &2);
    mutex_guard.unlock();
    expected.push(("release", "Mutex", line!() - 1));
    let mut read_guard = rwlock.try_read(&mut actor).unwrap();
    expected.push(("acquire", "RwLock::Read", line!() - 1));
    assert_eq!(*read_guard, 2);
    read_guard.actor().read("rw-value", &2);
    read_guard.unlock();
    expected.push(("release", "RwLock::Read", line!() - 1));
    let mut write_guard = rwlock.try_write(&mut actor).unwrap();
    expected.push(("acquire", "RwLock::Write", line!() - 1));
    *write_guard += 1;
    write_guard.unlock();
    expected.push(("release", "RwLock::Write", line!() - 1));
    tracer.shutdown_blocking().unwrap();

    let recorded = lock_events(&sink.events(), actor.name());
    let expected: Vec<_> = expected
        .into_iter()
        .map(|(kind, lock_type, line)| (kind, lock_type.to_string(), line))
        .collect();
    assert_eq!(recorded, expected);
    assert_eq!((mutex.into_inner(), rwlock.into_inner()), (2, 3));
}

#[test]
fn a_try_acquirer_is_ordered_after_the_last_release() {
    let (tracer, sink, mutex, rwlock) = tracer_and_locks(0, 0);
    let (mut first, mut second) = (tracer.start_trace("first"), tracer.start_trace("second"));
    mutex.lock(&mut first).unwrap().actor().write("x", &0, &1);
    mutex.try_lock(&mut second).unwrap().actor().read("x", &1);
    rwlock.write(&mut first).unwrap().actor().write("y", &0, &1);
    rwlock.try_read(&mut second).unwrap().actor().read("y", &1);
    rwlock
        .try_write(&mut second)
        .unwrap()
        .actor()
        .write("y", &1, &2);
    tracer.shutdown_blocking().unwrap();

    let events = sink.events();
    // Batches are per trace: take each trace's accesses in its own recording order.
    let accesses_of = |actor: &raceway_sdk::Actor| -> Vec<_> {
        let of_actor = events
            .iter()
            .filter(|e| e.metadata.thread_id == actor.name());
        of_actor
            .filter(|e| e.state_change().is_some())
            .map(clock)
            .collect()
    };
    let (firsts, seconds) = (accesses_of(&first), accesses_of(&second));
    assert_eq!((firsts.len(), seconds.len()), (2, 3));
    // x: mutex; y: write lock, then try_read and try_write by the second trace.
    assert!(firsts[0].happens_before(&seconds[0]));
    assert!(firsts[1].happens_before(&seconds[1]));
    assert!(seconds[1].happens_before(&seconds[2]));
}

#[tokio::test(flavor = "current_thread")]
async fn the_tokio_mutex_has_try_lock_unlock_get_mut_and_into_inner() {
    let (tracer, sink) = memory_tracer();
    let mut mutex = TrackedAsyncMutex::new("am", 1);
    *mutex.get_mut() += 1;
    let mut owner = tracer.start_trace("owner");
    let mut actor = tracer.start_trace("actor");

    let held = mutex.lock(&mut owner).await;
    assert!(mutex.try_lock(&mut actor).is_err(), "busy");
    drop(held);
    let mut guard = mutex.try_lock(&mut actor).unwrap();
    let acquired = line!() - 1;
    *guard += 1;
    let (value, me) = guard.split();
    me.read("am-value", &*value);
    guard.unlock();
    let released = line!() - 1;
    tracer.shutdown().await.unwrap();

    let recorded = lock_events(&sink.events(), actor.name());
    assert_eq!(
        recorded,
        vec![
            ("acquire", "Mutex".to_string(), acquired),
            ("release", "Mutex".to_string(), released)
        ]
    );
    let mut rwlock = TrackedRwLock::new("rw", 5);
    *rwlock.get_mut() += 1;
    assert_eq!((mutex.into_inner(), rwlock.into_inner()), (3, 6));
}

//! Builders for the unit tests of this crate: terse events and accesses.

use std::collections::BTreeMap;
use std::sync::Arc;

use raceway_schemas::{
    Access, AccessType, ActorId, Event, EventKind, FunctionCall, HeldLock, LockEvent, LockMode,
    Metadata, StateChange, TRUSTED_CLOCK_TAG, TRUSTED_CLOCK_VALUE,
};
use uuid::Uuid;

/// The trace most tests use.
pub(crate) const TRACE: Uuid = Uuid::from_u128(0xaaaa);

/// A readable id: `id(3)`.
pub(crate) fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

/// An event of service `web` in environment `test`, trace [`TRACE`], untrusted (no clock).
pub(crate) fn event(n: u128, thread: &str, timestamp_ns: i64, kind: EventKind) -> Event {
    event_in(TRACE, n, thread, timestamp_ns, kind)
}

/// Like [`event`], in another trace.
pub(crate) fn event_in(
    trace_id: Uuid,
    n: u128,
    thread: &str,
    timestamp_ns: i64,
    kind: EventKind,
) -> Event {
    Event {
        id: id(n),
        trace_id,
        parent_id: None,
        timestamp_ns,
        kind,
        metadata: Metadata {
            thread_id: thread.into(),
            process_id: 1,
            service_name: "web".into(),
            environment: "test".into(),
            ..Metadata::default()
        },
        causality_vector: Vec::new(),
        lock_set: Vec::new(),
    }
}

/// Marks `event` as carrying a clock from our SDK.
pub(crate) fn trusted(mut event: Event, clock: &[(&str, u64)]) -> Event {
    event.causality_vector = clock.iter().map(|(c, n)| (c.to_string(), *n)).collect();
    let mut tags = BTreeMap::new();
    tags.insert(
        TRUSTED_CLOCK_TAG.to_string(),
        TRUSTED_CLOCK_VALUE.to_string(),
    );
    event.metadata.tags = tags;
    event
}

/// A function call.
pub(crate) fn call() -> EventKind {
    EventKind::FunctionCall(FunctionCall {
        function_name: "handle".into(),
        ..FunctionCall::default()
    })
}

/// A state access.
pub(crate) fn access_kind(variable: &str, location: &str, access_type: AccessType) -> EventKind {
    EventKind::StateChange(StateChange {
        variable: variable.into(),
        old_value: Some("1".into()),
        new_value: "2".into(),
        location: location.into(),
        access_type,
    })
}

/// A plain write.
pub(crate) fn write(variable: &str, location: &str) -> EventKind {
    access_kind(variable, location, AccessType::Write)
}

fn lock_event(lock_id: &str, mode: LockMode) -> LockEvent {
    LockEvent {
        lock_id: lock_id.into(),
        mode,
        lock_type: match mode {
            LockMode::Exclusive => "Mutex".into(),
            LockMode::Shared => "RwLock::Read".into(),
        },
        location: "lock.rs:1".into(),
    }
}

/// A lock acquisition.
pub(crate) fn acquire(lock_id: &str, mode: LockMode) -> EventKind {
    EventKind::LockAcquire(lock_event(lock_id, mode))
}

/// A lock release.
pub(crate) fn release(lock_id: &str, mode: LockMode) -> EventKind {
    EventKind::LockRelease(lock_event(lock_id, mode))
}

/// An access record as the trace stage would forward it, with a derived-looking clock.
pub(crate) fn access(
    n: u128,
    thread: &str,
    timestamp_ns: i64,
    access_type: AccessType,
    clock: &[(&str, u64)],
) -> Access {
    Access {
        event_id: id(n),
        trace_id: TRACE,
        timestamp_ns,
        environment: "test".into(),
        variable: "balance".into(),
        access_type,
        location: format!("{thread}.rs:1").into(),
        value: "2".into(),
        old_value: None,
        actor: ActorId {
            service: "web".into(),
            instance: String::new(),
            thread: thread.into(),
        }
        .into(),
        clock: clock.iter().map(|(c, n)| (c.to_string(), *n)).collect(),
        trusted_clock: false,
        locks: Arc::from([]),
        trace_start_ns: 0,
        trace_end_ns: 1_000,
    }
}

/// A held lock.
pub(crate) fn held(lock_id: &str, mode: LockMode) -> HeldLock {
    HeldLock {
        lock_id: lock_id.into(),
        mode,
    }
}

/// Runs `round` `rounds` times with one seeded generator: the differential tests compare a
/// short cut with the rule it stands for on random cases.
pub(crate) fn random_rounds(
    seed: u64,
    rounds: usize,
    mut round: impl FnMut(&mut rand_xoshiro::Xoshiro256PlusPlus, usize),
) {
    use rand::SeedableRng;
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    for number in 0..rounds {
        round(&mut rng, number);
    }
}

/// `len` calls (ids 1 to `len`) on threads `a`, `b` and `c` at random times, without parents:
/// where the random traces start.
pub(crate) fn random_events(rng: &mut impl rand::Rng, len: u128) -> Vec<Event> {
    (1..=len)
        .map(|n| {
            let thread = ["a", "b", "c"][rng.gen_range(0..3)];
            event(n, thread, rng.gen_range(0..30), call())
        })
        .collect()
}

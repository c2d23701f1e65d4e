//! Helpers shared by the integration tests.
#![allow(dead_code)]

use raceway_schemas::{Event, EventKind};
use raceway_sdk::{Actor, MemorySink, Tracer, TracerConfig, VectorClock};

pub const SERVICE: &str = "bank";
pub const INSTANCE: &str = "i-1";

/// A tracer with a memory sink and the test service name.
pub fn memory_tracer() -> (Tracer, MemorySink) {
    let sink = MemorySink::new();
    let config = TracerConfig::new(SERVICE)
        .instance(INSTANCE)
        .environment("test");
    let tracer = Tracer::new(config, sink.clone()).expect("tracer starts");
    (tracer, sink)
}

/// The name a local variable is recorded under.
pub fn local_var(name: &str) -> String {
    format!("{SERVICE}#{INSTANCE}::{name}")
}

/// An event's clock.
pub fn clock(event: &Event) -> VectorClock {
    VectorClock::from_pairs(event.causality_vector.iter().cloned())
}

/// The events of actor `thread` in recording order.
pub fn of_actor<'a>(events: &'a [Event], thread: &str) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| e.metadata.thread_id == thread)
        .collect()
}

/// The first event of `thread` whose kind has the name `kind`.
pub fn find<'a>(events: &'a [Event], thread: &str, kind: &str) -> &'a Event {
    events
        .iter()
        .find(|e| e.metadata.thread_id == thread && e.kind.name() == kind)
        .unwrap_or_else(|| panic!("no {kind} event of {thread}"))
}

/// StateChange writes of `variable`.
pub fn writes_of<'a>(events: &'a [Event], variable: &str) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| {
            e.state_change()
                .is_some_and(|c| c.variable == variable && c.access_type.is_write())
        })
        .collect()
}

/// True for LockAcquire / LockRelease.
pub fn is_lock_event(event: &Event) -> bool {
    matches!(
        event.kind,
        EventKind::LockAcquire(_) | EventKind::LockRelease(_)
    )
}

/// The findings the analyses report on `events` (all of them, pure, default configuration).
pub fn findings(events: &[Event]) -> Vec<raceway_schemas::RaceFinding> {
    raceway_analysis::scenarios::pure_findings(
        events,
        &raceway_analysis::RaceConfig::default(),
        None,
    )
}

/// Findings of `kind` on `variable`.
pub fn findings_of(
    events: &[Event],
    kind: raceway_schemas::FindingKind,
    variable: &str,
) -> Vec<raceway_schemas::RaceFinding> {
    findings(events)
        .into_iter()
        .filter(|f| f.kind == kind && f.variable == variable)
        .collect()
}

/// A memory tracer with a custom configuration (service and instance as `memory_tracer`).
pub fn memory_tracer_with(
    configure: impl FnOnce(TracerConfig) -> TracerConfig,
) -> (Tracer, MemorySink) {
    let sink = MemorySink::new();
    let config = configure(
        TracerConfig::new(SERVICE)
            .instance(INSTANCE)
            .environment("test"),
    );
    let tracer = Tracer::new(config, sink.clone()).expect("tracer starts");
    (tracer, sink)
}

/// The value of the trusted-clock tag of `event`, if it has one.
pub fn clock_tag(event: &Event) -> Option<&str> {
    event
        .metadata
        .tags
        .get(raceway_schemas::TRUSTED_CLOCK_TAG)
        .map(String::as_str)
}

/// One thread per name, each running `work` with a child actor of `parent` of that name and a
/// clone of `shared`; the threads hand their actors back to be joined.
pub fn spawn_workers<S, F>(
    parent: &mut Actor,
    names: &[&str],
    shared: &S,
    work: F,
) -> Vec<std::thread::JoinHandle<Actor>>
where
    S: Clone + Send + 'static,
    F: Fn(&mut Actor, S) + Clone + Send + 'static,
{
    names
        .iter()
        .map(|name| {
            let (mut actor, shared, work) =
                (parent.spawn_child(name), shared.clone(), work.clone());
            std::thread::spawn(move || {
                work(&mut actor, shared);
                actor
            })
        })
        .collect()
}

/// Joins every thread's actor into `parent`.
pub fn join_all(parent: &mut Actor, threads: Vec<std::thread::JoinHandle<Actor>>) {
    for thread in threads {
        parent.join(thread.join().expect("worker thread panicked"));
    }
}

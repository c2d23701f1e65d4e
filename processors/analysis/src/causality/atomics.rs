//! Reads-from edges between atomic accesses, for derived clocks (rule 5 of [`crate::causality`]).
//!
//! The existing SDKs record which value an atomic load saw but not which store wrote it, so the
//! store is inferred: a load reads from the *latest earlier store of the same value* to the same
//! variable (earlier in the trace's (timestamp, id) numbering), as DESIGN.md states. Whether that
//! reads-from is also a synchronisation (a happens-before edge) depends on memory orderings, as in
//! the C++/Rust memory model:
//!
//! - A store is a *release* when its ordering is `Release`, `AcqRel` or `SeqCst`; a relaxed store
//!   preceded (in its actor's program order) by a release fence (`Release`, `AcqRel`, `SeqCst`)
//!   releases at that fence. A relaxed read-modify-write continues the release sequence of the
//!   store it read from, so loads reading from it synchronise with that earlier release.
//! - A load is an *acquire* when its ordering is `Acquire`, `AcqRel` or `SeqCst`; a relaxed load
//!   acquires at the next acquire fence (`Acquire`, `AcqRel`, `SeqCst`) of its actor.
//! - Release point -> acquire point is an edge, unless both are by the same actor (program order
//!   already orders them).
//!
//! How orderings are conveyed: StateChange has no ordering field, so an atomic access's ordering
//! is the metadata tag [`ORDERING_TAG`] (`raceway.ordering`, a [`MemoryOrdering`] name, any
//! case), and MemoryFence events by the same actor refine relaxed accesses as above. An atomic
//! access *without* the tag is `SeqCst`: that is what the atomics of the SDKs' languages provide
//! (Go's `sync/atomic`, JavaScript's `Atomics`), and assuming less would report races that cannot
//! happen. An unreadable tag counts as absent, for the same reason.

use foldhash::HashMap;
use raceway_schemas::{AccessType, Event, EventKind, MemoryOrdering};

/// Metadata tag carrying the memory ordering of an atomic StateChange (see the module doc).
pub const ORDERING_TAG: &str = "raceway.ordering";

/// The ordering of an atomic access: the [`ORDERING_TAG`] tag, `SeqCst` when absent or unreadable.
pub fn access_ordering(event: &Event) -> MemoryOrdering {
    event
        .metadata
        .tags
        .get(ORDERING_TAG)
        .and_then(|name| {
            MemoryOrdering::ALL
                .into_iter()
                .find(|o| o.as_str().eq_ignore_ascii_case(name.trim()))
        })
        .unwrap_or(MemoryOrdering::SeqCst)
}

fn releases(ordering: MemoryOrdering) -> bool {
    use MemoryOrdering::{AcqRel, Release, SeqCst};
    matches!(ordering, Release | AcqRel | SeqCst)
}

fn acquires(ordering: MemoryOrdering) -> bool {
    use MemoryOrdering::{AcqRel, Acquire, SeqCst};
    matches!(ordering, Acquire | AcqRel | SeqCst)
}

/// A store as seen by later loads: who stored, and where its release (sequence) starts.
#[derive(Debug, Clone)]
struct Store {
    actor: usize,
    /// Positions a load reading from this store synchronises with (at most a few).
    release_points: Vec<usize>,
}

/// Fence state of one actor.
#[derive(Debug, Default)]
struct ActorFences {
    /// The latest release fence so far in program order.
    release_fence: Option<usize>,
    /// Release points read by relaxed loads, waiting for the actor's next acquire fence.
    pending: Vec<usize>,
}

/// The sweep state for atomics: fed every event in (timestamp, id) order.
#[derive(Debug, Default)]
pub(super) struct Atomics<'a> {
    /// (environment, variable, value JSON) -> the latest store of that value so far.
    latest: HashMap<(&'a str, &'a str, &'a str), Store>,
    fences: HashMap<usize, ActorFences>,
}

impl<'a> Atomics<'a> {
    /// Processes the event at `position` of actor `actor`, pushing reads-from edges.
    pub(super) fn step(
        &mut self,
        event: &'a Event,
        position: usize,
        actor: usize,
        edges: &mut Vec<(usize, usize)>,
    ) {
        match &event.kind {
            EventKind::MemoryFence(fence) => {
                let state = self.fences.entry(actor).or_default();
                if acquires(fence.ordering) {
                    for released in state.pending.drain(..) {
                        edges.push((released, position));
                    }
                }
                if releases(fence.ordering) {
                    state.release_fence = Some(position);
                }
            }
            EventKind::StateChange(change) => {
                let env = event.metadata.environment.as_str();
                let variable = change.variable.as_str();
                // Only an atomic access has an ordering that matters (a plain one loads nothing
                // here and releases nothing): the tag is not looked up for the others.
                let ordering = if change.access_type.is_atomic() {
                    access_ordering(event)
                } else {
                    MemoryOrdering::Relaxed
                };
                // The load half: AtomicRead reads new_value, AtomicRMW the value it replaced.
                let read_value = match change.access_type {
                    AccessType::AtomicRead => Some(change.new_value.as_str()),
                    AccessType::AtomicRMW => change.old_value.as_deref(),
                    _ => None,
                };
                let read_from = read_value
                    .and_then(|value| self.latest.get(&(env, variable, value)))
                    .cloned();
                if let Some(store) = &read_from {
                    if store.actor != actor {
                        if acquires(ordering) {
                            edges.extend(store.release_points.iter().map(|&r| (r, position)));
                        } else {
                            let state = self.fences.entry(actor).or_default();
                            state.pending.extend(store.release_points.iter().copied());
                        }
                    }
                }
                // The store half: plain writes too, since a load can read from them (without
                // synchronising: they release nothing). A store that releases nothing gives a
                // load reading from it exactly what no store gives (no edge, no release sequence
                // to continue), so a plain write only removes the value's latest store: a trace
                // without atomic stores keeps an empty map and hashes nothing at its writes.
                let key = (env, variable, change.new_value.as_str());
                if change.access_type.is_write() {
                    if change.access_type.is_atomic() {
                        let release_points = self.release_points(
                            change.access_type,
                            ordering,
                            position,
                            actor,
                            read_from,
                        );
                        self.latest.insert(
                            key,
                            Store {
                                actor,
                                release_points,
                            },
                        );
                    } else if !self.latest.is_empty() {
                        self.latest.remove(&key);
                    }
                }
            }
            _ => {}
        }
    }

    fn release_points(
        &self,
        access_type: AccessType,
        ordering: MemoryOrdering,
        position: usize,
        actor: usize,
        read_from: Option<Store>,
    ) -> Vec<usize> {
        if !access_type.is_atomic() {
            return Vec::new();
        }
        let mut points = Vec::new();
        if releases(ordering) {
            points.push(position);
        } else if let Some(fence) = self.fences.get(&actor).and_then(|f| f.release_fence) {
            points.push(fence);
        }
        // A read-modify-write continues the release sequence of the store it read from.
        if access_type == AccessType::AtomicRMW {
            if let Some(store) = read_from {
                points.extend(store.release_points);
            }
        }
        points.sort_unstable();
        points.dedup();
        // The latest points carry the most knowledge; a few are plenty.
        if points.len() > 4 {
            points.drain(..points.len() - 4);
        }
        points
    }
}

#[cfg(test)]
mod tests {
    use raceway_schemas::{MemoryFence, StateChange};

    use crate::causality::trace_causality;
    use crate::testing::{event, id};

    use super::*;

    fn atomic(variable: &str, access_type: AccessType, old: Option<&str>, new: &str) -> EventKind {
        EventKind::StateChange(StateChange {
            variable: variable.into(),
            old_value: old.map(str::to_string),
            new_value: new.into(),
            location: "a.rs:1".into(),
            access_type,
        })
    }

    fn fence(ordering: MemoryOrdering) -> EventKind {
        EventKind::MemoryFence(MemoryFence {
            ordering,
            location: "f.rs:1".into(),
        })
    }

    fn tagged(mut e: Event, ordering: &str) -> Event {
        e.metadata
            .tags
            .insert(ORDERING_TAG.to_string(), ordering.to_string());
        e
    }

    /// Whether event `a` happens before event `b` in the derived clocks of `events`.
    fn before(events: &[Event], a: u128, b: u128) -> bool {
        let causality = trace_causality(events);
        let clock = |n: u128| {
            let index = events.iter().position(|e| e.id == id(n)).unwrap();
            causality.per_event[index].clock.to_vector_clock()
        };
        clock(a).happens_before(&clock(b))
    }

    /// Producer p: data write (1), flag store (2, `store`); consumer c: flag load (3, `load`,
    /// reading `seen`), data read (4).
    fn message_passing(store: Option<&str>, load: Option<&str>, seen: &str) -> Vec<Event> {
        let with = |e: Event, ordering: Option<&str>| match ordering {
            Some(o) => tagged(e, o),
            None => e,
        };
        vec![
            event(1, "p", 10, atomic("data", AccessType::Write, None, "42")),
            with(
                event(
                    2,
                    "p",
                    20,
                    atomic("flag", AccessType::AtomicWrite, None, "1"),
                ),
                store,
            ),
            with(
                event(
                    3,
                    "c",
                    30,
                    atomic("flag", AccessType::AtomicRead, None, seen),
                ),
                load,
            ),
            event(4, "c", 40, atomic("data", AccessType::Read, None, "42")),
        ]
    }

    #[test]
    fn release_store_to_acquire_load_of_the_same_value_is_an_edge() {
        assert!(before(
            &message_passing(Some("Release"), Some("Acquire"), "1"),
            1,
            4
        ));
        assert!(before(&message_passing(None, None, "1"), 1, 4), "SeqCst");
        assert!(
            !before(&message_passing(None, None, "0"), 1, 4),
            "read another value"
        );
        assert!(!before(
            &message_passing(Some("Relaxed"), Some("Acquire"), "1"),
            1,
            4
        ));
        assert!(!before(
            &message_passing(Some("release"), Some("relaxed"), "1"),
            1,
            4
        ));
    }

    #[test]
    fn fences_upgrade_relaxed_accesses() {
        let mut events = message_passing(Some("Relaxed"), Some("Relaxed"), "1");
        events.push(event(5, "p", 15, fence(MemoryOrdering::Release)));
        events.push(event(6, "c", 35, fence(MemoryOrdering::Acquire)));
        events[3].timestamp_ns = 40;
        assert!(before(&events, 1, 4));
        events.pop();
        assert!(!before(&events, 1, 4), "no acquire fence");
    }

    #[test]
    fn relaxed_read_modify_writes_continue_the_release_sequence() {
        let events = vec![
            event(1, "p", 10, atomic("data", AccessType::Write, None, "42")),
            tagged(
                event(2, "p", 20, atomic("n", AccessType::AtomicWrite, None, "1")),
                "Release",
            ),
            tagged(
                event(
                    3,
                    "q",
                    30,
                    atomic("n", AccessType::AtomicRMW, Some("1"), "2"),
                ),
                "Relaxed",
            ),
            tagged(
                event(4, "c", 40, atomic("n", AccessType::AtomicRead, None, "2")),
                "Acquire",
            ),
            event(5, "c", 50, atomic("data", AccessType::Read, None, "42")),
        ];
        assert!(before(&events, 1, 5));
        assert!(
            !before(&events, 2, 3),
            "the relaxed update itself acquires nothing"
        );
    }

    /// A load that reads a value a plain write stored after the release store of the same
    /// value read from the plain write: nothing is released to it.
    #[test]
    fn a_plain_write_of_the_value_hides_the_release_store() {
        let mut events = message_passing(Some("Release"), Some("Acquire"), "1");
        assert!(before(&events, 1, 4));
        events.push(event(
            5,
            "q",
            25,
            atomic("flag", AccessType::Write, None, "1"),
        ));
        assert!(!before(&events, 1, 4), "read from the plain write");
        events[4].timestamp_ns = 15;
        assert!(
            before(&events, 1, 4),
            "the plain write came before the store"
        );
        events[4].kind = atomic("flag", AccessType::Write, None, "7");
        events[4].timestamp_ns = 25;
        assert!(before(&events, 1, 4), "another value");
    }

    #[test]
    fn unreadable_tags_count_as_seqcst() {
        let e = tagged(
            event(1, "p", 10, atomic("n", AccessType::AtomicRead, None, "1")),
            "??",
        );
        assert_eq!(access_ordering(&e), MemoryOrdering::SeqCst);
        let e = tagged(e, " acqrel ");
        assert_eq!(access_ordering(&e), MemoryOrdering::AcqRel);
    }
}

//! Lock-order edges of one trace: "actor X acquired lock B while holding lock A", with what the
//! race stage needs to judge an inversion without the rest of the trace.
//!
//! Per actor, in program order (the trace's (timestamp, id) numbering), lock holds are replayed
//! with the `locksets` rules (re-entrant acquires are not new holds). Each new hold of B emits
//! one edge per other lock A held at that moment, with:
//!
//! - `held` and `acquired`: the two acquire events with their final clocks;
//! - `start_clock`: what X knew just before it acquired A: the clock of X's previous event, or
//!   for a first event the clock of its parent event (the spawn), else empty. Neither includes the
//!   hand-over of A itself, so a section counts as ordered after another only through something
//!   that happened before X went for A;
//! - `guards`: the locks X took before A and still held when it took B, i.e. held through the
//!   whole nested section.

use foldhash::HashMap;
use raceway_schemas::{Event, EventKind, LockAcquisition, LockEvent, LockMode, LockOrderEdge};
use uuid::Uuid;

use crate::accesses::trace_span;
use crate::causality::{ordered_actors, state_of, trace_causality, TraceCausality};
use crate::locksets::{HeldLocks, Hold, LockStep};
use crate::short_text;

/// The lock-order edges of one trace (events in any order), in program order of the inner
/// acquisitions.
pub fn lock_order_edges(events: &[Event]) -> Vec<LockOrderEdge> {
    lock_order_edges_with(events, &trace_causality(events))
}

/// One open hold: its acquire event (input index, the lock and the mode it took) and the event
/// whose clock is what the actor knew before it (none: empty). Only these are kept: the
/// acquisition and both clocks are built when the hold is part of an edge, which most holds
/// never are.
struct Open<'a> {
    at: usize,
    lock: &'a LockEvent,
    mode: LockMode,
    start: Option<usize>,
}

#[derive(Default)]
struct ActorState<'a> {
    locks: HeldLocks<'a>,
    /// By lock id, borrowed from the acquire event: a few at a time, found by a scan (a map
    /// hashed the id at every acquire and release).
    open: Vec<(&'a str, Open<'a>)>,
    previous: Option<usize>,
}

/// Like [`lock_order_edges`], reusing a [`TraceCausality`] already computed for the events.
pub fn lock_order_edges_with(events: &[Event], causality: &TraceCausality) -> Vec<LockOrderEdge> {
    let Some((trace_start_ns, trace_end_ns)) = trace_span(events) else {
        return Vec::new();
    };
    // Built on first use: only an actor whose first event is an acquisition needs it.
    let mut index_of: Option<HashMap<Uuid, usize>> = None;
    let clock_at = |index: usize| {
        causality
            .per_event
            .get(index)
            .map(|facts| facts.clock.to_pairs())
            .unwrap_or_default()
    };
    // The acquisition by `events[at]` of `lock` in `mode`, with its final clock.
    let acquisition = |at: usize, lock: &LockEvent, mode: LockMode| {
        let event = &events[at];
        LockAcquisition {
            event_id: event.id,
            lock_id: lock.lock_id.clone(),
            mode,
            location: lock.location.clone(),
            timestamp_ns: event.timestamp_ns,
            clock: clock_at(at),
            lock_type: lock.lock_type.clone(),
        }
    };
    let (order, actor_of) = ordered_actors(events, causality);
    // By actor number.
    let mut actors: Vec<ActorState<'_>> = Vec::new();
    let mut edges = Vec::new();
    for &index in order.iter() {
        let event = &events[index];
        let state = state_of(&mut actors, actor_of[index]);
        match &event.kind {
            EventKind::LockAcquire(lock) => {
                let before = state.locks.holds();
                if let LockStep::Acquired(mode) = state.locks.acquire(lock) {
                    for hold in before
                        .iter()
                        .filter(|h| !short_text::same(h.lock_id, &lock.lock_id))
                    {
                        let Some((_, open)) = state
                            .open
                            .iter()
                            .find(|(id, _)| short_text::same(id, hold.lock_id))
                        else {
                            continue;
                        };
                        let guards = before
                            .iter()
                            .filter(|g| {
                                g.number < hold.number
                                    && !short_text::same(g.lock_id, &lock.lock_id)
                            })
                            .map(Hold::held_lock)
                            .collect();
                        edges.push(LockOrderEdge {
                            trace_id: event.trace_id,
                            environment: event.metadata.environment.clone(),
                            actor: event.actor(),
                            held: acquisition(open.at, open.lock, open.mode),
                            acquired: acquisition(index, lock, mode),
                            start_clock: open.start.map(clock_at).unwrap_or_default(),
                            guards,
                            trusted_clock: causality.trusted,
                            trace_start_ns,
                            trace_end_ns,
                        });
                    }
                    let start = match state.previous {
                        Some(previous) => Some(previous),
                        None => event
                            .parent_id
                            .and_then(|parent| {
                                index_of
                                    .get_or_insert_with(|| {
                                        events.iter().enumerate().map(|(i, e)| (e.id, i)).collect()
                                    })
                                    .get(&parent)
                                    .copied()
                            })
                            .filter(|&parent| parent != index),
                    };
                    let open = Open {
                        at: index,
                        lock,
                        mode,
                        start,
                    };
                    let id = lock.lock_id.as_str();
                    match state
                        .open
                        .iter_mut()
                        .find(|(held, _)| short_text::same(held, id))
                    {
                        Some((_, held)) => *held = open,
                        None => state.open.push((id, open)),
                    }
                }
            }
            EventKind::LockRelease(lock) => {
                if let LockStep::Released(_) = state.locks.release(lock) {
                    state
                        .open
                        .retain(|(held, _)| !short_text::same(held, &lock.lock_id));
                }
            }
            _ => {}
        }
        state.previous = Some(index);
    }
    edges
}

#[cfg(test)]
mod tests {
    use raceway_schemas::LockMode;

    use super::*;
    use crate::testing::{acquire, call, event, held, id, release};

    use LockMode::Exclusive;

    #[test]
    fn nested_acquisitions_give_one_edge_per_held_lock() {
        let events = vec![
            event(1, "x", 10, call()),
            event(2, "x", 20, acquire("g", Exclusive)),
            event(3, "x", 30, acquire("a", Exclusive)),
            event(4, "x", 40, acquire("b", Exclusive)),
            event(5, "x", 50, acquire("b", Exclusive)),
            event(6, "x", 60, release("b", Exclusive)),
            event(7, "x", 70, release("b", Exclusive)),
            event(8, "x", 80, release("a", Exclusive)),
            event(9, "x", 90, release("g", Exclusive)),
        ];
        let edges = lock_order_edges(&events);
        let pairs: Vec<(&str, &str)> = edges
            .iter()
            .map(|e| (e.held.lock_id.as_str(), e.acquired.lock_id.as_str()))
            .collect();
        assert_eq!(pairs, vec![("g", "a"), ("a", "b"), ("g", "b")]);
        let a_b = &edges[1];
        assert_eq!(a_b.held.event_id, id(3));
        assert_eq!(a_b.acquired.event_id, id(4));
        assert_eq!(a_b.guards, vec![held("g", Exclusive)]);
        assert!(edges[0].guards.is_empty());
        assert_eq!((a_b.trace_start_ns, a_b.trace_end_ns), (10, 90));
        // Started after the call and the acquisition of g: the clock of event 2.
        let before_a = &causality_clock(&events, 2);
        assert_eq!(&a_b.start_clock, before_a);
    }

    fn causality_clock(events: &[Event], n: u128) -> Vec<(String, u64)> {
        let causality = trace_causality(events);
        let index = events.iter().position(|e| e.id == id(n)).unwrap();
        causality.per_event[index].clock.to_pairs()
    }

    #[test]
    fn a_first_event_starts_from_its_parent() {
        let mut child = event(2, "x", 20, acquire("a", Exclusive));
        child.parent_id = Some(id(1));
        let events = vec![
            event(1, "main", 10, call()),
            child,
            event(3, "x", 30, acquire("b", Exclusive)),
        ];
        let edges = lock_order_edges(&events);
        assert_eq!(edges.len(), 1);
        assert_eq!(edges[0].start_clock, causality_clock(&events, 1));
    }

    #[test]
    fn released_locks_give_no_edges() {
        let events = vec![
            event(1, "x", 10, acquire("a", Exclusive)),
            event(2, "x", 20, release("a", Exclusive)),
            event(3, "x", 30, acquire("b", Exclusive)),
        ];
        assert!(lock_order_edges(&events).is_empty());
    }
}

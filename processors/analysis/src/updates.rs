//! Read-modify-writes of one trace, for the lost-update rule of the race stage (see the `rules`
//! module).
//!
//! # Pairing rule
//!
//! Per actor and variable, in the actor's program order (the trace's (timestamp, id) numbering,
//! which is what derived clocks use and what trusted clocks agree with for one actor):
//!
//! - a read (`Read` or `AtomicRead`) becomes the actor's *pending read* of the variable, replacing
//!   an earlier one: a write is computed from the freshest value the actor saw;
//! - a write (`Write` or `AtomicWrite`) with a pending read completes it: one [`UpdateSpan`]
//!   (read, write), and the pending read is consumed, so that a second write is not paired with
//!   a read the first write already "used";
//! - an `AtomicRMW` is a read-modify-write that cannot lose an update by itself: it only consumes
//!   the pending read.
//!
//! `held_throughout` lists the locks held at the read and still held at the write *in the same
//! hold* (not released and taken again in between): the locks that make the read and the write
//! one critical section. Taking a lock once for the read and once for the write (the "locked
//! separately" bug) leaves it out.
//!
//! Why here and not in the race stage: the pairing depends on the actor's whole program order and
//! lock history, which only the trace stage has; in the race stage it would depend on which of
//! the actor's accesses had arrived yet.

use std::hash::Hash;
use std::sync::Arc;

use foldhash::HashMap;
use raceway_schemas::{
    Access, AccessType, CompactClock, Event, EventKind, HeldLock, SharedNames, StateChange,
    UpdateRead, UpdateSpan,
};
use uuid::Uuid;

use crate::accesses::{access_at, trace_span, AccessNames};
use crate::causality::{ordered_actors, state_of, trace_causality, TraceCausality};
use crate::locksets::{HeldLocks, Hold, Holds};

/// The read-modify-writes of one trace (events in any order), sorted by the write's
/// (timestamp, event id).
pub fn trace_update_spans(events: &[Event]) -> Vec<UpdateSpan> {
    update_spans_with(events, &trace_causality(events))
}

/// Like [`trace_update_spans`], reusing a [`TraceCausality`] already computed for the events.
pub fn update_spans_with(events: &[Event], causality: &TraceCausality) -> Vec<UpdateSpan> {
    let Some(span) = trace_span(events) else {
        return Vec::new();
    };
    let mut names = AccessNames::default();
    let read_clock = |index: usize| causality.per_event.get(index).map(|f| f.clock.clone());
    spans_with(
        events,
        causality,
        variable_by_text,
        |index| access_at(events, causality, index, span, &mut names),
        read_clock,
    )
}

/// A pending read's variable by its text: (environment, variable).
fn variable_by_text<'a>(event: &'a Event, change: &'a StateChange, _: usize) -> (&'a str, &'a str) {
    (
        event.metadata.environment.as_str(),
        change.variable.as_str(),
    )
}

/// Like [`update_spans_with`], taking each span's write from `accesses`, the trace's accesses
/// built from the same `causality` ([`crate::accesses::accesses_with`]): a copy instead of
/// building the access and numbering its clock again. A write not found there is built anew.
///
/// When every StateChange has its access there, and there are fewer than a third of
/// [`SharedNames::MAX_NAMES`] of them, a pending read is found by the **addresses of its
/// access's shared environment and variable**: the accesses of one trace take their names from
/// one table, which hands out one copy per text and is never cleared before it holds that many
/// names (each access adds at most three), so equal addresses are equal texts and the other way
/// round. Two integers are hashed where the texts were hashed at every read and write.
pub(crate) fn update_spans_reusing(
    events: &[Event],
    causality: &TraceCausality,
    accesses: &[Access],
) -> Vec<UpdateSpan> {
    let Some(span) = trace_span(events) else {
        return Vec::new();
    };
    // The position in `accesses` of the access of every event index.
    let mut position = vec![usize::MAX; events.len()];
    let changes = causality.causal_order.iter().filter(|&&index| {
        events
            .get(index)
            .is_some_and(|e| e.state_change().is_some())
    });
    // True while every StateChange so far has its access at its position.
    let mut every_found = true;
    let mut found = 0;
    for (at, &index) in changes.enumerate() {
        position[index] = at;
        every_found &= accesses
            .get(at)
            .is_some_and(|access| access.event_id == events[index].id);
        found = at + 1;
    }
    let shared =
        every_found && found == accesses.len() && accesses.len() * 3 < SharedNames::MAX_NAMES;
    // An access's clock may have been moved out of `causality` into it
    // ([`crate::accesses::accesses_taking_clocks`]): a read's clock is taken from its access too.
    let access_of = |index: usize| {
        accesses
            .get(position[index])
            .filter(|access| access.event_id == events[index].id)
    };
    let mut names = AccessNames::default();
    let write_at = |index| match access_of(index) {
        Some(access) => Some(access.clone()),
        None => access_at(events, causality, index, span, &mut names),
    };
    let read_clock_at = |index| match access_of(index) {
        Some(access) => Some(access.clock.clone()),
        None => causality.per_event.get(index).map(|f| f.clock.clone()),
    };
    if shared {
        // Every StateChange's access is at `position[index]` (counted above).
        let by_address = |_: &Event, _: &StateChange, index: usize| {
            let access = &accesses[position[index]];
            (
                Arc::as_ptr(&access.environment).cast::<u8>() as usize,
                Arc::as_ptr(&access.variable).cast::<u8>() as usize,
            )
        };
        spans_with(events, causality, by_address, write_at, read_clock_at)
    } else {
        spans_with(events, causality, variable_by_text, write_at, read_clock_at)
    }
}

/// A read paired with a write by the rule of the module doc, before its span is built: the
/// write's sort key (timestamp, id), the read's and the write's input indices, and the locks
/// held throughout.
type Pairing = ((i64, Uuid), usize, usize, Vec<HeldLock>);

/// The pairing rule of the module doc; `variable_of` tells the variables of the actor's reads
/// and writes apart (a key equal exactly when the environment and the variable are), `write_at`
/// gives the access of the write at an index, `read_clock_at` the final clock of the read at an
/// index. The pairs are found and sorted
/// first, then each span is built once in its final place: the spans are a few hundred bytes
/// each, and growing or sorting a vector of them copied them.
fn spans_with<'a, K: Hash + Eq>(
    events: &'a [Event],
    causality: &TraceCausality,
    variable_of: impl Fn(&'a Event, &'a StateChange, usize) -> K,
    mut write_at: impl FnMut(usize) -> Option<Access>,
    read_clock_at: impl Fn(usize) -> Option<CompactClock>,
) -> Vec<UpdateSpan> {
    let (order, actor_of) = ordered_actors(events, causality);
    // By actor number.
    let mut locks: Vec<HeldLocks<'_>> = Vec::new();
    // (actor number, variable): whose pending read, of what.
    let mut pending: HashMap<(usize, K), (usize, Holds<'_>)> = HashMap::default();
    let mut pairs: Vec<Pairing> = Vec::new();
    for &index in order.iter() {
        let event = &events[index];
        let actor = actor_of[index];
        let actor_locks = state_of(&mut locks, actor);
        let change = match &event.kind {
            EventKind::LockAcquire(lock) => {
                actor_locks.acquire(lock);
                continue;
            }
            EventKind::LockRelease(lock) => {
                actor_locks.release(lock);
                continue;
            }
            EventKind::StateChange(change) => change,
            _ => continue,
        };
        let key = (actor, variable_of(event, change, index));
        match change.access_type {
            AccessType::Read | AccessType::AtomicRead => {
                pending.insert(key, (index, actor_locks.holds()));
            }
            AccessType::AtomicRMW => {
                pending.remove(&key);
            }
            AccessType::Write | AccessType::AtomicWrite => {
                let Some((read_index, read_holds)) = pending.remove(&key) else {
                    continue;
                };
                let now = actor_locks.holds();
                let held_throughout = read_holds
                    .iter()
                    .filter(|hold| now.contains(hold))
                    .map(Hold::held_lock)
                    .collect();
                pairs.push((
                    (event.timestamp_ns, event.id),
                    read_index,
                    index,
                    held_throughout,
                ));
            }
        }
    }
    // Stable: pairs with the same key stay in program order.
    pairs.sort_by_key(|&(key, ..)| key);
    let mut spans = Vec::with_capacity(pairs.len());
    for (_, read_index, index, held_throughout) in pairs {
        let read_event = &events[read_index];
        let (Some(write), Some(read_clock)) = (write_at(index), read_clock_at(read_index)) else {
            continue;
        };
        spans.push(UpdateSpan {
            read: UpdateRead {
                event_id: read_event.id,
                timestamp_ns: read_event.timestamp_ns,
                location: read_event
                    .state_change()
                    .map(|c| c.location.clone())
                    .unwrap_or_default(),
                value: read_event
                    .state_change()
                    .map(|c| c.new_value.clone())
                    .unwrap_or_default(),
                clock: read_clock,
            },
            write,
            held_throughout,
        });
    }
    spans
}

#[cfg(test)]
mod tests {
    use raceway_schemas::LockMode;

    use super::*;
    use crate::testing::{access_kind, acquire, event, held, id, release, write};

    fn read(variable: &str, location: &str) -> EventKind {
        access_kind(variable, location, AccessType::Read)
    }

    #[test]
    fn a_write_completes_the_latest_read_once() {
        let events = vec![
            event(1, "a", 10, read("x", "r1")),
            event(2, "a", 20, read("x", "r2")),
            event(3, "a", 30, write("x", "w1")),
            event(4, "a", 40, write("x", "w2")),
            event(5, "b", 50, write("x", "other")),
            event(6, "a", 60, read("y", "ry")),
            event(7, "a", 70, write("x", "w3")),
        ];
        let spans = trace_update_spans(&events);
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].read.event_id, id(2));
        assert_eq!(spans[0].read.location, "r2");
        assert_eq!(spans[0].write.event_id, id(3));
        assert!(spans[0].held_throughout.is_empty());
    }

    /// One variable name in two environments is two variables: the race inputs, which find a
    /// pending read by the addresses of its access's shared names, pair a write only with a
    /// read of its own environment, as the spans built from the texts do.
    #[test]
    fn one_name_in_two_environments_is_two_variables() {
        let mut elsewhere = event(2, "a", 20, write("x", "w1"));
        elsewhere.metadata.environment = "other".into();
        let events = vec![
            event(1, "a", 10, read("x", "r")),
            elsewhere,
            event(3, "a", 30, write("x", "w2")),
        ];
        let spans = crate::race_inputs(&events).updates;
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].write.event_id, id(3));
        assert_eq!(spans, trace_update_spans(&events));
    }

    #[test]
    fn an_atomic_update_consumes_the_pending_read() {
        let events = vec![
            event(1, "a", 10, access_kind("x", "r", AccessType::AtomicRead)),
            event(2, "a", 20, access_kind("x", "rmw", AccessType::AtomicRMW)),
            event(3, "a", 30, access_kind("x", "w", AccessType::AtomicWrite)),
        ];
        assert!(trace_update_spans(&events).is_empty());
    }

    #[test]
    fn only_an_uninterrupted_hold_is_held_throughout() {
        let events = vec![
            event(1, "a", 10, acquire("outer", LockMode::Exclusive)),
            event(2, "a", 11, acquire("m", LockMode::Exclusive)),
            event(3, "a", 12, read("x", "r")),
            event(4, "a", 13, release("m", LockMode::Exclusive)),
            event(5, "a", 14, acquire("m", LockMode::Exclusive)),
            event(6, "a", 15, write("x", "w")),
            event(7, "a", 16, release("m", LockMode::Exclusive)),
            event(8, "a", 17, release("outer", LockMode::Exclusive)),
        ];
        let spans = trace_update_spans(&events);
        assert_eq!(spans.len(), 1);
        assert_eq!(
            spans[0].held_throughout,
            vec![held("outer", LockMode::Exclusive)]
        );
        assert_eq!(
            *spans[0].write.locks,
            vec![
                held("m", LockMode::Exclusive),
                held("outer", LockMode::Exclusive)
            ]
        );
    }

    /// Random traces of two actors reading and writing two variables under two locks taken in
    /// both modes, some re-entrantly, at times that repeat: the spans are those of a replay that
    /// keeps each actor's holds in a map (lock -> mode, depth, hold number) and each pending
    /// read with a copy of them, sorted stably by the write's (timestamp, id); built anew or
    /// taken from the trace's accesses (with their clocks moved or copied), they are the same.
    #[test]
    fn spans_are_the_pairs_a_map_replay_finds() {
        use rand::Rng;
        use std::collections::BTreeMap;
        type Holds = BTreeMap<String, (LockMode, u32, u64)>;
        let mut locked_spans = 0;
        crate::testing::random_rounds(47, 200, |rng, _| {
            let events: Vec<Event> = (1..=rng.gen_range(0..40u128))
                .map(|n| {
                    let thread = ["a", "b"][rng.gen_range(0..2)];
                    let variable = ["x", "y"][rng.gen_range(0..2)];
                    let lock = ["m", "n"][rng.gen_range(0..2)];
                    let mode = [LockMode::Exclusive, LockMode::Shared][rng.gen_range(0..2)];
                    let kind = match rng.gen_range(0..5) {
                        0 => acquire(lock, mode),
                        1 => release(lock, mode),
                        2 => write(variable, "w"),
                        3 => read(variable, "r"),
                        _ => access_kind(variable, "rmw", AccessType::AtomicRMW),
                    };
                    event(n, thread, rng.gen_range(0..20), kind)
                })
                .collect();
            let mut order: Vec<&Event> = events.iter().collect();
            order.sort_by_key(|e| (e.timestamp_ns, e.id));
            let mut holds: BTreeMap<&str, (Holds, u64)> = BTreeMap::new();
            let mut pending: BTreeMap<(&str, &str), (uuid::Uuid, Holds)> = BTreeMap::new();
            let mut expected = Vec::new();
            for e in order {
                let thread = e.metadata.thread_id.as_str();
                let (now, next) = holds.entry(thread).or_default();
                match &e.kind {
                    EventKind::LockAcquire(lock) => match now.get_mut(&lock.lock_id) {
                        Some((mode, depth, _)) => {
                            *depth += 1;
                            if lock.mode == LockMode::Exclusive {
                                *mode = LockMode::Exclusive;
                            }
                        }
                        None => {
                            now.insert(lock.lock_id.clone(), (lock.mode, 1, *next));
                            *next += 1;
                        }
                    },
                    EventKind::LockRelease(lock) => {
                        if let Some((_, depth, _)) = now.get_mut(&lock.lock_id) {
                            *depth -= 1;
                            if *depth == 0 {
                                now.remove(&lock.lock_id);
                            }
                        }
                    }
                    EventKind::StateChange(change) => {
                        let key = (thread, change.variable.as_str());
                        match change.access_type {
                            AccessType::Read => {
                                pending.insert(key, (e.id, now.clone()));
                            }
                            AccessType::Write => {
                                if let Some((read, then)) = pending.remove(&key) {
                                    let same_hold = |(id, (mode, _, number)): (
                                        &String,
                                        &(LockMode, u32, u64),
                                    )| {
                                        let (now_mode, _, now_number) = now.get(id)?;
                                        (now_mode == mode && now_number == number)
                                            .then(|| held(id, *mode))
                                    };
                                    let throughout: Vec<HeldLock> =
                                        then.iter().filter_map(same_hold).collect();
                                    expected.push((e.timestamp_ns, e.id, read, throughout));
                                }
                            }
                            _ => {
                                pending.remove(&key);
                            }
                        }
                    }
                    _ => {}
                }
            }
            expected.sort_by_key(|&(timestamp, id, ..)| (timestamp, id));
            let spans = trace_update_spans(&events);
            let found: Vec<_> = spans
                .iter()
                .map(|s| {
                    let write = (s.write.timestamp_ns, s.write.event_id);
                    (write.0, write.1, s.read.event_id, s.held_throughout.clone())
                })
                .collect();
            assert_eq!(found, expected);
            // The inputs that move the accesses' clocks out of the causality are the ones
            // built from a borrowed causality.
            let inputs = crate::inputs::race_inputs(&events);
            let borrowed = crate::inputs::race_inputs_with(&events, &trace_causality(&events));
            assert_eq!(inputs, borrowed);
            assert_eq!(inputs.updates, spans);
            locked_spans += spans
                .iter()
                .filter(|s| !s.held_throughout.is_empty())
                .count();
        });
        assert!(
            locked_spans > 20,
            "{locked_spans} spans held a lock throughout"
        );
    }

    #[test]
    fn input_order_does_not_matter() {
        let mut events = vec![
            event(1, "a", 10, read("x", "r")),
            event(2, "a", 20, write("x", "w")),
            event(3, "b", 15, read("x", "r")),
            event(4, "b", 25, write("x", "w")),
        ];
        let reference = trace_update_spans(&events);
        assert_eq!(reference.len(), 2);
        events.reverse();
        assert_eq!(trace_update_spans(&events), reference);
    }
}

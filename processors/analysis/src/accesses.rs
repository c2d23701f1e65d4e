//! The shared-state accesses of one trace, as forwarded to the race stage (topic
//! `raceway.accesses`): one [`Access`] per StateChange event, carrying the final clock and the
//! rebuilt lock set from [`crate::causality`], so the race stage never needs the rest of the trace.

use std::sync::Arc;

use raceway_schemas::{Access, ActorId, CompactClock, Event, SharedNames};

use crate::causality::{state_of, trace_causality, TraceCausality};
use crate::short_text::{self, RecentNames};

/// The names one trace's accesses share (one copy each), and each actor's shared copy by its
/// number in the program order (`TraceCausality::actor_of`): an actor is looked up by its
/// three names once, not at every access.
#[derive(Default)]
pub(crate) struct AccessNames {
    names: SharedNames,
    actors: Vec<Option<Arc<ActorId>>>,
    /// The last environment and variable given: a trace's accesses are usually of one
    /// environment, and an actor's read and write of a variable come together, so each is
    /// compared with the last before its text is hashed.
    last_environment: Option<Arc<str>>,
    last_variable: Option<Arc<str>>,
    /// The short names met last, each found by its bytes read as integers before `names`
    /// hashes its text: a trace's locations and variables are few and repeat.
    recent: RecentNames,
}

/// The shared copy of `text`: the `last` one when it is the same text, else the recent or
/// table's copy (and remembered as the last).
fn name_like_last(
    names: &mut SharedNames,
    recent: &mut RecentNames,
    last: &mut Option<Arc<str>>,
    text: &str,
) -> Arc<str> {
    match last {
        Some(last) if short_text::same(last, text) => Arc::clone(last),
        _ => Arc::clone(last.insert(recent.name(names, text))),
    }
}

impl AccessNames {
    /// The shared actor of `event`, whose actor is numbered `number` when known.
    fn actor(&mut self, event: &Event, number: Option<usize>) -> Arc<ActorId> {
        let names = &mut self.names;
        let mut look_up = || {
            names.actor(
                &event.metadata.service_name,
                event.metadata.instance_id.as_deref().unwrap_or_default(),
                &event.metadata.thread_id,
            )
        };
        match number {
            Some(number) => {
                Arc::clone(state_of(&mut self.actors, number).get_or_insert_with(look_up))
            }
            None => look_up(),
        }
    }
}

/// The accesses of one trace (events in any order), in causal order.
pub fn trace_accesses(events: &[Event]) -> Vec<Access> {
    accesses_with(events, &trace_causality(events))
}

/// Like [`trace_accesses`], reusing a [`TraceCausality`] the caller already computed for the same
/// events (the trace stage also needs it for other analyses).
pub fn accesses_with(events: &[Event], causality: &TraceCausality) -> Vec<Access> {
    let Some((span, mut accesses)) = access_room(events) else {
        return Vec::new();
    };
    // One shared copy of each environment, variable, location and actor of the trace (the lock
    // sets are the causality's shared copies).
    let mut names = AccessNames::default();
    accesses.extend(
        causality
            .causal_order
            .iter()
            .filter_map(|&index| access_at(events, causality, index, span, &mut names)),
    );
    accesses
}

/// The trace's [`trace_span`] and an empty vector with room for its accesses; `None` for no
/// events. Sized up front: an access is about 250 bytes, and growing the vector by doubling
/// copied them over and over.
fn access_room(events: &[Event]) -> Option<((i64, i64), Vec<Access>)> {
    let span = trace_span(events)?;
    let changes = events
        .iter()
        .filter(|event| event.state_change().is_some())
        .count();
    Some((span, Vec::with_capacity(changes)))
}

/// Like [`accesses_with`], moving each access's clock out of `causality` instead of copying
/// it (the caller drops the causality next): afterwards the clocks of the StateChange events
/// in `causality` are empty, the other events' are untouched.
pub(crate) fn accesses_taking_clocks(
    events: &[Event],
    causality: &mut TraceCausality,
) -> Vec<Access> {
    let Some((span, mut accesses)) = access_room(events) else {
        return Vec::new();
    };
    let mut names = AccessNames::default();
    for at in 0..causality.causal_order.len() {
        let index = causality.causal_order[at];
        if events.get(index).and_then(Event::state_change).is_none() {
            continue;
        }
        let Some(facts) = causality.per_event.get_mut(index) else {
            continue;
        };
        let clock = std::mem::take(&mut facts.clock);
        accesses.extend(access_with_clock(
            events, causality, index, span, &mut names, clock,
        ));
    }
    accesses
}

/// The access recorded by `events[index]` with its final facts, or `None` when that event is not
/// a StateChange. `span` is the trace's [`trace_span`]; the names are shared through `names`.
pub(crate) fn access_at(
    events: &[Event],
    causality: &TraceCausality,
    index: usize,
    span: (i64, i64),
    names: &mut AccessNames,
) -> Option<Access> {
    let clock = causality.per_event.get(index)?.clock.clone();
    access_with_clock(events, causality, index, span, names, clock)
}

/// [`access_at`] with the event's final clock given.
fn access_with_clock(
    events: &[Event],
    causality: &TraceCausality,
    index: usize,
    (trace_start_ns, trace_end_ns): (i64, i64),
    names: &mut AccessNames,
    clock: CompactClock,
) -> Option<Access> {
    let event = events.get(index)?;
    let change = event.state_change()?;
    let facts = causality.per_event.get(index)?;
    Some(Access {
        event_id: event.id,
        trace_id: event.trace_id,
        timestamp_ns: event.timestamp_ns,
        environment: name_like_last(
            &mut names.names,
            &mut names.recent,
            &mut names.last_environment,
            &event.metadata.environment,
        ),
        variable: name_like_last(
            &mut names.names,
            &mut names.recent,
            &mut names.last_variable,
            &change.variable,
        ),
        access_type: change.access_type,
        location: names.recent.name(&mut names.names, &change.location),
        value: change.new_value.clone(),
        old_value: change.old_value.clone(),
        // The actor numbers are those of these events only when computed for as many.
        actor: names.actor(
            event,
            causality
                .actor_of
                .get(index)
                .copied()
                .filter(|_| causality.actor_of.len() == events.len()),
        ),
        clock,
        trusted_clock: causality.trusted,
        locks: Arc::clone(&facts.locks),
        trace_start_ns,
        trace_end_ns,
    })
}

/// The time a trace covers: from its earliest event to the latest end of an event (timestamp plus
/// measured duration), so that a long step still counts as running until it finished. `None` for
/// no events.
pub fn trace_span(events: &[Event]) -> Option<(i64, i64)> {
    let start = events.iter().map(|e| e.timestamp_ns).min()?;
    let end = events
        .iter()
        .map(|e| {
            let duration = e
                .metadata
                .duration_ns
                .map_or(0, |d| i64::try_from(d).unwrap_or(i64::MAX));
            e.timestamp_ns.saturating_add(duration)
        })
        .max()?;
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use raceway_schemas::{AccessType, LockMode};

    use super::*;
    use crate::testing::{acquire, call, event, held, id, trusted, write, TRACE};

    #[test]
    fn one_access_per_state_change_in_causal_order() {
        let mut first = event(2, "w", 30, write("balance", "balance.rs:12"));
        first.metadata.duration_ns = Some(100);
        let events = vec![
            event(
                3,
                "w",
                40,
                crate::testing::access_kind("balance", "b.rs:2", AccessType::Read),
            ),
            first,
            event(1, "w", 10, acquire("m", LockMode::Exclusive)),
            event(4, "w", 50, call()),
        ];
        let accesses = trace_accesses(&events);
        assert_eq!(accesses.len(), 2);
        assert_eq!(accesses[0].event_id, id(2));
        assert_eq!(accesses[1].event_id, id(3));
        let write_access = &accesses[0];
        assert_eq!(write_access.trace_id, TRACE);
        assert_eq!(&*write_access.environment, "test");
        assert_eq!(&*write_access.variable, "balance");
        assert_eq!(write_access.access_type, AccessType::Write);
        assert_eq!(&*write_access.location, "balance.rs:12");
        assert_eq!(write_access.value, "2");
        assert_eq!(write_access.old_value.as_deref(), Some("1"));
        assert_eq!(write_access.actor.thread, "w");
        assert!(!write_access.trusted_clock);
        assert_eq!(*write_access.locks, vec![held("m", LockMode::Exclusive)]);
        assert_eq!(
            (write_access.trace_start_ns, write_access.trace_end_ns),
            (10, 130)
        );
        let clock = write_access.clock.to_vector_clock();
        let later = accesses[1].clock.to_vector_clock();
        assert!(clock.happens_before(&later));
    }

    #[test]
    fn trusted_clocks_are_forwarded_as_sent() {
        let events = vec![trusted(
            event(1, "w", 10, write("x", "a")),
            &[("b", 2), ("a", 1)],
        )];
        let accesses = trace_accesses(&events);
        assert!(accesses[0].trusted_clock);
        assert_eq!(
            accesses[0].clock.to_pairs(),
            vec![("a".into(), 1), ("b".into(), 2)]
        );
    }

    /// Equal lock sets and one actor's accesses share one copy, across critical sections and
    /// actors, and the sets are still each access's own: `a` writes under `m` twice, then
    /// under `m` and `n`; `b` under `m`, then under nothing.
    #[test]
    fn lock_sets_and_actors_are_shared_copies() {
        let m = || acquire("m", LockMode::Exclusive);
        let unlock = || crate::testing::release("m", LockMode::Exclusive);
        let events = vec![
            event(1, "a", 10, m()),
            event(2, "a", 11, write("x", "a1")),
            event(3, "a", 12, unlock()),
            event(4, "b", 20, m()),
            event(5, "b", 21, write("x", "b1")),
            event(6, "b", 22, unlock()),
            event(7, "b", 23, write("x", "b2")),
            event(8, "a", 30, m()),
            event(9, "a", 31, write("x", "a2")),
            event(10, "a", 32, acquire("n", LockMode::Exclusive)),
            event(11, "a", 33, write("x", "a3")),
        ];
        let accesses = trace_accesses(&events);
        let by_event = |n: u128| {
            accesses
                .iter()
                .find(|a| a.event_id == id(n))
                .expect("an access per write")
        };
        let (a1, b1, b2, a2, a3) = (
            by_event(2),
            by_event(5),
            by_event(7),
            by_event(9),
            by_event(11),
        );
        let only_m = vec![held("m", LockMode::Exclusive)];
        for access in [a1, b1, a2] {
            assert_eq!(*access.locks, only_m);
            assert!(Arc::ptr_eq(&access.locks, &a1.locks));
        }
        assert!(b2.locks.is_empty());
        assert_eq!(
            *a3.locks,
            vec![
                held("m", LockMode::Exclusive),
                held("n", LockMode::Exclusive)
            ]
        );
        assert!(Arc::ptr_eq(&a1.actor, &a2.actor) && Arc::ptr_eq(&a2.actor, &a3.actor));
        assert!(Arc::ptr_eq(&b1.actor, &b2.actor));
        assert_eq!(b1.actor.thread, "b");
        assert_eq!(a1.actor.thread, "a");
    }

    /// Accesses of alternating variables (and unlocked ones of two actors) share one copy of
    /// each name and of the empty lock set, whether the name is the last one met or not.
    #[test]
    fn names_and_the_empty_lock_set_are_shared_copies() {
        // (thread, variable, location), one write each, in time order.
        let writes = [
            ("a", "x", "l1"),
            ("a", "y", "l2"),
            ("b", "x", "l1"),
            ("b", "x", "l2"),
            ("a", "y", "l1"),
        ];
        let events: Vec<Event> = (1..)
            .zip(writes)
            .map(|(n, (thread, variable, location))| {
                event(n, thread, 9 + n as i64, write(variable, location))
            })
            .collect();
        let accesses = trace_accesses(&events);
        let same = |a: &Arc<str>, b: &Arc<str>| Arc::ptr_eq(a, b);
        for access in &accesses {
            assert!(same(&access.environment, &accesses[0].environment));
            assert!(Arc::ptr_eq(&access.locks, &accesses[0].locks));
            assert!(access.locks.is_empty());
        }
        let (x, y) = (&accesses[0].variable, &accesses[1].variable);
        assert_eq!((&**x, &**y), ("x", "y"));
        assert!(same(&accesses[2].variable, x) && same(&accesses[3].variable, x));
        assert!(same(&accesses[4].variable, y));
        assert!(same(&accesses[4].location, &accesses[0].location));
        assert!(same(&accesses[3].location, &accesses[1].location));
    }

    #[test]
    fn no_events_no_accesses() {
        assert!(trace_accesses(&[]).is_empty());
        assert_eq!(trace_span(&[]), None);
    }

    #[test]
    fn huge_durations_saturate() {
        let mut e = event(1, "w", 10, call());
        e.metadata.duration_ns = Some(u64::MAX);
        assert_eq!(trace_span(&[e]), Some((10, i64::MAX)));
    }
}

//! The evidence of ordering inside one trace, as edges between events, and the rebuilt lock sets.
//!
//! One sweep over the events in (timestamp, id) order collects every edge rule of the module doc
//! of [`crate::causality`] and the lock set of every event; positions here are indices into that
//! sorted order.

use std::sync::Arc;

use foldhash::{HashMap, HashSet};
use raceway_schemas::{ActorId, Event, EventKind, HeldLock, LockMode, SharedNames};
use uuid::Uuid;

use super::actor_order::IdMap;
use super::atomics::Atomics;
use crate::locksets::{HeldLocks, LockStep};

/// What the sweep found: edges between positions, the actor of every position and lock sets.
pub(super) struct Evidence {
    /// `(before, after)` position pairs; may contain cycles through `parent_id` links.
    pub(super) edges: Vec<(usize, usize)>,
    /// Actor number of every position, indexing `actors`.
    pub(super) actor_of: Vec<usize>,
    /// Every actor, as (trace id, actor), in order of first appearance in the sweep.
    pub(super) actors: Vec<(Uuid, ActorId)>,
    /// Locks held at every position (after the event itself, so an acquire holds its lock):
    /// one shared copy per distinct lock set of the trace, taken again while an actor's set is
    /// unchanged, so no lock id is copied per event and the race inputs share the copies.
    pub(super) locks: Vec<Arc<[HeldLock]>>,
}

/// Per-actor state of the sweep.
struct ActorState<'a> {
    last_position: Option<usize>,
    locks: HeldLocks<'a>,
    /// The shared copy of `locks`' set, until a lock event may change it.
    lock_set: Option<Arc<[HeldLock]>>,
    /// Upstream spans this actor has already entered: only the first event links upstream.
    entered_upstream: HashSet<String>,
}

/// Per-lock hand-over state of the sweep.
#[derive(Default)]
struct LockState {
    /// The latest exclusive release, as (position, actor).
    exclusive_release: Option<(usize, usize)>,
    /// Shared releases since the last exclusive acquire: actor -> its latest release position.
    /// An exclusive acquirer waits for all of them; a shared acquirer waits for none.
    shared_releases: HashMap<usize, usize>,
    /// The shared copy of the lock set holding this lock alone, exclusive and shared: an
    /// acquire by an actor that held nothing (the usual one) takes it from here, found with the
    /// hand-over state, instead of hashing the set again.
    alone: [Option<Arc<[HeldLock]>>; 2],
}

/// Collects edges and lock sets over `events[sorted[p]]` for every position `p`; `actor_of`
/// numbers the actor of every input index (`super::numbered_program_order`), and `by_id`, when
/// given, is the input index of every id, all of them distinct (`super::IndexedOrder`).
pub(super) fn collect(
    events: &[Event],
    sorted: &[usize],
    actor_of: &[usize],
    by_id: Option<&IdMap>,
) -> Evidence {
    let n = sorted.len();
    let mut evidence = Evidence {
        edges: Vec::new(),
        actor_of: Vec::with_capacity(n),
        actors: Vec::new(),
        locks: Vec::with_capacity(n),
    };
    // The sweep's number of each actor of `actor_of`, by order of first appearance here: an
    // owned `ActorId` is made once per actor, not per event.
    let mut actor_numbers: Vec<Option<usize>> = Vec::new();
    let mut actor_states: Vec<ActorState<'_>> = Vec::new();
    let mut lock_states: LockStates = LockStates::default();
    let mut atomics = Atomics::default();
    // Latest position so far carrying each distributed_span_id.
    let mut latest_in_span: HashMap<&str, usize> = HashMap::default();
    let parents = Parents::new(events, sorted, by_id);
    let mut lock_sets = SharedNames::default();
    let mut no_locks: Option<Arc<[HeldLock]>> = None;

    for (position, &index) in sorted.iter().enumerate() {
        let event = &events[index];
        let number = actor_of[index];
        if actor_numbers.len() <= number {
            actor_numbers.resize(number + 1, None);
        }
        let actor = *actor_numbers[number].get_or_insert_with(|| {
            evidence.actors.push((event.trace_id, event.actor()));
            actor_states.push(ActorState {
                last_position: None,
                locks: HeldLocks::default(),
                lock_set: None,
                entered_upstream: HashSet::default(),
            });
            actor_states.len() - 1
        });
        evidence.actor_of.push(actor);
        let state = &mut actor_states[actor];

        // Program order.
        let previous = state.last_position.replace(position);
        if let Some(previous) = previous {
            evidence.edges.push((previous, position));
        }

        // Parent link, possibly pointing forwards in time (clock skew): cycles are broken later.
        let parent = event.parent_id.and_then(|p| parents.position(&p, previous));
        if let Some(parent) = parent {
            if parent != position {
                evidence.edges.push((parent, position));
            }
        }

        // Upstream span: the actor's first step in a downstream span follows the caller's latest
        // step so far. Looked up before this event's own span is registered, so an event never
        // links to itself.
        if let Some(upstream) = non_empty(&event.metadata.upstream_span_id) {
            if state.entered_upstream.insert(upstream.to_string()) {
                if let Some(&caller) = latest_in_span.get(upstream) {
                    evidence.edges.push((caller, position));
                }
            }
        }
        if let Some(span) = non_empty(&event.metadata.distributed_span_id) {
            latest_in_span.insert(span, position);
        }

        // Lock hand-over. A lock event may change the actor's set: its shared copy is retaken.
        match &event.kind {
            EventKind::LockAcquire(lock) => {
                state.lock_set = None;
                if let LockStep::Acquired(mode) = state.locks.acquire(lock) {
                    let lock_state = lock_state_of(&mut lock_states, &lock.lock_id);
                    if state.locks.len() == 1 {
                        let alone = &mut lock_state.alone[usize::from(mode == LockMode::Shared)];
                        let set = alone.get_or_insert_with(|| state.locks.shared(&mut lock_sets));
                        state.lock_set = Some(Arc::clone(set));
                    }
                    if let Some((released, releaser)) = lock_state.exclusive_release {
                        if releaser != actor {
                            evidence.edges.push((released, position));
                        }
                    }
                    if mode == LockMode::Exclusive {
                        let mut readers: Vec<(usize, usize)> =
                            lock_state.shared_releases.drain().collect();
                        // HashMap order is random; keep the edge list deterministic.
                        readers.sort_unstable();
                        for (reader, released) in readers {
                            if reader != actor {
                                evidence.edges.push((released, position));
                            }
                        }
                    }
                }
            }
            EventKind::LockRelease(lock) => {
                state.lock_set = None;
                if let LockStep::Released(mode) = state.locks.release(lock) {
                    let lock_state = lock_state_of(&mut lock_states, &lock.lock_id);
                    match mode {
                        LockMode::Exclusive => {
                            lock_state.exclusive_release = Some((position, actor))
                        }
                        LockMode::Shared => {
                            lock_state.shared_releases.insert(actor, position);
                        }
                    }
                }
            }
            _ => {}
        }
        atomics.step(event, position, actor, &mut evidence.edges);
        // An actor holds nothing at most of its lock events' next steps (after a release): the
        // one empty set, taken from the table once, without hashing.
        let locks = state.lock_set.get_or_insert_with(|| {
            if state.locks.is_empty() {
                Arc::clone(no_locks.get_or_insert_with(|| state.locks.shared(&mut lock_sets)))
            } else {
                state.locks.shared(&mut lock_sets)
            }
        });
        evidence.locks.push(Arc::clone(locks));
    }
    evidence
}

/// Where each parent id sits in the numbering: its first position.
enum Parents<'a> {
    /// All ids distinct: the trace's one id map, and the position of every input index.
    Shared {
        events: &'a [Event],
        sorted: &'a [usize],
        by_id: &'a IdMap,
        position_of: Vec<usize>,
    },
    /// A map of the first position of every id, for traces that repeat one.
    Own(IdMap),
}

impl<'a> Parents<'a> {
    fn new(events: &'a [Event], sorted: &'a [usize], by_id: Option<&'a IdMap>) -> Self {
        match by_id {
            Some(by_id) => {
                let mut position_of = vec![0; events.len()];
                for (position, &index) in sorted.iter().enumerate() {
                    position_of[index] = position;
                }
                Parents::Shared {
                    events,
                    sorted,
                    by_id,
                    position_of,
                }
            }
            None => {
                let mut first: IdMap =
                    HashMap::with_capacity_and_hasher(sorted.len(), Default::default());
                for (position, &index) in sorted.iter().enumerate() {
                    first.entry(events[index].id.as_u128()).or_insert(position);
                }
                Parents::Own(first)
            }
        }
    }

    /// The position of `parent`, given the position of the actor's previous event: the SDKs
    /// chain each step to the one before, so that one is compared before any lookup.
    fn position(&self, parent: &Uuid, previous: Option<usize>) -> Option<usize> {
        match self {
            Parents::Shared {
                events,
                sorted,
                by_id,
                position_of,
            } => match previous {
                Some(previous) if events[sorted[previous]].id == *parent => Some(previous),
                _ => by_id
                    .get(&parent.as_u128())
                    .map(|&index| position_of[index]),
            },
            Parents::Own(first) => first.get(&parent.as_u128()).copied(),
        }
    }
}

/// Lock id -> hand-over state (hashbrown's map, for `entry_ref`: one lookup per acquire or
/// release, and the id copied only for a new lock).
type LockStates = hashbrown::HashMap<String, LockState, foldhash::fast::RandomState>;

/// The hand-over state of `lock_id`, created empty if needed: the id is copied once per lock,
/// not at every acquire and release.
fn lock_state_of<'a>(lock_states: &'a mut LockStates, lock_id: &str) -> &'a mut LockState {
    lock_states.entry_ref(lock_id).or_default()
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{id, random_events, random_rounds};
    use rand::Rng;

    /// With all ids distinct, the shared map (the previous step compared first) places every
    /// parent where a map of first positions does, on random traces and parent links.
    #[test]
    fn shared_ids_place_parents_as_first_positions_do() {
        random_rounds(9, 200, |rng, _| {
            let len = rng.gen_range(1..40u128);
            let mut events = random_events(rng, len);
            for e in &mut events {
                e.parent_id = rng.gen_bool(0.8).then(|| id(rng.gen_range(1..=len + 2)));
            }
            let indexed = crate::causality::indexed_program_order(&events);
            let sorted = &indexed.order.order;
            let by_id = indexed.by_id.as_ref().expect("distinct ids");
            let shared = Parents::new(&events, sorted, Some(by_id));
            let own = Parents::new(&events, sorted, None);
            let mut previous_of_actor: Vec<Option<usize>> = vec![None; events.len()];
            for (position, &index) in sorted.iter().enumerate() {
                let actor = indexed.actor_of[index];
                let previous = previous_of_actor[actor].replace(position);
                if let Some(parent) = events[index].parent_id {
                    assert_eq!(
                        shared.position(&parent, previous),
                        own.position(&parent, previous)
                    );
                }
            }
        });
    }

    /// Every position's lock set is the set a replay of the actor's lock events alone holds
    /// after the event, and equal sets are one shared copy (the sets of one lock alone taken
    /// from the lock's hand-over state among them): random traces of three actors taking two
    /// locks in both modes, re-entrant and unmatched releases included.
    #[test]
    fn lock_sets_are_the_replays_and_equal_sets_are_one_copy() {
        use crate::testing::{acquire, event, release};
        use raceway_schemas::LockMode;
        random_rounds(23, 300, |rng, _| {
            let events: Vec<Event> = (1..=rng.gen_range(1..40u128))
                .map(|n| {
                    let thread = ["a", "b", "c"][rng.gen_range(0..3)];
                    let lock = ["m", "n"][rng.gen_range(0..2)];
                    let mode = [LockMode::Exclusive, LockMode::Shared][rng.gen_range(0..2)];
                    let kind = match rng.gen_range(0..3) {
                        0 => acquire(lock, mode),
                        1 => release(lock, mode),
                        _ => crate::testing::call(),
                    };
                    event(n, thread, rng.gen_range(0..30), kind)
                })
                .collect();
            let indexed = crate::causality::indexed_program_order(&events);
            let sorted = &indexed.order.order;
            let evidence = collect(&events, sorted, &indexed.actor_of, None);
            let mut replays: Vec<HeldLocks<'_>> = Vec::new();
            for (position, &index) in sorted.iter().enumerate() {
                let replay = crate::causality::state_of(&mut replays, indexed.actor_of[index]);
                match &events[index].kind {
                    EventKind::LockAcquire(lock) => {
                        replay.acquire(lock);
                    }
                    EventKind::LockRelease(lock) => {
                        replay.release(lock);
                    }
                    _ => {}
                }
                assert_eq!(&*evidence.locks[position], replay.snapshot().as_slice());
            }
            for a in &evidence.locks {
                for b in &evidence.locks {
                    assert_eq!(a == b, Arc::ptr_eq(a, b), "{a:?} {b:?}");
                }
            }
        });
    }
}

//! Program order inside one actor: the order its SDK says it ran its steps in, not only the
//! order of their timestamps.
//!
//! # Rule
//!
//! Every per-trace rule numbers events by (timestamp, id). Inside one actor the SDKs also state
//! the order explicitly, and that statement wins where the two disagree:
//!
//! - **Parent chain**: an event whose `parent_id` names an event of the same actor comes after
//!   it (the existing SDKs make each step the parent of the next).
//! - **Counters**: two events of the actor that both carry a component `c` in their
//!   `causality_vector` are ordered by their counters on `c` when those differ (per-trace
//!   counters, one counter per instance, or our SDK's clocks: each only grows inside one actor).
//!   Each component chains the actor's events sorted by counter, linking neighbours whose
//!   counters differ.
//!
//! The actor's events are ordered by a topological sort of those edges that takes the earliest
//! (timestamp, id) first among the ready ones, so without SDK evidence the timestamp order stays.
//! Should the evidence contradict itself (a cycle), the edges pointing backwards in time inside
//! the cycle are dropped: timestamps decide exactly there (see `graph::break_cycles`).
//!
//! The actor's events then take the actor's own places in the trace-wide numbering in that order,
//! so other actors' events keep their places and nothing else moves.
//!
//! # Why
//!
//! Timestamps within one actor are not reliable at the scale of consecutive steps: the TypeScript
//! SDK, for one, builds sub-millisecond digits from a different clock than the milliseconds, and
//! stamps a request's `HttpRequest` later than the handler steps it parents. Program order by
//! timestamps then puts a request after its own children, drops the parent link as a cycle,
//! and orders (or un-orders) accesses the wrong way round: false races and missed ones.
//!
//! # Effective time
//!
//! [`ActorOrder::effective_ns`] gives every event the earliest timestamp among itself and the
//! events its actor ran after it: a step cannot have started after a step that followed it.
//! The trace tree starts nodes there, so a request never starts after its own handler steps.

use foldhash::HashMap;
use raceway_schemas::Event;
use uuid::Uuid;

use super::clock_names::NumberedClocks;
use crate::graph;
use crate::locksets::{actor_key, ActorKey};

/// The trace-wide numbering with every actor's events in its SDK's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorOrder {
    /// Input indices in program order: (timestamp, id, input index), each actor's events
    /// permuted among the actor's own places into the order its SDK stated.
    pub order: Vec<usize>,
    /// Per input index: the earliest timestamp of the event and of every later event of its
    /// actor in `order`.
    pub effective_ns: Vec<i64>,
}

/// Numbers the events of one trace (any input order): see the module doc.
pub fn actor_program_order(events: &[Event]) -> ActorOrder {
    numbered_program_order(events).0
}

/// [`actor_program_order`], with the number of every input index's actor (trace, service,
/// instance, thread), numbered in order of first appearance in the order: the per-actor
/// replays index their state by it instead of hashing the actor's strings at every event.
pub(crate) fn numbered_program_order(events: &[Event]) -> (ActorOrder, Vec<usize>) {
    let indexed = indexed_program_order(events);
    (indexed.order, indexed.actor_of)
}

/// The input index of each event id, keyed by the id's 128 bits. Keyed by `Uuid`, every insert
/// and lookup hashed the id as a 16-byte slice with a length prefix (a loop of three writes into
/// the hasher); one `u128` is one fold of two words. The trace tree (`trace::links`) reuses the
/// map the program order builds, so both key it this way.
pub(crate) type IdMap = HashMap<u128, usize>;

/// [`numbered_program_order`] and, when no two events share an id, the input index of every
/// id: the one map of the trace's ids, which the program order itself needs for parent links and
/// the trace tree reuses instead of hashing every id again. With a repeated id the rules pick
/// "the first copy" in different orders (per actor here, trace-wide in the tree), so then no map
/// is shared and each builds its own as before.
pub(crate) struct IndexedOrder {
    pub(crate) order: ActorOrder,
    pub(crate) actor_of: Vec<usize>,
    pub(crate) by_id: Option<IdMap>,
    /// True when every event is of the first event's trace.
    pub(crate) one_trace: bool,
}

/// See [`IndexedOrder`].
pub(crate) fn indexed_program_order(events: &[Event]) -> IndexedOrder {
    indexed_program_order_numbered(events).0
}

/// [`indexed_program_order`] and the events' sent clocks with their names numbered (the
/// `clock_names` submodule), which its counter test reads and a trusted trace's clocks reuse.
pub(crate) fn indexed_program_order_numbered(
    events: &[Event],
) -> (IndexedOrder, NumberedClocks<'_>) {
    // One pass over the events reads everything the numbering needs from them: the sort keys,
    // the id map, the timestamps, the actors, the parent links and the sent clocks, their names
    // numbered. An event is several cache lines, and a trace of thousands does not fit in the
    // cache, so each pass over them is paid in memory reads; what follows reads these arrays.
    let n = events.len();
    let mut keys: Vec<(i64, u128, usize)> = Vec::with_capacity(n);
    let mut by_id: IdMap = HashMap::with_capacity_and_hasher(n, Default::default());
    let mut effective_ns: Vec<i64> = Vec::with_capacity(n);
    let mut parents: Vec<Option<Uuid>> = Vec::with_capacity(n);
    // Actors numbered in input order here; renumbered below in order of first appearance in
    // the numbering. An actor's steps usually follow each other, so the previous event's actor
    // is tried before hashing the key.
    let mut actor_numbers: HashMap<ActorKey<'_>, usize> = HashMap::default();
    let mut actor_of: Vec<usize> = Vec::with_capacity(n);
    let mut last: Option<(ActorKey<'_>, usize)> = None;
    let mut unique = true;
    let mut one_trace = true;
    let mut clocks = NumberedClocks::with_capacity(n);
    let first_trace = events.first().map(|e| e.trace_id);
    for (index, event) in events.iter().enumerate() {
        keys.push((event.timestamp_ns, event.id.as_u128(), index));
        unique &= by_id.insert(event.id.as_u128(), index).is_none();
        effective_ns.push(event.timestamp_ns);
        parents.push(event.parent_id);
        one_trace &= Some(event.trace_id) == first_trace;
        clocks.push(&event.causality_vector);
        let key = actor_key(event);
        let actor = match last {
            Some((last_key, actor)) if last_key == key => actor,
            _ => {
                let next = actor_numbers.len();
                *actor_numbers.entry(key).or_insert(next)
            }
        };
        last = Some((key, actor));
        actor_of.push(actor);
    }
    keys.sort_unstable();
    let mut order: Vec<usize> = keys.iter().map(|&(_, _, i)| i).collect();

    // Each actor's places in the numbering, in time order, and every event's place among its
    // actor's; actors renumbered by first appearance in the numbering.
    let mut renumbered: Vec<Option<usize>> = vec![None; actor_numbers.len()];
    let mut places: Vec<Vec<usize>> = Vec::with_capacity(actor_numbers.len());
    let mut local_of = vec![0; n];
    for (position, &index) in order.iter().enumerate() {
        let actor = *renumbered[actor_of[index]].get_or_insert_with(|| {
            places.push(Vec::new());
            places.len() - 1
        });
        local_of[index] = places[actor].len();
        places[actor].push(position);
        actor_of[index] = actor;
    }
    let shared = unique.then_some(Ids {
        by_id: &by_id,
        actor_of: &actor_of,
        local_of: &local_of,
        parents: &parents,
        keys: &keys,
    });

    for (actor, slots) in places.iter().enumerate() {
        let members: Vec<usize> = slots.iter().map(|&p| order[p]).collect();
        let stated = stated_order(
            events,
            &clocks,
            &members,
            shared.map(|ids| (ids, actor, slots.as_slice())),
        );
        let mut earliest = i64::MAX;
        for &local in stated.iter().rev() {
            let index = members[local];
            // Still the event's own timestamp: each event is its one actor's, set once here.
            earliest = earliest.min(effective_ns[index]);
            effective_ns[index] = earliest;
        }
        for (&slot, &local) in slots.iter().zip(&stated) {
            order[slot] = members[local];
        }
    }
    // Each actor's events only moved among its own places, so the first appearances, and with
    // them the numbers, are those of the final order too.
    let indexed = IndexedOrder {
        order: ActorOrder {
            order,
            effective_ns,
        },
        actor_of,
        by_id: unique.then_some(by_id),
        one_trace,
    };
    (indexed, clocks)
}

/// The trace's ids when no two events share one, and where each event sits: its actor and its
/// place among the actor's events in time order; with every event's parent link and the sorted
/// keys, so that the usual parent test reads no event.
#[derive(Clone, Copy)]
struct Ids<'a> {
    by_id: &'a IdMap,
    actor_of: &'a [usize],
    local_of: &'a [usize],
    /// Per input index: the event's `parent_id`.
    parents: &'a [Option<Uuid>],
    /// (timestamp, id, input index) by place in the time order.
    keys: &'a [(i64, u128, usize)],
}

/// The order of one actor's events (`members`, input indices in time order), as local indices
/// into `members`. `ids` (with the actor's number and its places in the time order) finds
/// parents among the members without a map per actor. `clocks` are the events' sent clocks;
/// when no event of the trace carries one, no counter can order anything.
fn stated_order(
    events: &[Event],
    clocks: &NumberedClocks<'_>,
    members: &[usize],
    ids: Option<(Ids<'_>, usize, &[usize])>,
) -> Vec<usize> {
    let n = members.len();
    if n < 2 {
        return (0..n).collect();
    }
    let mut edges: Vec<(usize, usize)> = Vec::new();
    match ids {
        Some((ids, actor, slots)) => {
            for (local, &index) in members.iter().enumerate() {
                let Some(parent) = ids.parents[index] else {
                    continue;
                };
                // The SDKs chain each step to the one before: a comparison, no lookup.
                if local > 0 && ids.keys[slots[local - 1]].1 == parent.as_u128() {
                    edges.push((local - 1, local));
                    continue;
                }
                let Some(&input) = ids.by_id.get(&parent.as_u128()) else {
                    continue;
                };
                let parent = ids.local_of[input];
                if ids.actor_of[input] == actor && parent != local {
                    edges.push((parent, local));
                }
            }
        }
        None => {
            let local_of: HashMap<Uuid, usize> = members
                .iter()
                .enumerate()
                .rev() // the first copy of a duplicate id wins
                .map(|(local, &index)| (events[index].id, local))
                .collect();
            for (local, &index) in members.iter().enumerate() {
                if let Some(&parent) = events[index].parent_id.and_then(|p| local_of.get(&p)) {
                    if parent != local {
                        edges.push((parent, local));
                    }
                }
            }
        }
    }
    if edges.iter().all(|&(before, after)| before < after)
        && (!clocks.any() || counters_follow_time(clocks, members))
    {
        // Every counter chain (if any) runs forwards in time order, so its edges would too.
        return (0..n).collect();
    }
    let mut counters: HashMap<u32, Vec<(u64, usize)>> = HashMap::default();
    for (local, &index) in members.iter().enumerate() {
        for &(component, counter) in clocks.of(index) {
            counters
                .entry(component)
                .or_default()
                .push((counter, local));
        }
    }
    for (_, mut chain) in counters {
        chain.sort_unstable();
        edges.extend(
            chain
                .windows(2)
                .filter(|pair| pair[0].0 < pair[1].0)
                .map(|pair| (pair[0].1, pair[1].1)),
        );
    }
    if edges.iter().all(|&(before, after)| before < after) {
        // Time order already agrees with everything stated.
        return (0..n).collect();
    }
    edges.sort_unstable();
    edges.dedup();
    let kept = graph::break_cycles(n, &edges);
    graph::priority_topological_order(n, &kept)
}

/// True when, for every component, the counters of `members` (in time order) never decrease and
/// no clock names a component twice: then each component's chain, sorted by (counter,
/// position), is in time order, and every edge it gives points forwards. An event listing the
/// same components as the one before it (an actor's clocks usually do) is compared with that
/// one position by position, which holds the latest counter of each; `latest` is brought up to
/// date only when the components change. Names are compared by number; only the check that a
/// changed clock lists its names sorted reads them.
fn counters_follow_time(clocks: &NumberedClocks<'_>, members: &[usize]) -> bool {
    let mut latest: HashMap<u32, u64> = HashMap::default();
    let mut previous: &[(u32, u64)] = &[];
    for &index in members {
        let clock = clocks.of(index);
        // One pass compares the names and the counters place by place (the counters matter
        // only when every name is the same).
        let (mut same_components, mut decreases) = (clock.len() == previous.len(), false);
        if same_components {
            for (now, then) in clock.iter().zip(previous) {
                if now.0 != then.0 {
                    same_components = false;
                    break;
                }
                decreases |= now.1 < then.1;
            }
        }
        // The same names as the previous clock, which passed, are in order too.
        let sorted = |pair: &[(u32, u64)]| clocks.name(pair[0].0) < clocks.name(pair[1].0);
        if !same_components && !clock.windows(2).all(sorted) {
            return false;
        }
        if same_components {
            if decreases {
                return false;
            }
        } else {
            latest.extend(previous.iter().copied());
            let decreases = |(name, counter): &(u32, u64)| {
                latest.get(name).is_some_and(|latest| counter < latest)
            };
            if clock.iter().any(decreases) {
                return false;
            }
        }
        previous = clock;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{call, event};

    /// Events 1, 2, 3 of one actor in time order with these clocks (as sent, unsorted allowed).
    fn actor_with(clocks: [&[(&str, u64)]; 3]) -> Vec<Event> {
        (0..3)
            .map(|i| {
                let mut e = event(i as u128 + 1, "w", 10 * (i as i64 + 1), call());
                e.causality_vector = clocks[i].iter().map(|(c, n)| (c.to_string(), *n)).collect();
                e
            })
            .collect()
    }

    /// Parents found through the trace's one id map (with the previous step compared first)
    /// give every actor the same order as a map of the actor's own ids, on random traces with
    /// parents inside and across actors, backwards in time, missing, and clocks that disagree.
    #[test]
    fn the_shared_id_map_orders_every_actor_as_its_own_map_does() {
        use rand::Rng;
        crate::testing::random_rounds(11, 300, |rng, _| {
            let len = rng.gen_range(1..40u128);
            let mut events = crate::testing::random_events(rng, len);
            for (e, n) in events.iter_mut().zip(1..) {
                e.parent_id = match rng.gen_range(0..4) {
                    0 => None,
                    1 => Some(crate::testing::id(n.max(2) - 1)),
                    2 => Some(crate::testing::id(rng.gen_range(1..=len + 3))),
                    _ => Some(crate::testing::id(n + 1)),
                };
                if rng.gen_bool(0.3) {
                    e.causality_vector = vec![("k".into(), rng.gen_range(0..5))];
                }
            }
            let (indexed, numbered) = indexed_program_order_numbered(&events);
            let by_id = indexed.by_id.as_ref().expect("ids are unique");
            let mut members: Vec<Vec<usize>> = Vec::new();
            let mut slots: Vec<Vec<usize>> = Vec::new();
            let mut local_of = vec![0; events.len()];
            let mut keys: Vec<(i64, u128, usize)> = (0..events.len())
                .map(|i| (events[i].timestamp_ns, events[i].id.as_u128(), i))
                .collect();
            keys.sort_unstable();
            for (position, &(_, _, i)) in keys.iter().enumerate() {
                let actor = indexed.actor_of[i];
                if members.len() <= actor {
                    members.resize(actor + 1, Vec::new());
                    slots.resize(actor + 1, Vec::new());
                }
                local_of[i] = members[actor].len();
                members[actor].push(i);
                slots[actor].push(position);
            }
            let parents: Vec<Option<Uuid>> = events.iter().map(|e| e.parent_id).collect();
            let ids = Ids {
                by_id,
                actor_of: &indexed.actor_of,
                local_of: &local_of,
                parents: &parents,
                keys: &keys,
            };
            for (actor, members) in members.iter().enumerate() {
                assert_eq!(
                    stated_order(
                        &events,
                        &numbered,
                        members,
                        Some((ids, actor, &slots[actor]))
                    ),
                    stated_order(&events, &numbered, members, None),
                );
            }
        });
    }

    #[test]
    fn a_repeated_id_shares_no_map() {
        let mut events = actor_with([&[], &[], &[]]);
        assert!(indexed_program_order(&events).by_id.is_some());
        events[2].id = events[0].id;
        assert!(indexed_program_order(&events).by_id.is_none());
    }

    #[test]
    fn a_counter_falling_behind_a_later_position_is_seen() {
        // `a` reaches 7 in the second clock (at another position), then the third says 6.
        let events = actor_with([&[("a", 5)], &[("a", 7), ("b", 1)], &[("a", 6)]]);
        assert!(!counters_follow_time(
            &indexed_program_order_numbered(&events).1,
            &[0, 1, 2]
        ));
        assert_eq!(actor_program_order(&events).order, vec![0, 2, 1]);
    }

    #[test]
    fn rising_counters_keep_time_order_and_skip_the_chains() {
        let events = actor_with([&[("a", 1)], &[("a", 2), ("b", 1)], &[("a", 3), ("b", 1)]]);
        assert!(counters_follow_time(
            &indexed_program_order_numbered(&events).1,
            &[0, 1, 2]
        ));
        assert_eq!(actor_program_order(&events).order, vec![0, 1, 2]);
    }

    #[test]
    fn unsorted_or_repeated_components_take_the_full_path() {
        let events = actor_with([&[("b", 1), ("a", 1)], &[("a", 2)], &[("a", 3)]]);
        assert!(!counters_follow_time(
            &indexed_program_order_numbered(&events).1,
            &[0, 1, 2]
        ));
        assert_eq!(actor_program_order(&events).order, vec![0, 1, 2]);
        let events = actor_with([&[("a", 1)], &[("a", 3), ("a", 2)], &[("a", 4)]]);
        assert!(!counters_follow_time(
            &indexed_program_order_numbered(&events).1,
            &[0, 1, 2]
        ));
    }
}

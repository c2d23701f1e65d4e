//! Happens-before for one trace: the final clock and the rebuilt lock set of every event.
//!
//! # Trust (DESIGN.md "Clocks: one source of truth")
//!
//! If every event of the trace [`has_trusted_clock`](raceway_schemas::Event::has_trusted_clock),
//! the clocks are used exactly as sent: processors never rewrite them. Otherwise the clocks of the
//! whole trace are derived, because one event without a usable clock makes the sent ones
//! incomparable with it, and mixing sent and derived clocks in one trace would order nothing
//! reliably.
//!
//! # Derivation rule
//!
//! Events are numbered by (timestamp_ns, id) (input position breaks ties between exact duplicate
//! ids), except that each actor's events take its places in the order its SDK stated through
//! `parent_id` chains and clock counters (the `actor_order` submodule: inside one actor the SDK's
//! order wins over timestamps), so the result never depends on the order events arrived in. An
//! actor is (trace id, [`Event::actor`]). `a -> b` ("a happens before b") for:
//!
//! 1. **Program order**: consecutive events of one actor in that numbering.
//! 2. **Parent link**: `b.parent_id == a.id`, even when clock skew puts `a` later in time.
//! 3. **Upstream span**: the *first* event of an actor that carries `upstream_span_id = S` follows
//!    the latest event numbered before it that carries `distributed_span_id = S` (the caller's
//!    step that sent the request). Only the first event links: the actor's later events follow
//!    by program order, and linking them to the caller's later steps would falsely order the
//!    callee after work the caller did concurrently while waiting (hiding real races).
//! 4. **Lock hand-over**: for each lock id, an acquire by actor X (not a re-entrant one) follows
//!    the latest exclusive release by another actor, and an exclusive acquire also follows the
//!    latest shared release of every other actor since the previous exclusive acquire. Two
//!    shared holds (RwLock read locks) do not order each other: readers can overlap, so ordering
//!    them would hide a race between two writers that hold only a read lock.
//! 5. **Atomics**: an atomic load reads from the latest earlier store of the same value to the
//!    same variable; when the store releases and the load acquires (by their orderings, or by
//!    fences of their actors), the release point precedes the acquire point. Orderings come from
//!    the `raceway.ordering` tag, `SeqCst` when absent: see the `atomics` submodule.
//! 6. **Merged response clocks**: a caller's step whose sent clock holds the component
//!    `"{service}#{instance}"` of a callee of its span at counter `k` follows the callee's last
//!    step counted at most `k`, when exactly one callee actor of that span qualifies (see the
//!    `responses` submodule). The existing SDKs merge the callee's clock into the caller's when
//!    a response comes back, so this orders the caller's steps after a synchronous call behind
//!    the callee's steps, even when the response event names the caller's previous step as its
//!    parent.
//!
//! Spawn and await, HTTP and Kafka are ordered in derived traces only through rules 2, 3 and 6,
//! as the existing SDKs record them: a spawned task's first event names the spawning event as
//! its parent, an await event may name the awaited task's last event as its parent, a callee's
//! (or consumer's) first event carries the caller's (or producer's) span as `upstream_span_id`,
//! and a response merges the callee's clock into the caller's. Nothing else is inferred (no
//! matching of task ids or message offsets), so a derived clock never orders what the recorded
//! links do not. Sent clocks of an untrusted trace are evidence only through rule 6 and the
//! counters of the `actor_order` submodule, never compared as they are: inside one instance
//! their counters cannot tell concurrent requests or threads apart, but a counter of *another*
//! instance can only have reached a caller through that instance's response.
//!
//! Edges that close a cycle (only a parent link contradicting time and other evidence can) are
//! dropped: inside each strongly connected component, edges pointing backwards in the numbering
//! are ignored, so timestamps win exactly where the evidence contradicts itself (see
//! the `graph` module). The clock of an event is the join of its predecessors' clocks, then its own
//! actor's component incremented. Components are named `"{trace_id}/{actor}"` so that derived
//! clocks of different traces never share a component and are therefore never ordered: without a
//! common clock nothing orders two requests.
//!
//! `causal_order` is a topological order of the events (smallest number first among the ready
//! ones); for trusted clocks it sorts by (sum of counters, number), which respects the clocks
//! because `a` happening before `b` makes `a`'s sum strictly smaller.
//!
//! # Lock sets
//!
//! Rebuilt for every event, trusted or not (the SDKs send none), per actor in program order by
//! the `locksets` module; the lock set of an acquire includes the lock it took, that of a release
//! excludes the lock it gave back.

mod actor_order;
mod atomics;
mod clock_names;
mod edges;
mod responses;

pub use actor_order::{actor_program_order, ActorOrder};
pub(crate) use actor_order::{indexed_program_order, numbered_program_order, IdMap, IndexedOrder};
pub use atomics::{access_ordering, ORDERING_TAG};
use clock_names::NumberedClocks;

use std::borrow::Cow;
use std::sync::Arc;

use raceway_schemas::{ClockTable, CompactClock, Event, HeldLock, JoinedClock};

use crate::graph;

/// Happens-before information for one event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventCausality {
    /// The event's final clock: as sent when the trace is trusted, derived otherwise. Every
    /// clock of a trace indexes the same table of component names, so the trace's race inputs
    /// copy a clock without copying or looking up a name.
    pub clock: CompactClock,
    /// Locks the actor held at the event, sorted by lock id, with their modes: one shared copy
    /// per distinct lock set of the trace, which the race inputs hand on as they are.
    pub locks: Arc<[HeldLock]>,
}

/// Happens-before information for one trace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TraceCausality {
    /// True when every event carried a clock from our SDK and those clocks were used as sent.
    pub trusted: bool,
    /// One entry per input event, at the same index.
    pub per_event: Vec<EventCausality>,
    /// Input indices in a deterministic topological order of happens-before.
    pub causal_order: Vec<usize>,
    /// Input indices in program order (see [`actor_program_order`]): the numbering every
    /// per-trace rule walks, sorted once here and reused by the race inputs of the trace.
    pub program_order: Vec<usize>,
    /// Per input index: the number of the event's actor (see `numbered_program_order`), so that
    /// the per-actor replays of the race inputs index their state instead of hashing actors.
    pub(crate) actor_of: Vec<usize>,
}

/// Every event's final clock, by input index, and the causal order of the positions.
struct Clocks {
    clocks: Vec<CompactClock>,
    order: Vec<usize>,
}

/// Computes the final clocks, lock sets and a causal order for the events of one trace, given in
/// any order. See the module doc for the rules. Never panics, whatever the links say.
pub fn trace_causality(events: &[Event]) -> TraceCausality {
    let n = events.len();
    let (
        IndexedOrder {
            order: ActorOrder { order: sorted, .. },
            actor_of,
            by_id,
            ..
        },
        sent,
    ) = actor_order::indexed_program_order_numbered(events);
    let mut evidence = edges::collect(events, &sorted, &actor_of, by_id.as_ref());
    let trusted = n > 0 && events.iter().all(Event::has_trusted_clock);
    if !trusted {
        let merged = responses::response_edges(events, &sorted, &evidence.actor_of);
        evidence.edges.extend(merged);
    }

    let mut position_of = vec![0; n];
    for (position, &index) in sorted.iter().enumerate() {
        position_of[index] = position;
    }
    let Clocks { clocks, order } = if trusted {
        sent_clocks(sent, &position_of)
    } else {
        drop(sent);
        derived_clocks(&evidence, &position_of)
    };

    let locks = evidence.locks;
    let per_event = clocks
        .into_iter()
        .zip(&position_of)
        .map(|(clock, &position)| EventCausality {
            clock,
            locks: Arc::clone(&locks[position]),
        })
        .collect();
    TraceCausality {
        trusted,
        per_event,
        causal_order: order.into_iter().map(|position| sorted[position]).collect(),
        program_order: sorted,
        actor_of,
    }
}

/// The program order of `events` (input indices sorted by (timestamp, id, index), each actor's
/// events in the order its SDK stated: see the `actor_order` submodule, the numbering every
/// per-trace rule walks, so that program order and "latest earlier" never depend on arrival
/// order) and the actor number of every input index: the ones `causality` holds when it was
/// computed for them (the same number of events), else computed anew.
pub(crate) fn ordered_actors<'a>(
    events: &[Event],
    causality: &'a TraceCausality,
) -> (Cow<'a, [usize]>, Cow<'a, [usize]>) {
    if causality.program_order.len() == events.len() && causality.actor_of.len() == events.len() {
        (
            Cow::Borrowed(&causality.program_order),
            Cow::Borrowed(&causality.actor_of),
        )
    } else {
        let (ActorOrder { order, .. }, actor_of) = numbered_program_order(events);
        (Cow::Owned(order), Cow::Owned(actor_of))
    }
}

/// The state of `actor` in per-actor `states` indexed by actor number, created empty if needed.
#[inline]
pub(crate) fn state_of<T: Default>(states: &mut Vec<T>, actor: usize) -> &mut T {
    if states.len() <= actor {
        states.resize_with(actor + 1, T::default);
    }
    &mut states[actor]
}

/// Trusted trace: the clocks as sent (by input index; `position_of` gives each index's
/// position in the numbering), ordered by (sum of counters, position). Their component names
/// were numbered by the program order's pass (the `clock_names` submodule); they are renumbered
/// here by the trace's sorted table: no name is compared or copied per event. A zero counter
/// says nothing (a missing component counts as 0), and a name only ever sent with zero must not
/// enter the table; without a zero anywhere (our SDK sends none) every name is used, the table
/// is known before any clock is read, and each clock is taken, summed, then renumbered and
/// checked in one pass ([`raceway_schemas::Renumbering::clock_in_order`]), or, when it lists the
/// names of the clock before it in input order (an SDK's clocks of one trace usually do, once
/// every thread is known), given that clock's indices
/// ([`raceway_schemas::CompactClock::with_counters`]).
fn sent_clocks(mut sent: NumberedClocks<'_>, position_of: &[usize]) -> Clocks {
    let n = position_of.len();
    let mut clocks: Vec<CompactClock> = Vec::with_capacity(n);
    // Per position: the sum of the clock's counters.
    let mut sums: Vec<u128> = vec![0; n];
    let sum_of = |clock: &[(u32, u64)]| clock.iter().map(|&(_, c)| u128::from(c)).sum::<u128>();
    if !sent.zeros() {
        let names: Vec<Arc<str>> = sent.names().iter().map(|&name| Arc::from(name)).collect();
        let renumbering = ClockTable::renumbering(&names);
        // True when the last clock built holds its sent entries in their order: a clock of the
        // same names then takes its indices (no renumbering, no order check).
        let mut last_in_order = false;
        for (index, &position) in position_of.iter().enumerate() {
            let mut clock = sent.take(index);
            sums[position] = sum_of(&clock);
            if last_in_order && sent.repeats_previous(index) {
                if let Some(last) = clocks.last() {
                    match last.with_counters(clock) {
                        Ok(built) => {
                            clocks.push(built);
                            continue;
                        }
                        Err(entries) => clock = entries,
                    }
                }
            }
            // Every number is one of the names given, so a clock is always built.
            let (built, in_order) = renumbering
                .clock_in_order(clock)
                .unwrap_or_else(|| (CompactClock::default(), false));
            last_in_order = in_order;
            clocks.push(built);
        }
    } else {
        let names = sent.names();
        let mut used = vec![false; names.len()];
        for index in 0..n {
            for &(number, counter) in sent.of(index) {
                used[number as usize] |= counter > 0;
            }
        }
        let kept: Vec<Arc<str>> = names
            .iter()
            .zip(&used)
            .filter(|(_, &used)| used)
            .map(|(&name, _)| Arc::from(name))
            .collect();
        let (table, kept_index) = ClockTable::numbering(&kept);
        let mut index_of = vec![0; names.len()];
        for ((slot, _), &index) in index_of
            .iter_mut()
            .zip(&used)
            .filter(|(_, &used)| used)
            .zip(&kept_index)
        {
            *slot = index;
        }
        for (index, &position) in position_of.iter().enumerate() {
            let mut clock = sent.take(index);
            clock.retain(|&(_, counter)| counter > 0);
            sums[position] = sum_of(&clock);
            for (number, _) in clock.iter_mut() {
                *number = index_of[*number as usize];
            }
            // Indices come from the table's own numbering, so they are always in range.
            clocks.push(table.clock(clock).unwrap_or_default());
        }
    }
    Clocks {
        clocks,
        order: by_sum_then_position(sums),
    }
}

/// The positions `0..sums.len()` sorted by their sum (`sums` is by position), then position.
///
/// Sums of our SDK's clocks are at most the number of events (each counter counts the events
/// of one actor, and a clock counts only events before it), so when every sum is small next to
/// the number of positions they are **counted**: one pass counts each sum, one places every
/// position after the positions of smaller sums, in position order (a counting sort: about 35
/// instructions per position with its vectors, where the comparison sort took 120). Larger sums are sorted as
/// (sum, position) keys, packed into one `u64` each when both fit 32 bits (an integer
/// comparison per step instead of a 128-bit one, and a quarter of the bytes moved). The keys are
/// distinct, so every way gives the one order.
fn by_sum_then_position(sums: Vec<u128>) -> Vec<usize> {
    let n = sums.len();
    let largest = sums.iter().copied().max().unwrap_or(0);
    if largest <= (2 * n + 1024) as u128 {
        // Where the positions of each sum start in the order, then the next free place there.
        let mut next = vec![0usize; largest as usize + 2];
        for &sum in &sums {
            next[sum as usize + 1] += 1;
        }
        for sum in 0..=largest as usize {
            next[sum + 1] += next[sum];
        }
        let mut order = vec![0usize; n];
        for (position, &sum) in sums.iter().enumerate() {
            order[next[sum as usize]] = position;
            next[sum as usize] += 1;
        }
        return order;
    }
    let fits = |value: u128| value <= u128::from(u32::MAX);
    if fits(largest) && fits(n as u128) {
        let mut packed: Vec<u64> = (0u64..)
            .zip(&sums)
            .map(|(position, &sum)| ((sum as u64) << 32) | position)
            .collect();
        packed.sort_unstable();
        return packed
            .into_iter()
            .map(|key| (key & u64::from(u32::MAX)) as usize)
            .collect();
    }
    let mut keys: Vec<(u128, usize)> = sums.into_iter().zip(0..).collect();
    keys.sort_unstable();
    keys.into_iter().map(|(_, position)| position).collect()
}

/// Untrusted trace: clocks derived from the evidence edges, one component per actor, named
/// `"{trace_id}/{actor}"` (actors whose names print alike share one).
fn derived_clocks(evidence: &edges::Evidence, position_of: &[usize]) -> Clocks {
    let n = position_of.len();
    let kept = graph::break_cycles(n, &evidence.edges);
    let order = graph::priority_topological_order(n, &kept);
    // The predecessors of every position, grouped by position (a counting sort of the edges by
    // their later end): `predecessors[first[p]..first[p + 1]]` are those of `p`. One
    // allocation, where a vector per position allocated once per event.
    let mut first = vec![0usize; n + 1];
    for &(_, after) in &kept {
        first[after + 1] += 1;
    }
    for position in 0..n {
        first[position + 1] += first[position];
    }
    let mut next = first.clone();
    let mut predecessors = vec![0usize; kept.len()];
    for &(before, after) in &kept {
        predecessors[next[after]] = before;
        next[after] += 1;
    }
    let names: Vec<Arc<str>> = evidence
        .actors
        .iter()
        .map(|(trace_id, actor)| Arc::from(format!("{trace_id}/{actor}")))
        .collect();
    let (table, component_of) = ClockTable::numbering(&names);
    // Each clock is made of joins and the increment only, so the table takes it without a
    // check of every entry ([`JoinedClock`]).
    let mut entries: Vec<JoinedClock> = vec![JoinedClock::default(); n];
    for &position in &order {
        // Sized for its predecessors' components and the actor's own: the first join copies
        // into it and the increment inserts into it without growing it (each grew it once).
        let before = &predecessors[first[position]..first[position + 1]];
        let components: usize = before.iter().map(|&b| entries[b].len()).sum();
        let mut clock = JoinedClock::with_capacity((components + 1).min(names.len().max(1)));
        for &before in before {
            clock.join(&entries[before]);
        }
        clock.increment(component_of[evidence.actor_of[position]]);
        entries[position] = clock;
    }
    // Indices come from the table's own numbering, so they are always in range.
    let clocks = position_of
        .iter()
        .map(|&position| {
            table
                .joined_clock(std::mem::take(&mut entries[position]))
                .unwrap_or_default()
        })
        .collect();
    Clocks { clocks, order }
}

#[cfg(test)]
mod clock_tests;
#[cfg(test)]
mod tests;

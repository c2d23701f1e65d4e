//! The causal graph of one trace, for the UIs: every event as a node (in causal order, with its
//! final clock) and typed edges between them.
//!
//! # Edges
//!
//! Structural edges say why one event leads to another: [`EdgeKind::Parent`] (`parent_id`),
//! [`EdgeKind::ProgramOrder`] (consecutive events of one actor), [`EdgeKind::Spawn`] (an
//! `AsyncSpawn` to the task's first event), [`EdgeKind::Await`] (the awaited task's last event
//! before the `AsyncAwait`), [`EdgeKind::RemoteCall`] and [`EdgeKind::Message`] (the rules of the
//! `links` module). When several apply to one pair, the most specific kind is kept (spawn, await,
//! remote call and message over parent, parent over program order).
//!
//! [`EdgeKind::HappensBefore`] edges come from the clocks of [`crate::trace_causality`], the one
//! source of happens-before, so that ordering the structure does not explain (lock hand-overs,
//! and whatever the causality rules learn later) still shows: for each event, the events that
//! produced what its clock knows beyond its own program-order predecessor, minus those already
//! known through another of them (a transitive reduction). The event that produced counter `n`
//! of component `c` is the one with the smallest clock among those holding exactly `c = n`.

use foldhash::HashMap;
use raceway_schemas::{Event, EventKind};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use super::event_location;
use super::links::EventIndex;
use crate::causality::TraceCausality;

/// Why one event leads to another.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// Ordered by the clocks, with no structural link explaining it (e.g. a lock hand-over).
    HappensBefore,
    /// Consecutive events of one actor.
    ProgramOrder,
    /// The later event's `parent_id`.
    Parent,
    /// A task spawn to the task's first event.
    Spawn,
    /// The awaited task's last event to the await.
    Await,
    /// The caller's step to the callee's first step in the downstream span.
    RemoteCall,
    /// A message send to its receive.
    Message,
}

impl EdgeKind {
    /// Which kind wins when several describe one pair of events.
    fn specificity(self) -> u8 {
        match self {
            EdgeKind::HappensBefore => 0,
            EdgeKind::ProgramOrder => 1,
            EdgeKind::Parent => 2,
            EdgeKind::Spawn | EdgeKind::Await | EdgeKind::RemoteCall | EdgeKind::Message => 3,
        }
    }
}

/// One event of the graph.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphNode {
    /// The event.
    pub id: Uuid,
    /// The event kind's name.
    pub kind: String,
    /// The event's service.
    pub service: String,
    /// The event's thread or task.
    pub thread: String,
    /// See [`crate::trace::event_location`].
    pub location: String,
    /// Timestamp, ns since the epoch.
    pub timestamp_ns: i64,
    /// The duration the SDK measured, if any.
    pub duration_ns: Option<u64>,
    /// The final clock, as (component, counter) pairs.
    #[cfg_attr(
        feature = "openapi",
        schema(schema_with = raceway_schemas::openapi::clock_pairs)
    )]
    pub clock: Vec<(String, u64)>,
}

/// One typed edge: `from` leads to `to`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphEdge {
    /// The earlier event.
    pub from: Uuid,
    /// The later event.
    pub to: Uuid,
    /// Why.
    pub kind: EdgeKind,
}

/// The causal graph of one trace.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CausalGraph {
    /// The trace (nil when empty).
    pub trace_id: Uuid,
    /// True when the clocks are the SDK's, false when derived.
    pub trusted_clocks: bool,
    /// Every event, in causal order.
    pub nodes: Vec<GraphNode>,
    /// Edges, sorted by the causal rank of `to`, then of `from`.
    pub edges: Vec<GraphEdge>,
}

/// Why a graph cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GraphExportError {
    /// The causality was computed for other events.
    #[error("causality covers {clocks} events but the trace has {events}")]
    CausalityMismatch {
        /// Number of events given.
        events: usize,
        /// Number of events the causality describes.
        clocks: usize,
    },
}

/// Builds the causal graph of one trace from its events (any order) and their
/// [`crate::trace_causality`].
pub fn causal_graph(
    events: &[Event],
    causality: &TraceCausality,
) -> Result<CausalGraph, GraphExportError> {
    let valid_order = causality.causal_order.len() == events.len()
        && causality.causal_order.iter().all(|&i| i < events.len());
    if causality.per_event.len() != events.len() || !valid_order {
        return Err(GraphExportError::CausalityMismatch {
            events: events.len(),
            clocks: causality.per_event.len(),
        });
    }
    let index = EventIndex::new(events);
    let mut edges: HashMap<(usize, usize), EdgeKind> = HashMap::default();
    let mut add = |from: usize, to: usize, kind: EdgeKind| {
        if from == to {
            return;
        }
        let slot = edges.entry((from, to)).or_insert(kind);
        if kind.specificity() > slot.specificity() {
            *slot = kind;
        }
    };
    for (i, event) in events.iter().enumerate() {
        if let Some(parent) = event.parent_id.and_then(|p| index.parent_of(i, &p)) {
            add(parent, i, EdgeKind::Parent);
        }
        if let Some(previous) = index.prev_in_actor(i) {
            add(previous, i, EdgeKind::ProgramOrder);
        }
        match &event.kind {
            EventKind::AsyncSpawn(_) => {
                if let Some(first) = index.spawned_first(i) {
                    add(i, first, EdgeKind::Spawn);
                }
            }
            EventKind::AsyncAwait(_) => {
                if let Some(last) = index.awaited_last(i) {
                    add(last, i, EdgeKind::Await);
                }
            }
            EventKind::MessageReceive(_) => {
                if let Some(send) = index.message_source(i) {
                    add(send, i, EdgeKind::Message);
                }
            }
            _ => {}
        }
    }
    for (caller, callee) in index.remote_calls() {
        add(caller, callee, EdgeKind::RemoteCall);
    }
    for (from, to) in clock_edges(causality) {
        add(from, to, EdgeKind::HappensBefore);
    }

    let mut rank = vec![0usize; events.len()];
    for (r, &i) in causality.causal_order.iter().enumerate() {
        rank[i] = r;
    }
    let mut edge_list: Vec<((usize, usize), EdgeKind)> = edges.into_iter().collect();
    edge_list.sort_by_key(|&((from, to), kind)| (rank[to], rank[from], kind));
    Ok(CausalGraph {
        trace_id: index
            .order
            .first()
            .map_or(Uuid::nil(), |&i| events[i].trace_id),
        trusted_clocks: causality.trusted,
        nodes: causality
            .causal_order
            .iter()
            .map(|&i| graph_node(&events[i], causality, i))
            .collect(),
        edges: edge_list
            .into_iter()
            .map(|((from, to), kind)| GraphEdge {
                from: events[from].id,
                to: events[to].id,
                kind,
            })
            .collect(),
    })
}

fn graph_node(event: &Event, causality: &TraceCausality, i: usize) -> GraphNode {
    GraphNode {
        id: event.id,
        kind: event.kind.name().to_string(),
        service: event.metadata.service_name.clone(),
        thread: event.metadata.thread_id.clone(),
        location: event_location(event),
        timestamp_ns: event.timestamp_ns,
        duration_ns: event.metadata.duration_ns,
        clock: causality.per_event[i].clock.to_pairs(),
    }
}

/// The covering edges of happens-before, read from the clocks (module doc).
fn clock_edges(causality: &TraceCausality) -> Vec<(usize, usize)> {
    let clocks = numbered_clocks(causality);
    let sums: Vec<u128> = clocks
        .iter()
        .map(|clock| clock.iter().map(|&(_, n)| u128::from(n)).sum())
        .collect();
    // (component, counter) -> the event that produced it.
    let mut producer: HashMap<(u32, u64), usize> = HashMap::default();
    for (i, clock) in clocks.iter().enumerate() {
        for &(component, counter) in clock {
            let slot = producer.entry((component, counter)).or_insert(i);
            if (sums[i], i) < (sums[*slot], *slot) {
                *slot = i;
            }
        }
    }
    let get = |clock: &[(u32, u64)], component: u32| match clock
        .binary_search_by_key(&component, |&(c, _)| c)
    {
        Ok(at) => clock[at].1,
        Err(_) => 0,
    };
    let mut edges = Vec::new();
    let mut candidates: Vec<(usize, u32, u64)> = Vec::new();
    for (i, clock) in clocks.iter().enumerate() {
        // The event's own component: a counter it produced itself.
        let own = clock
            .iter()
            .find(|&&(c, n)| producer.get(&(c, n)) == Some(&i));
        let predecessor = own.and_then(|&(c, n)| {
            n.checked_sub(1)
                .and_then(|m| producer.get(&(c, m)).copied())
        });
        if let Some(p) = predecessor {
            edges.push((p, i));
        }
        candidates.clear();
        for &(c, n) in clock {
            let Some(&source) = producer.get(&(c, n)) else {
                continue;
            };
            let already_known = predecessor.is_some_and(|p| get(&clocks[p], c) >= n);
            if source != i && !already_known {
                candidates.push((source, c, n));
            }
        }
        // Drop candidates another candidate already knows about (reached through it).
        for (j, &(source, c, n)) in candidates.iter().enumerate() {
            let covered = candidates.iter().enumerate().any(|(k, &(other, _, _))| {
                k != j && other != source && get(&clocks[other], c) >= n
            });
            if !covered {
                edges.push((source, i));
            }
        }
    }
    edges
}

/// The clocks with their component names replaced by numbers (sorted by number), so the
/// lookups above hash and compare integers, not names of some 60 characters. Derived clocks
/// share each name's allocation, so names are first looked up by address.
fn numbered_clocks(causality: &TraceCausality) -> Vec<Vec<(u32, u64)>> {
    let mut by_address: HashMap<usize, u32> = HashMap::default();
    let mut by_name: HashMap<&str, u32> = HashMap::default();
    causality
        .per_event
        .iter()
        .map(|facts| {
            let mut clock: Vec<(u32, u64)> = facts
                .clock
                .iter()
                .map(|(name, counter)| {
                    let address = name.as_ptr() as usize;
                    let number = match by_address.get(&address) {
                        Some(&number) => number,
                        None => {
                            let next = by_name.len() as u32;
                            let number = *by_name.entry(name).or_insert(next);
                            by_address.insert(address, number);
                            number
                        }
                    };
                    (number, counter)
                })
                .collect();
            clock.sort_unstable();
            clock
        })
        .collect()
}

#[cfg(test)]
#[path = "graph_export_tests.rs"]
mod tests;

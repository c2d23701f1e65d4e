//! Lock-order inversions (DESIGN.md "Race semantics"): actors that take locks in orders that
//! form a cycle (X holds A and takes B, Y holds B and takes A; or three actors around A, B, C),
//! a deadlock in another schedule even if this run did not deadlock.
//!
//! The trace stage extracts [`LockOrderEdge`]s ([`lock_order_edges`]); the race stage feeds them,
//! keyed by environment so that every edge of a cycle meets in one place, to a
//! [`LockOrderDetector`]. It keeps each environment's edges as a graph of locks (an edge from the
//! lock held to the lock taken) and, for each new edge, searches the cycles that close through
//! it: a depth-first walk from the lock it takes back to the lock it holds, over retained edges
//! that each pass the pair tests with every edge already on the walk. A cycle is found exactly
//! once, when its last edge arrives, in any arrival order.
//!
//! The verdict for a cycle is [`is_lock_order_cycle`] (the `rules` module states the rule); this
//! module keeps the edges and decides which to compare. The walk is bounded: cycles of at most
//! [`MAX_CYCLE_LOCKS`] locks, and at most [`MAX_SEARCH_STEPS`] edges tried per new edge (counted in
//! [`LockOrderDetector::truncated_searches`] when reached), so one edge never costs more than a
//! bounded amount of work, whatever the lock graph.
//!
//! Findings have kind `lock_order_inversion`, variable `"A <-> B"` for two locks (sorted) or
//! `"A -> B -> C -> A"` for longer cycles (starting at the smallest lock id), and the two
//! earliest inner acquisitions as their events (where the first two actors would block); the
//! explanation names every acquisition of the cycle.

mod edges;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use raceway_schemas::LockOrderEdge;
use uuid::Uuid;

pub use edges::{lock_order_edges, lock_order_edges_with};

use crate::config::RaceConfig;
use crate::rules::{could_deadlock_together, is_lock_order_cycle, lock_order_step};

/// Cycles longer than this many locks are not searched.
pub const MAX_CYCLE_LOCKS: usize = 8;
/// Edges tried per new edge before the search gives up.
pub const MAX_SEARCH_STEPS: usize = 10_000;

/// The edges of one lock-order cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct LockCycle {
    /// In cycle order (each takes the lock the next holds), starting with the edge whose inner
    /// acquisition is earliest by (timestamp, event id).
    pub edges: Vec<Arc<LockOrderEdge>>,
}

fn rank(edge: &LockOrderEdge) -> (i64, Uuid) {
    (edge.acquired.timestamp_ns, edge.acquired.event_id)
}

impl LockCycle {
    /// A cycle of `edges` given in cycle order (at least two), rotated to start at the earliest.
    pub fn new(mut edges: Vec<Arc<LockOrderEdge>>) -> Self {
        let earliest = (0..edges.len())
            .min_by_key(|&i| rank(&edges[i]))
            .unwrap_or(0);
        edges.rotate_left(earliest);
        LockCycle { edges }
    }

    /// The edge with the earliest inner acquisition.
    pub fn first(&self) -> &LockOrderEdge {
        &self.edges[0]
    }

    /// The edge with the second earliest inner acquisition.
    pub fn second(&self) -> &LockOrderEdge {
        let later = self.edges.iter().skip(1).min_by_key(|e| rank(e));
        later.map_or(&self.edges[0], |e| e)
    }

    /// The finding's variable: `"A <-> B"` (sorted) for two locks, else the locks in cycle order
    /// from the smallest id, back to it: `"A -> B -> C -> A"`.
    pub fn variable(&self) -> String {
        let locks: Vec<&str> = self.edges.iter().map(|e| e.held.lock_id.as_str()).collect();
        if let [a, b] = locks[..] {
            let (a, b) = if a <= b { (a, b) } else { (b, a) };
            return format!("{a} <-> {b}");
        }
        let smallest = (0..locks.len()).min_by_key(|&i| locks[i]).unwrap_or(0);
        let mut names: Vec<&str> = locks[smallest..]
            .iter()
            .chain(&locks[..smallest])
            .copied()
            .collect();
        names.push(names[0]);
        names.join(" -> ")
    }
}

/// One environment's retained edges, as a graph from the lock held to the lock taken.
#[derive(Debug, Default)]
struct LockGraph {
    /// (held lock, taken lock) -> retained edges, oldest first.
    edges: HashMap<(String, String), Vec<Arc<LockOrderEdge>>>,
    /// Held lock -> the locks taken while holding it (the keys of `edges`), sorted so the search
    /// order, and so the findings' order, does not depend on hashing.
    next: HashMap<String, BTreeSet<String>>,
}

/// Finds lock-order cycles over edges arriving in any order, per environment.
#[derive(Debug, Default)]
pub struct LockOrderDetector {
    config: RaceConfig,
    graphs: HashMap<String, LockGraph>,
    /// (held acquire, inner acquire) event ids of retained edges, to ignore redeliveries.
    ids: HashSet<(Uuid, Uuid)>,
    evictions: u64,
    truncated: u64,
}

impl LockOrderDetector {
    /// A detector with `config` (slack; `max_accesses_per_variable` bounds the edges kept per
    /// ordered lock pair).
    pub fn new(config: RaceConfig) -> Self {
        LockOrderDetector {
            config,
            ..LockOrderDetector::default()
        }
    }

    /// Searches the cycles `edge` closes with the retained edges of its environment, then
    /// retains it; returns the cycles, in search order. A redelivered edge is ignored.
    pub fn observe(&mut self, edge: LockOrderEdge) -> Vec<LockCycle> {
        let id = (edge.held.event_id, edge.acquired.event_id);
        if self.ids.contains(&id) {
            return Vec::new();
        }
        let edge = Arc::new(edge);
        let graph = self.graphs.entry(edge.environment.clone()).or_default();
        let mut search = Search {
            graph,
            config: &self.config,
            chain: vec![Arc::clone(&edge)],
            steps: 0,
            found: Vec::new(),
        };
        search.walk();
        let (found, truncated) = (search.found, search.steps >= MAX_SEARCH_STEPS);
        self.truncated += u64::from(truncated);

        let key = (edge.held.lock_id.clone(), edge.acquired.lock_id.clone());
        graph
            .next
            .entry(key.0.clone())
            .or_default()
            .insert(key.1.clone());
        let kept = graph.edges.entry(key).or_default();
        let at = kept.partition_point(|other| rank(other) <= rank(&edge));
        kept.insert(at, edge);
        self.ids.insert(id);
        while kept.len() > self.config.max_accesses_per_variable.max(1) {
            let gone = kept.remove(0);
            self.ids
                .remove(&(gone.held.event_id, gone.acquired.event_id));
            self.evictions += 1;
        }
        found
    }

    /// Drops edges whose inner acquisition is older than `timestamp_ns`; returns how many.
    pub fn evict_older_than(&mut self, timestamp_ns: i64) -> usize {
        self.drop_where(|edge| edge.acquired.timestamp_ns < timestamp_ns)
    }

    /// Drops the edges of `trace_id` (before its re-analysed edges are fed again).
    pub fn forget_trace(&mut self, trace_id: Uuid) -> usize {
        self.drop_where(|edge| edge.trace_id == trace_id)
    }

    fn drop_where(&mut self, drop: impl Fn(&LockOrderEdge) -> bool) -> usize {
        let mut dropped = 0;
        let ids = &mut self.ids;
        for graph in self.graphs.values_mut() {
            graph.edges.retain(|_, kept| {
                kept.retain(|edge| {
                    let gone = drop(edge);
                    if gone {
                        ids.remove(&(edge.held.event_id, edge.acquired.event_id));
                        dropped += 1;
                    }
                    !gone
                });
                !kept.is_empty()
            });
            let edges = &graph.edges;
            graph.next.retain(|held, taken| {
                taken.retain(|lock| edges.contains_key(&(held.clone(), lock.clone())));
                !taken.is_empty()
            });
        }
        self.graphs.retain(|_, graph| !graph.edges.is_empty());
        dropped
    }

    /// Number of edges retained.
    pub fn retained_len(&self) -> usize {
        self.ids.len()
    }

    /// Edges evicted because a lock pair hit its bound (a possible loss of findings).
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    /// Searches that stopped at [`MAX_SEARCH_STEPS`] (a possible loss of findings).
    pub fn truncated_searches(&self) -> u64 {
        self.truncated
    }
}

/// The depth-first search for the cycles through `chain[0]`, the new edge.
struct Search<'a> {
    graph: &'a LockGraph,
    config: &'a RaceConfig,
    /// The edges of the walk so far, the new edge first.
    chain: Vec<Arc<LockOrderEdge>>,
    steps: usize,
    found: Vec<LockCycle>,
}

impl Search<'_> {
    fn walk(&mut self) {
        let (Some(start), Some(last)) = (self.chain.first(), self.chain.last()) else {
            return;
        };
        let (home, at) = (start.held.lock_id.clone(), last.acquired.lock_id.clone());
        let Some(taken) = self.graph.next.get(&at) else {
            return;
        };
        for lock in taken {
            let closes = *lock == home;
            let visited = self.chain.iter().any(|e| e.held.lock_id == *lock);
            if !closes && (visited || self.chain.len() + 1 >= MAX_CYCLE_LOCKS) {
                continue;
            }
            let Some(candidates) = self.graph.edges.get(&(at.clone(), lock.clone())) else {
                continue;
            };
            for next in candidates {
                if self.steps >= MAX_SEARCH_STEPS {
                    return;
                }
                self.steps += 1;
                let fits = self
                    .chain
                    .last()
                    .is_some_and(|last| lock_order_step(last, next))
                    && self
                        .chain
                        .iter()
                        .all(|e| could_deadlock_together(e, next, self.config));
                if !fits {
                    continue;
                }
                self.chain.push(Arc::clone(next));
                if closes {
                    let cycle: Vec<&LockOrderEdge> = self.chain.iter().map(|e| &**e).collect();
                    if is_lock_order_cycle(&cycle, self.config) {
                        self.found.push(LockCycle::new(self.chain.clone()));
                    }
                } else {
                    self.walk();
                }
                self.chain.pop();
            }
        }
    }
}

#[cfg(test)]
mod tests;

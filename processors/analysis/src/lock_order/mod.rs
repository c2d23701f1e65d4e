//! Lock-order inversions (DESIGN.md "Race semantics"): two actors take the same two locks in
//! opposite orders, a deadlock in another schedule even if this run did not deadlock.
//!
//! The trace stage extracts [`LockOrderEdge`]s ([`lock_order_edges`]); the race stage feeds them,
//! keyed by the sorted lock pair, to a [`LockOrderDetector`], which compares each new edge with
//! the retained edges of the same pair in the opposite direction, in any arrival order.
//!
//! The verdict for a pair of edges is [`is_lock_order_inversion`] (the `rules` module states the
//! rule); this module keeps the edges per lock pair and decides which to compare.
//!
//! Findings have kind `lock_order_inversion`, variable `"A <-> B"` (sorted lock ids) and the two
//! inner acquisitions as their events (so the location pair is where each actor would block).

mod edges;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use raceway_schemas::LockOrderEdge;
use uuid::Uuid;

pub use edges::{lock_order_edges, lock_order_edges_with};

use crate::config::RaceConfig;
use crate::rules::is_lock_order_inversion;

/// Two edges forming an inversion, `first` being the one whose inner acquisition is earlier by
/// (timestamp, event id).
#[derive(Debug, Clone, PartialEq)]
pub struct InversionPair {
    /// The earlier edge.
    pub first: Arc<LockOrderEdge>,
    /// The later edge.
    pub second: Arc<LockOrderEdge>,
}

impl InversionPair {
    /// Builds a pair, putting the earlier edge first.
    pub fn new(a: Arc<LockOrderEdge>, b: Arc<LockOrderEdge>) -> Self {
        let rank = |e: &LockOrderEdge| (e.acquired.timestamp_ns, e.acquired.event_id);
        let (first, second) = if rank(&a) <= rank(&b) { (a, b) } else { (b, a) };
        InversionPair { first, second }
    }

    /// The finding's variable: the sorted lock pair, `"A <-> B"`.
    pub fn variable(&self) -> String {
        let (a, b) = self.first.lock_pair();
        format!("{a} <-> {b}")
    }
}

/// Finds lock-order inversions over edges arriving in any order, per sorted lock pair.
#[derive(Debug, Default)]
pub struct LockOrderDetector {
    config: RaceConfig,
    /// Partition key (environment and sorted pair) -> retained edges, oldest first.
    pairs: HashMap<String, Vec<Arc<LockOrderEdge>>>,
    /// (held acquire, inner acquire) event ids of retained edges, to ignore redeliveries.
    ids: HashSet<(Uuid, Uuid)>,
    evictions: u64,
}

impl LockOrderDetector {
    /// A detector with `config` (slack; `max_accesses_per_variable` bounds the edges kept per
    /// lock pair).
    pub fn new(config: RaceConfig) -> Self {
        LockOrderDetector {
            config,
            ..LockOrderDetector::default()
        }
    }

    /// Compares `edge` with the retained edges of its lock pair and retains it; returns the
    /// inversions it forms, oldest partner first. A redelivered edge is ignored.
    pub fn observe(&mut self, edge: LockOrderEdge) -> Vec<InversionPair> {
        let id = (edge.held.event_id, edge.acquired.event_id);
        if self.ids.contains(&id) {
            return Vec::new();
        }
        let edge = Arc::new(edge);
        let kept = self.pairs.entry(edge.partition_key()).or_default();
        let found = kept
            .iter()
            .filter(|other| is_lock_order_inversion(other, &edge, &self.config))
            .map(|other| InversionPair::new(Arc::clone(other), Arc::clone(&edge)))
            .collect();
        let age = |e: &LockOrderEdge| (e.acquired.timestamp_ns, e.acquired.event_id);
        let at = kept.partition_point(|other| age(other) <= age(&edge));
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
        self.pairs.retain(|_, kept| {
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
}

#[cfg(test)]
mod tests;

//! Which accesses of one variable the race stage keeps for comparison with later arrivals.
//!
//! # Domination (why dropping is sound)
//!
//! A retained access `e` is dropped when a later access `l` *dominates* it: same trace (and trace
//! span), same actor, same location, same access type, same lock set, `e` happens before `l`, and
//! the two clocks differ in exactly one component. That component must then be the actor's own
//! (it advanced between `e` and `l`): the actor learnt nothing from anyone else in between.
//!
//! Claim: for every access `x`, if `(e, x)` is a data race then `(l, x)` is one too, and it
//! yields the same finding (same variable, location pair and trace pair; same access types, so
//! the same severity). Everything but the clocks is equal by construction, so it remains to show
//! that `x` concurrent with `e` implies `x` concurrent with `l`:
//! - `l` before `x` would give `e <= l < x`, so `e` before `x`: contradiction.
//! - `x` before `l`: `x <= l`, and `l` equals `e` except in the own component `c`. If
//!   `x[c] <= e[c]` then `x <= e`, so `x` before `e` (clocks of distinct events differ):
//!   contradiction. If `x[c] > e[c]`, `x` has seen an event of the actor later than `e`, and in a
//!   well-formed clock (every component counter `k` means "joined the clock of that actor's `k`-th
//!   event", which derived clocks are by construction and our SDK's clocks by design) that makes
//!   `e` before `x`: contradiction.
//!
//! So dropping `e` never loses a finding, whatever the arrival order. What it can change is the
//! occurrence *count* and the *representative* pair of a finding: the pair `(e, x)` itself is not
//! seen when `x` arrives after `l`. Without the one-component condition the claim is false (an
//! `x` that synchronised with the actor between `e` and `l` is concurrent with `e` only), which is
//! why an actor that took a lock or joined a task between two accesses keeps both.
//!
//! # Bounds
//!
//! Per variable at most `max_accesses_per_variable` accesses are kept; beyond that the oldest by
//! (timestamp, event id) is evicted, which can lose findings and is counted. The runtime also
//! evicts by age (the race window). FastTrack-style epochs (one write epoch and a read epoch or
//! read clock per variable, O(1) per access when arrival follows happens-before) are future work;
//! this first cut scans the bounded per-variable set.

use std::sync::Arc;

use raceway_schemas::{Access, HeldLock};
use uuid::Uuid;

use raceway_schemas::VectorClock;

/// An access kept for comparison, with its clock and lock set normalised once on arrival.
#[derive(Debug, Clone)]
pub(crate) struct Retained {
    pub(crate) access: Arc<Access>,
    pub(crate) clock: VectorClock,
    /// Sorted and deduplicated, so lock sets compare with `==`.
    pub(crate) locks: Vec<HeldLock>,
}

impl Retained {
    /// Normalises `access` for comparisons.
    pub(crate) fn new(access: Access) -> Self {
        let clock = VectorClock::from_pairs(access.clock.iter().map(|(c, n)| (c.as_str(), *n)));
        let mut locks = access.locks.clone();
        locks.sort();
        locks.dedup();
        Retained {
            access: Arc::new(access),
            clock,
            locks,
        }
    }

    /// Age order: (timestamp, event id).
    fn age(&self) -> (i64, Uuid) {
        (self.access.timestamp_ns, self.access.event_id)
    }
}

/// True when `later` makes `earlier` redundant for race detection (see the module doc).
pub(crate) fn dominates(later: &Retained, earlier: &Retained) -> bool {
    let (l, e) = (&*later.access, &*earlier.access);
    l.event_id != e.event_id
        && l.trace_id == e.trace_id
        && l.trace_start_ns == e.trace_start_ns
        && l.trace_end_ns == e.trace_end_ns
        && l.actor == e.actor
        && l.location == e.location
        && l.access_type == e.access_type
        && later.locks == earlier.locks
        && earlier.clock.happens_before(&later.clock)
        && earlier.clock.differing_components(&later.clock) == 1
}

/// What an insertion changed.
#[derive(Debug, Default)]
pub(crate) struct Inserted {
    /// Event ids no longer retained: dominated or evicted accesses, or the new one itself when it
    /// was not kept.
    pub(crate) removed: Vec<Uuid>,
    /// How many of those were evicted for capacity (a possible loss of findings).
    pub(crate) capacity_evictions: u64,
}

/// The retained accesses of one variable, sorted by age.
#[derive(Debug, Default)]
pub(crate) struct VariableAccesses {
    entries: Vec<Retained>,
}

impl VariableAccesses {
    /// True when an access with this event id is retained.
    pub(crate) fn contains(&self, event_id: Uuid) -> bool {
        self.entries.iter().any(|r| r.access.event_id == event_id)
    }

    /// The retained accesses, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Retained> {
        self.entries.iter()
    }

    /// Number of retained accesses.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is retained.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Keeps `new` unless a retained access dominates it, drops what `new` dominates, then
    /// evicts the oldest beyond `capacity`.
    pub(crate) fn insert(&mut self, new: Retained, capacity: usize) -> Inserted {
        let mut outcome = Inserted::default();
        if self.entries.iter().any(|kept| dominates(kept, &new)) {
            outcome.removed.push(new.access.event_id);
            return outcome;
        }
        self.entries.retain(|kept| {
            let dominated = dominates(&new, kept);
            if dominated {
                outcome.removed.push(kept.access.event_id);
            }
            !dominated
        });
        let at = self.entries.partition_point(|kept| kept.age() < new.age());
        self.entries.insert(at, new);
        while self.entries.len() > capacity {
            let oldest = self.entries.remove(0);
            outcome.removed.push(oldest.access.event_id);
            outcome.capacity_evictions += 1;
        }
        outcome
    }

    /// Drops the accesses with a timestamp before `timestamp_ns`, returning their ids.
    pub(crate) fn evict_older_than(&mut self, timestamp_ns: i64) -> Vec<Uuid> {
        let cut = self
            .entries
            .partition_point(|kept| kept.access.timestamp_ns < timestamp_ns);
        self.entries
            .drain(..cut)
            .map(|gone| gone.access.event_id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use raceway_schemas::{AccessType, LockMode};

    use super::*;
    use crate::testing::{access, held, id};

    fn retained(n: u128, ts: i64, clock: &[(&str, u64)]) -> Retained {
        Retained::new(access(n, "a", ts, AccessType::Write, clock))
    }

    #[test]
    fn own_progress_dominates() {
        let earlier = retained(1, 10, &[("a", 1), ("b", 3)]);
        let later = retained(2, 20, &[("a", 4), ("b", 3)]);
        assert!(dominates(&later, &earlier));
        assert!(!dominates(&earlier, &later));
    }

    #[test]
    fn learning_from_another_actor_prevents_domination() {
        let earlier = retained(1, 10, &[("a", 1), ("b", 3)]);
        let later = retained(2, 20, &[("a", 2), ("b", 4)]);
        assert!(!dominates(&later, &earlier));
    }

    #[test]
    fn any_difference_but_the_clock_prevents_domination() {
        let earlier = retained(1, 10, &[("a", 1)]);
        let variants: [fn(&mut Access); 6] = [
            |a| a.trace_id = id(99),
            |a| a.trace_end_ns += 1,
            |a| a.actor.thread = "other".into(),
            |a| a.location = "elsewhere".into(),
            |a| a.access_type = AccessType::Read,
            |a| a.locks = vec![held("m", LockMode::Exclusive)],
        ];
        for change in variants {
            let mut later = access(2, "a", 20, AccessType::Write, &[("a", 2)]);
            change(&mut later);
            assert!(!dominates(&Retained::new(later), &earlier));
        }
    }

    #[test]
    fn insert_drops_dominated_and_refuses_dominated_newcomers() {
        let mut accesses = VariableAccesses::default();
        assert!(accesses
            .insert(retained(1, 10, &[("a", 1)]), 10)
            .removed
            .is_empty());
        let outcome = accesses.insert(retained(3, 30, &[("a", 3)]), 10);
        assert_eq!(outcome.removed, vec![id(1)]);
        // Arrives late, already dominated by the retained id 3.
        let outcome = accesses.insert(retained(2, 20, &[("a", 2)]), 10);
        assert_eq!(outcome.removed, vec![id(2)]);
        assert_eq!(accesses.len(), 1);
        assert!(accesses.contains(id(3)));
    }

    #[test]
    fn capacity_evicts_the_oldest() {
        let mut accesses = VariableAccesses::default();
        accesses.insert(retained(1, 30, &[("x", 1)]), 2);
        accesses.insert(retained(2, 10, &[("y", 1)]), 2);
        let outcome = accesses.insert(retained(3, 20, &[("z", 1)]), 2);
        assert_eq!(outcome.removed, vec![id(2)]);
        assert_eq!(outcome.capacity_evictions, 1);
        let ages: Vec<i64> = accesses.iter().map(|r| r.access.timestamp_ns).collect();
        assert_eq!(ages, vec![20, 30]);
    }

    #[test]
    fn evict_older_than_cuts_by_timestamp() {
        let mut accesses = VariableAccesses::default();
        for (n, ts) in [(1, 10), (2, 20), (3, 30)] {
            accesses.insert(retained(n, ts, &[(format!("c{n}").as_str(), 1)]), 10);
        }
        assert_eq!(accesses.evict_older_than(30), vec![id(1), id(2)]);
        assert_eq!(accesses.len(), 1);
        assert!(!accesses.is_empty());
    }
}

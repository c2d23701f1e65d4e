//! Vector clocks: the one representation of happens-before (DESIGN.md "Clocks: one source of
//! truth").
//!
//! A clock is a sparse map from component (an actor, named by whoever produced the clock) to a
//! counter. It is stored as a vector sorted by component with no zero entries, so that two clocks
//! that mean the same thing are equal, comparisons are a single merge pass, and clocks stay small
//! (traces rarely involve more than a handful of actors). Component names are `Arc<str>` because
//! the derived clocks of one trace share the same few names across thousands of events.

use std::cmp::Ordering;
use std::sync::Arc;

/// A vector clock: component -> counter, missing components counting as 0.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct VectorClock {
    /// Sorted by component, no duplicate components, no zero counters.
    entries: Vec<(Arc<str>, u64)>,
}

impl VectorClock {
    /// The empty clock. It orders nothing: see [`VectorClock::happens_before`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a clock from (component, counter) pairs in any order. A component given twice keeps
    /// its largest counter (the only reading under which both pairs are true); zero counters are
    /// dropped because a missing component already means 0.
    pub fn from_pairs<I, S>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (S, u64)>,
        S: Into<Arc<str>>,
    {
        Self::normalized(Self::nonzero(pairs))
    }

    /// The pairs with their zero counters dropped, collected at the input's size: filtering
    /// while collecting would start the vector small and grow it.
    fn nonzero<I, S>(pairs: I) -> Vec<(Arc<str>, u64)>
    where
        I: IntoIterator<Item = (S, u64)>,
        S: Into<Arc<str>>,
    {
        let mut entries: Vec<(Arc<str>, u64)> = pairs
            .into_iter()
            .map(|(component, counter)| (component.into(), counter))
            .collect();
        entries.retain(|(_, counter)| *counter > 0);
        entries
    }

    /// `entries` (no zero counters) sorted by component, each component once with its largest
    /// counter.
    fn normalized(mut entries: Vec<(Arc<str>, u64)>) -> Self {
        // Clocks usually arrive already sorted (the stored form): then one pass checks it.
        if !entries.windows(2).all(|w| w[0].0 < w[1].0) {
            // Sort by component, largest counter first, so dedup keeps the maximum.
            entries.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            entries.dedup_by(|later, earlier| later.0 == earlier.0);
        }
        VectorClock { entries }
    }

    /// The clock as (component, counter) pairs sorted by component, the form stored in
    /// [`crate::Access::clock`] and findings.
    /// Each name is copied as text (`str::to_owned`): `to_string` would go through `Display`
    /// formatting, several times slower per name.
    pub fn to_pairs(&self) -> Vec<(String, u64)> {
        self.iter()
            .map(|(component, counter)| (component.to_owned(), counter))
            .collect()
    }

    /// The (component, counter) pairs, sorted by component, without copying.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> + '_ {
        self.entries.iter().map(|(c, n)| (&**c, *n))
    }

    /// The (component, counter) pairs, sorted by component, with the shared names.
    pub fn iter_shared(&self) -> impl Iterator<Item = (&Arc<str>, u64)> + '_ {
        self.entries.iter().map(|(c, n)| (c, *n))
    }

    /// The component names, sorted.
    pub fn components(&self) -> impl Iterator<Item = &Arc<str>> + '_ {
        self.entries.iter().map(|(c, _)| c)
    }

    /// True when both clocks have the same components (counters aside), names compared by
    /// pointer first.
    pub fn same_components(&self, other: &VectorClock) -> bool {
        self.entries.len() == other.entries.len()
            && self
                .entries
                .iter()
                .zip(&other.entries)
                .all(|(a, b)| same(&a.0, &b.0))
    }

    /// The counter of `component` (0 when absent).
    pub fn get(&self, component: &str) -> u64 {
        match self.search(component) {
            Ok(index) => self.entries[index].1,
            Err(_) => 0,
        }
    }

    /// Number of non-zero components.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True for the empty clock, which is never ordered against anything.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds one to `component`: what an actor does for each of its own events.
    pub fn increment(&mut self, component: &str) {
        self.increment_shared(&Arc::from(component));
    }

    /// Like [`VectorClock::increment`], reusing an already allocated component name.
    pub fn increment_shared(&mut self, component: &Arc<str>) {
        match self.search(component) {
            Ok(index) => {
                let counter = &mut self.entries[index].1;
                *counter = counter.saturating_add(1);
            }
            Err(index) => self.entries.insert(index, (Arc::clone(component), 1)),
        }
    }

    /// Component-wise maximum with `other`: what synchronisation (spawn, join, lock hand-over,
    /// message receipt) does to the receiving actor's clock.
    pub fn join(&mut self, other: &VectorClock) {
        if other.entries.is_empty() {
            return;
        }
        if self.entries.is_empty() {
            self.entries.clone_from(&other.entries);
            return;
        }
        // Common case: `other`'s components are a subset of ours (actors that already met), so
        // the maxima are taken in place, without a new vector.
        if other.entries.len() <= self.entries.len() {
            let mut i = 0;
            let subset = other.entries.iter().all(|(component, _)| {
                while i < self.entries.len() && self.entries[i].0 < *component {
                    i += 1;
                }
                let found = i < self.entries.len() && same(&self.entries[i].0, component);
                i += usize::from(found);
                found
            });
            if subset {
                let mut i = 0;
                for (component, counter) in &other.entries {
                    while !same(&self.entries[i].0, component) {
                        i += 1;
                    }
                    self.entries[i].1 = self.entries[i].1.max(*counter);
                }
                return;
            }
        }
        let mut merged = Vec::with_capacity(self.entries.len().max(other.entries.len()));
        let (mut i, mut j) = (0, 0);
        while i < self.entries.len() && j < other.entries.len() {
            let (a, b) = (&self.entries[i], &other.entries[j]);
            match compare(&a.0, &b.0) {
                Ordering::Less => {
                    merged.push(a.clone());
                    i += 1;
                }
                Ordering::Greater => {
                    merged.push(b.clone());
                    j += 1;
                }
                Ordering::Equal => {
                    merged.push((a.0.clone(), a.1.max(b.1)));
                    i += 1;
                    j += 1;
                }
            }
        }
        merged.extend_from_slice(&self.entries[i..]);
        merged.extend_from_slice(&other.entries[j..]);
        self.entries = merged;
    }

    /// Keeps only the components for which `keep(component, counter)` is true. The SDK uses it
    /// to prune actors that finished longer ago than the race window, so clocks stay small.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, u64) -> bool) {
        self.entries
            .retain(|(component, counter)| keep(component, *counter));
    }

    /// True iff `self` happens before `other`: `self <= other` component-wise and they differ.
    /// An empty clock carries no causal information, so it is never before or after anything
    /// (DESIGN.md: "An empty vector is never compared").
    pub fn happens_before(&self, other: &VectorClock) -> bool {
        if self.is_empty() || other.is_empty() {
            return false;
        }
        let (le, ge) = self.le_ge(other);
        le && !ge
    }

    /// True iff neither clock happens before the other: the events may have run at the same
    /// time. Equal clocks and empty clocks count as concurrent, since nothing orders them.
    pub fn concurrent_with(&self, other: &VectorClock) -> bool {
        !self.happens_before(other) && !other.happens_before(self)
    }

    /// True iff every component of `self` is `<=` the same component of `other` (an empty clock
    /// is `<=` everything). Unlike [`VectorClock::happens_before`], equal clocks qualify.
    pub fn le(&self, other: &VectorClock) -> bool {
        self.le_ge(other).0
    }

    /// Number of components whose counters differ between the two clocks. Used by access
    /// retention to recognise that one actor advanced without learning anything new.
    pub fn differing_components(&self, other: &VectorClock) -> usize {
        let mut differing = 0;
        self.merge_walk(other, |a, b| {
            if a != b {
                differing += 1;
            }
        });
        differing
    }

    /// (self <= other, self >= other) component-wise, in one pass.
    fn le_ge(&self, other: &VectorClock) -> (bool, bool) {
        let (mut le, mut ge) = (true, true);
        self.merge_walk(other, |a, b| {
            le &= a <= b;
            ge &= a >= b;
        });
        (le, ge)
    }

    /// Calls `visit(self[c], other[c])` for every component present in either clock.
    fn merge_walk(&self, other: &VectorClock, mut visit: impl FnMut(u64, u64)) {
        let (mut i, mut j) = (0, 0);
        while i < self.entries.len() || j < other.entries.len() {
            let order = match (self.entries.get(i), other.entries.get(j)) {
                (Some(a), Some(b)) => compare(&a.0, &b.0),
                (Some(_), None) => Ordering::Less,
                _ => Ordering::Greater,
            };
            match order {
                Ordering::Less => {
                    visit(self.entries[i].1, 0);
                    i += 1;
                }
                Ordering::Greater => {
                    visit(0, other.entries[j].1);
                    j += 1;
                }
                Ordering::Equal => {
                    visit(self.entries[i].1, other.entries[j].1);
                    i += 1;
                    j += 1;
                }
            }
        }
    }

    fn search(&self, component: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|(c, _)| (**c).cmp(component))
    }
}

/// Component equality, by pointer first: interned names (one allocation per name) then compare
/// without reading the text.
fn same(a: &Arc<str>, b: &Arc<str>) -> bool {
    Arc::ptr_eq(a, b) || a == b
}

/// Component order, by pointer first (see [`same`]).
fn compare(a: &Arc<str>, b: &Arc<str>) -> Ordering {
    if Arc::ptr_eq(a, b) {
        Ordering::Equal
    } else {
        a.cmp(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vc(pairs: &[(&str, u64)]) -> VectorClock {
        VectorClock::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn from_pairs_sorts_merges_duplicates_and_drops_zeros() {
        let clock = vc(&[("b", 2), ("a", 1), ("b", 5), ("z", 0)]);
        assert_eq!(clock.to_pairs(), vec![("a".into(), 1), ("b".into(), 5)]);
        assert_eq!(clock.len(), 2);
        assert_eq!(clock, vc(&[("a", 1), ("b", 5)]));
    }

    #[test]
    fn get_treats_missing_components_as_zero() {
        let clock = vc(&[("a", 3)]);
        assert_eq!(clock.get("a"), 3);
        assert_eq!(clock.get("b"), 0);
    }

    #[test]
    fn increment_adds_new_and_existing_components() {
        let mut clock = VectorClock::new();
        clock.increment("b");
        clock.increment("a");
        clock.increment("b");
        assert_eq!(clock.to_pairs(), vec![("a".into(), 1), ("b".into(), 2)]);
        assert_eq!(clock.iter().collect::<Vec<_>>(), vec![("a", 1), ("b", 2)]);
    }

    #[test]
    fn join_is_componentwise_max() {
        let mut clock = vc(&[("a", 3), ("c", 1)]);
        clock.join(&vc(&[("a", 1), ("b", 2), ("c", 4)]));
        assert_eq!(clock, vc(&[("a", 3), ("b", 2), ("c", 4)]));
        let mut empty = VectorClock::new();
        empty.join(&clock);
        assert_eq!(empty, clock);
        clock.join(&VectorClock::new());
        assert_eq!(clock, vc(&[("a", 3), ("b", 2), ("c", 4)]));
    }

    #[test]
    fn join_in_place_and_merging_agree() {
        let mut wide = vc(&[("a", 3), ("b", 1), ("c", 4)]);
        wide.join(&vc(&[("b", 5), ("c", 2)]));
        assert_eq!(wide, vc(&[("a", 3), ("b", 5), ("c", 4)]));
        let mut other = vc(&[("a", 1), ("d", 1), ("e", 1)]);
        other.join(&vc(&[("b", 2), ("d", 3)]));
        assert_eq!(other, vc(&[("a", 1), ("b", 2), ("d", 3), ("e", 1)]));
    }

    #[test]
    fn happens_before_needs_le_and_difference() {
        let a = vc(&[("a", 1)]);
        let b = vc(&[("a", 1), ("b", 1)]);
        assert!(a.happens_before(&b));
        assert!(!b.happens_before(&a));
        assert!(!a.happens_before(&a), "a clock is not before itself");
        assert!(!a.concurrent_with(&b));
    }

    #[test]
    fn incomparable_clocks_are_concurrent() {
        let a = vc(&[("a", 2), ("b", 1)]);
        let b = vc(&[("a", 1), ("b", 2)]);
        assert!(!a.happens_before(&b));
        assert!(!b.happens_before(&a));
        assert!(a.concurrent_with(&b));
    }

    #[test]
    fn empty_clocks_are_never_ordered() {
        let empty = VectorClock::new();
        let a = vc(&[("a", 1)]);
        assert!(!empty.happens_before(&a));
        assert!(!a.happens_before(&empty));
        assert!(!empty.happens_before(&empty));
        assert!(a.concurrent_with(&empty));
    }

    #[test]
    fn differing_components_counts_both_sides() {
        let a = vc(&[("a", 1), ("b", 2)]);
        assert_eq!(a.differing_components(&a), 0);
        assert_eq!(a.differing_components(&vc(&[("a", 5), ("b", 2)])), 1);
        assert_eq!(a.differing_components(&vc(&[("b", 2), ("c", 1)])), 2);
    }
}

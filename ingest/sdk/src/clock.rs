//! [`VectorClock`]: the happens-before clock each actor carries (DESIGN.md "Clocks").

use std::cmp::Ordering;

/// A vector clock: (component, counter) pairs sorted by component, each component at most once.
///
/// A component names one actor, `"{service}#{instance}/{actor}"`. Event `a` happens before event
/// `b` iff `a`'s clock is `<=` `b`'s component-wise and the two differ ([`VectorClock::happens_before`]).
/// A missing component counts as 0.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct VectorClock {
    entries: Vec<(String, u64)>,
}

impl VectorClock {
    /// The empty clock (every component 0).
    pub fn new() -> VectorClock {
        VectorClock::default()
    }

    /// Builds a clock from pairs in any order; a component given twice keeps its largest counter.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, u64)>) -> VectorClock {
        let mut clock = VectorClock::new();
        for (component, counter) in pairs {
            clock.raise(&component, counter);
        }
        clock
    }

    /// The (component, counter) pairs, sorted by component.
    pub fn entries(&self) -> &[(String, u64)] {
        &self.entries
    }

    /// Consumes the clock into its sorted pairs (the form of `Event::causality_vector`).
    pub fn into_entries(self) -> Vec<(String, u64)> {
        self.entries
    }

    /// The counter of `component` (0 when absent).
    pub fn get(&self, component: &str) -> u64 {
        match self.position(component) {
            Ok(index) => self.entries[index].1,
            Err(_) => 0,
        }
    }

    /// True when every component is 0.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds one to `component` and returns its new value.
    pub fn increment(&mut self, component: &str) -> u64 {
        match self.position(component) {
            Ok(index) => {
                let entry = &mut self.entries[index].1;
                *entry = entry.saturating_add(1);
                *entry
            }
            Err(index) => {
                self.entries.insert(index, (component.to_string(), 1));
                1
            }
        }
    }

    /// Joins `other` into this clock: every component becomes the larger of the two.
    pub fn join(&mut self, other: &VectorClock) {
        if other.entries.is_empty() {
            return;
        }
        let mut merged = Vec::with_capacity(self.entries.len().max(other.entries.len()));
        let mut mine = std::mem::take(&mut self.entries).into_iter().peekable();
        let mut theirs = other.entries.iter().peekable();
        loop {
            let order = match (mine.peek(), theirs.peek()) {
                (Some(a), Some(b)) => a.0.as_str().cmp(b.0.as_str()),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => break,
            };
            match order {
                Ordering::Less => merged.extend(mine.next()),
                Ordering::Greater => merged.extend(theirs.next().cloned()),
                Ordering::Equal => {
                    if let (Some((component, a)), Some((_, b))) = (mine.next(), theirs.next()) {
                        merged.push((component, a.max(*b)));
                    }
                }
            }
        }
        self.entries = merged;
    }

    /// True when every component of `self` is `<=` the same component of `other`.
    pub fn le(&self, other: &VectorClock) -> bool {
        self.entries
            .iter()
            .all(|(component, counter)| *counter <= other.get(component))
    }

    /// True when `self <= other` and they differ: an event with this clock happens before an
    /// event with `other`.
    pub fn happens_before(&self, other: &VectorClock) -> bool {
        self.le(other) && self != other
    }

    /// True when neither clock is `<=` the other: the two events are concurrent.
    pub fn concurrent_with(&self, other: &VectorClock) -> bool {
        !self.le(other) && !other.le(self)
    }

    fn raise(&mut self, component: &str, counter: u64) {
        match self.position(component) {
            Ok(index) => {
                let entry = &mut self.entries[index].1;
                *entry = (*entry).max(counter);
            }
            Err(index) if counter > 0 => {
                self.entries.insert(index, (component.to_string(), counter))
            }
            Err(_) => {}
        }
    }

    fn position(&self, component: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|(probe, _)| probe.as_str().cmp(component))
    }
}

impl From<VectorClock> for Vec<(String, u64)> {
    fn from(clock: VectorClock) -> Self {
        clock.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(pairs: &[(&str, u64)]) -> VectorClock {
        VectorClock::from_pairs(pairs.iter().map(|(c, n)| (c.to_string(), *n)))
    }

    #[test]
    fn increment_keeps_components_sorted() {
        let mut c = VectorClock::new();
        c.increment("b");
        c.increment("a");
        c.increment("b");
        assert_eq!(c.entries(), &[("a".to_string(), 1), ("b".to_string(), 2)]);
    }

    #[test]
    fn join_takes_the_maximum_per_component() {
        let mut a = clock(&[("a", 3), ("c", 1)]);
        a.join(&clock(&[("a", 1), ("b", 2), ("c", 4), ("d", 1)]));
        assert_eq!(a, clock(&[("a", 3), ("b", 2), ("c", 4), ("d", 1)]));
    }

    #[test]
    fn order_and_concurrency() {
        let a = clock(&[("x", 1)]);
        let b = clock(&[("x", 1), ("y", 1)]);
        let c = clock(&[("x", 2)]);
        assert!(a.happens_before(&b) && !b.happens_before(&a));
        assert!(b.concurrent_with(&c) && c.concurrent_with(&b));
        assert!(!a.happens_before(&a) && a.le(&a));
    }

    #[test]
    fn from_pairs_keeps_the_largest_duplicate_and_skips_zero() {
        let c = VectorClock::from_pairs(vec![
            ("b".to_string(), 2),
            ("b".to_string(), 5),
            ("a".to_string(), 0),
        ]);
        assert_eq!(c.entries(), &[("b".to_string(), 5)]);
    }
}

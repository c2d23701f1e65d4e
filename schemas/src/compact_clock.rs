//! Compact clocks: the clocks the race inputs ([`crate::Access`], [`crate::UpdateRead`]) carry
//! from the trace stage to the race stage.
//!
//! A compact clock is a table of component names ([`ComponentNames`], sorted, no duplicates)
//! shared by many clocks, and the clock's own (index into the table, counter) entries. The trace
//! stage builds one table per trace and every access of the trace points to it; the race stage's
//! decoder keeps the table of the previous record and reuses it when the next one lists the same
//! names. So a name is allocated once per trace or decoded batch, never per access, and the race
//! detector numbers a table's names once (it recognises a table it has seen by its pointer) and
//! then compares clocks as integer vectors. Without it every access carried its own copy of every
//! name: copying, hashing and freeing those strings was the largest cost of a trace's race inputs
//! and of the detector.
//!
//! Entries are sorted by index, which is also name order since the table is sorted: iteration
//! yields the same (component, counter) pairs, sorted by component, as
//! [`VectorClock::to_pairs`]. Two clocks are equal when they list the same pairs, whatever their
//! tables.

use std::sync::{Arc, LazyLock};

use crate::clock::VectorClock;

/// Sorted, duplicate-free component names, shared by the compact clocks that index into them.
pub type ComponentNames = Arc<[Arc<str>]>;

/// Index of a component name in a [`ComponentNames`] table.
pub type ComponentIndex = u32;

/// A vector clock over a shared table of component names (see the module doc).
#[derive(Debug, Clone)]
pub struct CompactClock {
    names: ComponentNames,
    /// (index into `names`, counter): strictly increasing indices, no zero counters.
    entries: Vec<(ComponentIndex, u64)>,
}

/// The empty table, shared by every clock made without one.
static NO_NAMES: LazyLock<ComponentNames> = LazyLock::new(|| Arc::from(Vec::new()));

impl Default for CompactClock {
    fn default() -> Self {
        CompactClock {
            names: Arc::clone(&NO_NAMES),
            entries: Vec::new(),
        }
    }
}

impl CompactClock {
    /// The clock of (component, counter) pairs in any order, with a table of its own: as
    /// [`VectorClock::from_pairs`], a component given twice keeps its largest counter and zero
    /// counters are dropped. (The empty clock is [`CompactClock::default`].)
    pub fn from_pairs(pairs: impl IntoIterator<Item = (impl Into<Arc<str>>, u64)>) -> Self {
        let clock = VectorClock::from_pairs(pairs);
        let names: ComponentNames = clock.components().cloned().collect();
        let entries = clock
            .iter()
            .enumerate()
            .map(|(i, (_, counter))| (i as ComponentIndex, counter))
            .collect();
        CompactClock { names, entries }
    }

    /// `clock` over `names`, which should hold every component of `clock` (the trace's table);
    /// when one is missing the clock gets a table of its own instead. One pass over both, names
    /// compared by pointer (the trace's clocks share the table's names), by text only when the
    /// pointers find none.
    pub fn of(names: &ComponentNames, clock: &VectorClock) -> Self {
        let entries = Self::indices_of(names, clock, Arc::ptr_eq)
            .or_else(|| Self::indices_of(names, clock, |a, b| a == b));
        match entries {
            Some(entries) => CompactClock {
                names: Arc::clone(names),
                entries,
            },
            None => Self::from_pairs(clock.iter_shared().map(|(c, n)| (Arc::clone(c), n))),
        }
    }

    /// The entries of `clock` over `names` (both sorted), names matched by `same`; `None` when
    /// one is not found.
    fn indices_of(
        names: &[Arc<str>],
        clock: &VectorClock,
        same: impl Fn(&Arc<str>, &Arc<str>) -> bool,
    ) -> Option<Vec<(ComponentIndex, u64)>> {
        let mut entries = Vec::with_capacity(clock.len());
        let mut next = 0;
        for (component, counter) in clock.iter_shared() {
            next += names
                .get(next..)?
                .iter()
                .position(|name| same(name, component))?;
            entries.push((ComponentIndex::try_from(next).ok()?, counter));
            next += 1;
        }
        Some(entries)
    }

    /// The clock of `entries` (index into `names`, counter) in any order: duplicates keep their
    /// largest counter, zero counters are dropped. `None` when `names` is not sorted and
    /// duplicate-free or an index is outside it.
    pub fn from_indices(
        names: ComponentNames,
        entries: Vec<(ComponentIndex, u64)>,
    ) -> Option<Self> {
        ClockTable::new(names)?.clock(entries)
    }

    /// A clock of the same components as this one, over the same table, with the counters of
    /// `entries` (one per component, in this clock's order; their indices are overwritten with
    /// this clock's) and the components whose counter is zero dropped. This clock's indices are
    /// already checked (in range, increasing), and so are any of them in order: only the
    /// number of entries is checked. For a caller whose next clock lists the same names as the
    /// one before, which then costs no renumbering and no order check. `Err(entries)`, as given,
    /// when the number of entries differs.
    pub fn with_counters(
        &self,
        mut entries: Vec<(ComponentIndex, u64)>,
    ) -> Result<CompactClock, Vec<(ComponentIndex, u64)>> {
        if entries.len() != self.entries.len() {
            return Err(entries);
        }
        let mut zeros = false;
        for (entry, &(index, _)) in entries.iter_mut().zip(&self.entries) {
            entry.0 = index;
            zeros |= entry.1 == 0;
        }
        if zeros {
            entries.retain(|&(_, counter)| counter > 0);
        }
        Ok(CompactClock {
            names: Arc::clone(&self.names),
            entries,
        })
    }

    /// The table the entries index into (it may hold names this clock does not use).
    pub fn names(&self) -> &ComponentNames {
        &self.names
    }

    /// (index into [`CompactClock::names`], counter), sorted by index, no zero counters.
    pub fn entries(&self) -> &[(ComponentIndex, u64)] {
        &self.entries
    }

    /// The entries taken out, leaving the clock empty over the same table: for a reader that
    /// renumbers the entries in place rather than copying them (the race detector keeps each
    /// clock over its own ids). The table stays, so nothing is put in its place: taking the
    /// whole clock left a default one behind, whose shared empty table's reference count was
    /// taken and then given back when the access was dropped.
    pub fn take_entries(&mut self) -> Vec<(ComponentIndex, u64)> {
        std::mem::take(&mut self.entries)
    }

    /// The (component, counter) pairs, sorted by component.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> + '_ {
        self.entries
            .iter()
            .map(|&(i, counter)| (&*self.names[i as usize], counter))
    }

    /// Number of non-zero components.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True for the empty clock.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The (component, counter) pairs sorted by component, as owned strings: the form findings
    /// and the store keep.
    pub fn to_pairs(&self) -> Vec<(String, u64)> {
        self.iter()
            .map(|(name, counter)| (name.to_owned(), counter))
            .collect()
    }

    /// The same clock as a [`VectorClock`], sharing the table's names.
    pub fn to_vector_clock(&self) -> VectorClock {
        VectorClock::from_pairs(
            self.entries
                .iter()
                .map(|&(i, counter)| (Arc::clone(&self.names[i as usize]), counter)),
        )
    }
}

/// A table of component names checked once (sorted, no duplicates), for building many clocks
/// over it: [`CompactClock::from_indices`] checks its table at every call, a comparison of names
/// per name, which for one trace's thousands of clocks over one table cost more than building
/// them.
#[derive(Debug, Clone)]
pub struct ClockTable {
    names: ComponentNames,
}

impl ClockTable {
    /// The table of `names`; `None` when they are not sorted and duplicate-free.
    pub fn new(names: ComponentNames) -> Option<Self> {
        names
            .windows(2)
            .all(|w| w[0] < w[1])
            .then_some(ClockTable { names })
    }

    /// The table of `names` (in any order, repeats allowed) and the index in it of each of
    /// them, in their order: for a caller that numbers names as it meets them and renumbers its
    /// clocks once the table is known.
    pub fn numbering(names: &[Arc<str>]) -> (ClockTable, Vec<ComponentIndex>) {
        let mut sorted = names.to_vec();
        dedup(&mut sorted);
        // Every name is in `sorted`: its place is the number of names before it.
        let indices = names
            .iter()
            .map(|name| sorted.partition_point(|other| other < name) as ComponentIndex)
            .collect();
        (
            ClockTable {
                names: sorted.into(),
            },
            indices,
        )
    }

    /// The names, sorted.
    pub fn names(&self) -> &ComponentNames {
        &self.names
    }

    /// The clock of `entries` (index into the table, counter) in any order, as
    /// [`CompactClock::from_indices`] reads them: duplicates keep their largest counter, zero
    /// counters are dropped. `None` when an index is outside the table.
    pub fn clock(&self, mut entries: Vec<(ComponentIndex, u64)>) -> Option<CompactClock> {
        // One pass over the usual input (indices increasing, no zero counter) checks it all,
        // without a branch per entry: the tests are folded into one flag, read after.
        // Increasing indices are all in range when the last one is; others are checked after.
        let len = self.names.len();
        let (mut normal, mut next) = (true, 0u64);
        for &(index, counter) in &entries {
            normal &= (counter > 0) & (u64::from(index) >= next);
            next = u64::from(index) + 1;
        }
        let unchecked = !normal || next > len as u64;
        if unchecked && entries.iter().any(|&(index, _)| index as usize >= len) {
            return None;
        }
        if !normal {
            normalize(&mut entries);
        }
        Some(self.clock_of_checked(entries))
    }

    /// The table of `names` (in any order, no repeats needed) with the index in it of each of
    /// them: for a caller that numbered names as it met them and builds many clocks in its own
    /// numbers (see [`Renumbering`]).
    pub fn renumbering(names: &[Arc<str>]) -> Renumbering {
        let (table, indices) = ClockTable::numbering(names);
        Renumbering { table, indices }
    }

    /// A clock over this table of entries already checked: indices in range and strictly
    /// increasing, no zero counter.
    pub(crate) fn clock_of_checked(&self, entries: Vec<(ComponentIndex, u64)>) -> CompactClock {
        CompactClock {
            names: Arc::clone(&self.names),
            entries,
        }
    }
}

/// A [`ClockTable`] and the table's index of every name a caller numbered in its own order
/// (its number `k` is the `k`-th name given to [`ClockTable::renumbering`]).
///
/// [`Renumbering::clock`] renumbers a clock's entries from the caller's numbers to the table's
/// and checks them in the same pass. The indices come from the table itself, so only the
/// caller's numbers are checked against the names given; the order and the zero counters are
/// checked as the entries are rewritten. Renumbering the entries and then handing them to
/// [`ClockTable::clock`] walked every entry twice, the check being most of the cost of a
/// trace's clocks as sent.
#[derive(Debug, Clone)]
pub struct Renumbering {
    table: ClockTable,
    /// By the caller's number: the name's index in `table`.
    indices: Vec<ComponentIndex>,
}

impl Renumbering {
    /// The table the clocks index into.
    pub fn table(&self) -> &ClockTable {
        &self.table
    }

    /// The clock of `entries` (the caller's number of a name, counter) in any order, over the
    /// table: as [`ClockTable::clock`], duplicates keep their largest counter and zero counters
    /// are dropped. `None` when a number is not one of the names given.
    pub fn clock(&self, entries: Vec<(ComponentIndex, u64)>) -> Option<CompactClock> {
        self.clock_in_order(entries).map(|(clock, _)| clock)
    }

    /// [`Renumbering::clock`], and whether the clock's entries are those given, in their order
    /// (no entry dropped, merged or moved): then a next clock of the same names in the same
    /// order can take its indices ([`CompactClock::with_counters`]).
    pub fn clock_in_order(
        &self,
        mut entries: Vec<(ComponentIndex, u64)>,
    ) -> Option<(CompactClock, bool)> {
        let (mut normal, mut next) = (true, 0u64);
        for entry in &mut entries {
            let index = *self.indices.get(entry.0 as usize)?;
            normal &= (entry.1 > 0) & (u64::from(index) >= next);
            next = u64::from(index) + 1;
            entry.0 = index;
        }
        if !normal {
            normalize(&mut entries);
        }
        Some((self.table.clock_of_checked(entries), normal))
    }
}

/// Entries of valid indices made sorted, duplicate-free (the largest counter kept) and without
/// zero counters.
fn normalize(entries: &mut Vec<(ComponentIndex, u64)>) {
    entries.retain(|(_, counter)| *counter > 0);
    entries.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    entries.dedup_by_key(|entry| entry.0);
}

impl<S: Into<Arc<str>>> FromIterator<(S, u64)> for CompactClock {
    /// As [`CompactClock::from_pairs`].
    fn from_iter<I: IntoIterator<Item = (S, u64)>>(pairs: I) -> Self {
        Self::from_pairs(pairs)
    }
}

impl PartialEq for CompactClock {
    fn eq(&self, other: &Self) -> bool {
        if Arc::ptr_eq(&self.names, &other.names) {
            self.entries == other.entries
        } else {
            self.iter().eq(other.iter())
        }
    }
}

impl Eq for CompactClock {}

/// The table of every component of `clocks`, sorted: what the clocks of one trace index into.
/// Names the clocks share (one allocation per name, as a trace's clocks have) are taken once.
pub fn component_names<'a>(clocks: impl IntoIterator<Item = &'a VectorClock>) -> ComponentNames {
    let mut names: Vec<Arc<str>> = Vec::new();
    let mut previous: Option<&VectorClock> = None;
    for clock in clocks {
        // Most clocks list the components of the one before: skip those without a look.
        if previous.is_some_and(|p| p.same_components(clock)) {
            continue;
        }
        names.extend(clock.iter_shared().map(|(name, _)| Arc::clone(name)));
        previous = Some(clock);
        if names.len() > 4096 {
            dedup(&mut names);
        }
    }
    dedup(&mut names);
    names.into()
}

fn dedup(names: &mut Vec<Arc<str>>) {
    names.sort_unstable();
    names.dedup();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_over_a_shared_table_list_their_pairs_by_name() {
        let a = VectorClock::from_pairs([("b", 2), ("a", 1)]);
        let b = VectorClock::from_pairs([("c", 1), ("a", 3)]);
        let names = component_names([&a, &b]);
        assert_eq!(names.len(), 3);
        let ca = CompactClock::of(&names, &a);
        let cb = CompactClock::of(&names, &b);
        assert!(Arc::ptr_eq(ca.names(), cb.names()));
        assert_eq!(ca.to_pairs(), a.to_pairs());
        assert_eq!(cb.entries(), &[(0, 3), (2, 1)]);
        assert_eq!(ca.to_vector_clock(), a);
        assert_eq!(ca, CompactClock::from_pairs([("a", 1), ("b", 2)]));
        assert_ne!(ca, cb);
    }

    #[test]
    fn a_name_missing_from_the_table_gives_the_clock_its_own() {
        let names = component_names([&VectorClock::from_pairs([("a", 1)])]);
        let clock = CompactClock::of(&names, &VectorClock::from_pairs([("a", 2), ("z", 1)]));
        assert_eq!(clock.to_pairs(), vec![("a".into(), 2), ("z".into(), 1)]);
    }

    #[test]
    fn indices_are_checked_sorted_and_deduplicated() {
        let names: ComponentNames = vec![Arc::from("a"), Arc::from("b")].into();
        let clock =
            CompactClock::from_indices(names.clone(), vec![(1, 2), (0, 0), (1, 5)]).unwrap();
        assert_eq!(clock.to_pairs(), vec![("b".into(), 5)]);
        assert!(CompactClock::from_indices(names.clone(), vec![(2, 1)]).is_none());
        let unsorted: ComponentNames = vec![Arc::from("b"), Arc::from("a")].into();
        assert!(CompactClock::from_indices(unsorted.clone(), Vec::new()).is_none());
        assert!(CompactClock::default().is_empty());
        assert!(ClockTable::new(unsorted).is_none());
        assert_eq!(
            CompactClock::from_pairs([("x", 0)]),
            CompactClock::default()
        );
    }

    #[test]
    fn a_numbering_indexes_each_name_in_its_sorted_table() {
        let names: Vec<Arc<str>> = ["c", "a", "c", "b"].into_iter().map(Arc::from).collect();
        let (table, indices) = ClockTable::numbering(&names);
        let sorted: Vec<&str> = table.names().iter().map(|n| &**n).collect();
        assert_eq!(sorted, ["a", "b", "c"]);
        assert_eq!(indices, [2, 0, 2, 1]);
        let clock = table.clock(vec![(2, 1), (0, 3), (2, 4), (1, 0)]).unwrap();
        assert_eq!(clock.to_pairs(), vec![("a".into(), 3), ("c".into(), 4)]);
        assert!(table.clock(vec![(3, 1)]).is_none());
    }

    /// A renumbered clock equals the clock of the same entries renumbered first, on random
    /// entries in any order, with repeats and zero counters; a number outside the names gives
    /// none.
    #[test]
    fn a_renumbered_clock_is_the_table_clock_of_its_entries() {
        let names: Vec<Arc<str>> = ["d", "a", "c", "b"].into_iter().map(Arc::from).collect();
        let renumbering = ClockTable::renumbering(&names);
        let (table, indices) = ClockTable::numbering(&names);
        assert_eq!(renumbering.table().names(), table.names());
        // A small linear congruential generator: the crate has no random source.
        let mut state = 7u64;
        let mut next = |bound: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % bound
        };
        for _ in 0..500 {
            let entries: Vec<(ComponentIndex, u64)> = (0..next(6))
                .map(|_| (next(4) as ComponentIndex, next(4)))
                .collect();
            let renumbered: Vec<(ComponentIndex, u64)> = entries
                .iter()
                .map(|&(number, counter)| (indices[number as usize], counter))
                .collect();
            let expected = table.clock(renumbered).unwrap();
            let clock = renumbering.clock(entries).unwrap();
            assert_eq!(clock.entries(), expected.entries());
            assert_eq!(clock, expected);
        }
        assert!(renumbering.clock(vec![(4, 1)]).is_none());
        let (unsorted, in_order) = renumbering.clock_in_order(vec![(0, 1), (1, 1)]).unwrap();
        assert!(!in_order);
        assert_eq!(unsorted.to_pairs(), vec![("a".into(), 1), ("d".into(), 1)]);
        let (previous, in_order) = renumbering.clock_in_order(vec![(1, 2), (3, 1)]).unwrap();
        assert!(in_order);
        let next = previous.with_counters(vec![(9, 5), (9, 6)]).unwrap();
        assert_eq!(next.to_pairs(), vec![("a".into(), 5), ("b".into(), 6)]);
        assert_eq!(
            previous.with_counters(vec![(0, 5)]).unwrap_err(),
            vec![(0, 5)]
        );
        let dropped = previous.with_counters(vec![(0, 0), (0, 4)]).unwrap();
        assert_eq!(dropped.to_pairs(), vec![("b".into(), 4)]);
        assert_eq!(
            renumbering.clock(vec![(2, 1), (1, 3)]).unwrap().to_pairs(),
            vec![("a".into(), 3), ("c".into(), 1)]
        );
    }
}

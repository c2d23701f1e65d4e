//! The dense ids of clock component names: one table per race detector, which numbers each
//! arriving clock (see [`ComponentIds`]) and gives the names back for findings.

use std::sync::Arc;

use foldhash::HashMap;
use raceway_schemas::{CompactClock, ComponentNames};

use super::{is_sorted, Clock, ComponentId};

/// Gives every clock component name a dense id, and the names back for findings.
///
/// Arriving clocks are [`CompactClock`]s over tables of names shared by many accesses (a trace's,
/// or a decoded batch's): the ids of a table's names are looked up once, when the table is first
/// seen, and kept with the table (recognised by its pointer) for the next clocks over it. A
/// clock is then numbered without reading a name.
#[derive(Debug, Default)]
pub(crate) struct ComponentIds {
    by_name: HashMap<Box<str>, ComponentId>,
    names: Vec<Box<str>>,
    /// The ids of the names of recently seen tables (held, so that no other table can take
    /// their address), newest last.
    pub(super) tables: Vec<TableIds>,
    /// The positions that sorted the last clock whose ids were out of order, in sorted order
    /// (see [`ComponentIds::sorted`]).
    permutation: Vec<usize>,
    /// Size of `names` at which [`ComponentIds::needs_compaction`] says to compact.
    limit: usize,
}

/// The ids of one table's names, by index.
#[derive(Debug)]
pub(super) struct TableIds {
    table: ComponentNames,
    ids: Vec<ComponentId>,
    /// True when `ids` increase with the index: a clock over the table is then sorted by id as
    /// it comes.
    increasing: bool,
    /// `Some(first)` when `ids` are `first, first + 1, ...` (a table whose names were all new
    /// when it was numbered, as a trace's components usually are): an index is then numbered
    /// by an addition, without reading `ids`.
    pub(super) first_of_run: Option<ComponentId>,
}

impl ComponentIds {
    /// Ids are not compacted below this many names.
    const MIN_LIMIT: usize = 1 << 14;
    /// How many tables keep their ids: the race stage's records interleave a few traces.
    const TABLES: usize = 8;

    /// The clock of `clock` over ids, in a test.
    #[cfg(test)]
    pub(crate) fn clock(&mut self, mut clock: CompactClock) -> Clock {
        self.take_clock(&mut clock)
    }

    /// The clock of `clock` over ids, its entries taken out of `clock` (left empty over its
    /// table). A short run is copied inline (the decoder's allocation is freed here, while in
    /// cache); any other clock is renumbered in place, in the clock's own allocation (a
    /// component index and a component id are both `u32`), which the detector keeps: numbering
    /// a clock allocates nothing.
    pub(crate) fn take_clock(&mut self, clock: &mut CompactClock) -> Clock {
        let mut entries = clock.take_entries();
        let table = self.table_ids(clock.names());
        let ids = &self.tables[table];
        if let Some(first) = ids.first_of_run {
            // The usual clock: numbered and kept inline in one pass over its entries.
            if let Some(inline) = Clock::inline_run(&entries, first) {
                return inline;
            }
        }
        match ids.first_of_run {
            // Indices are ids already (the first table a detector numbers).
            Some(0) => {}
            // A table of names first seen together: its ids are a run, one addition each.
            Some(first) => {
                for entry in &mut entries {
                    entry.0 += first;
                }
            }
            None => {
                for entry in &mut entries {
                    entry.0 = ids.ids[entry.0 as usize];
                }
            }
        }
        // `from_entries` keeps a short run inline (the decoder's allocation is then freed
        // here, while still in cache) and a list without spare capacity (a decoder that
        // reserved more than it filled would otherwise leave it in every retained clock).
        if ids.first_of_run.is_some() || ids.increasing || is_sorted(&entries) {
            return Clock::from_entries(entries);
        }
        Clock::from_entries(self.sorted(&entries))
    }

    /// The position in `tables` of the ids of `table`, numbered now when it is not there.
    fn table_ids(&mut self, table: &ComponentNames) -> usize {
        if let Some(found) = self
            .tables
            .iter()
            .rposition(|known| Arc::ptr_eq(&known.table, table))
        {
            return found;
        }
        let ids: Vec<ComponentId> = table.iter().map(|name| self.id(name)).collect();
        let increasing = ids.windows(2).all(|pair| pair[0] < pair[1]);
        let first_of_run = ids.first().copied().filter(|&first| {
            let first = first as usize;
            ids.iter()
                .enumerate()
                .all(|(i, &id)| id as usize == first + i)
        });
        if self.tables.len() >= Self::TABLES {
            self.tables.remove(0);
        }
        self.tables.push(TableIds {
            table: Arc::clone(table),
            ids,
            increasing,
            first_of_run,
        });
        self.tables.len() - 1
    }

    /// `entries` (distinct ids: a table names each component once) sorted by id. Ids follow
    /// first appearance, not names, so a clock listed by name may need this; the permutation that
    /// sorted the previous such clock is tried first (the same components in the same places give
    /// the same one), and kept only when it gives strictly increasing ids, i.e. the sorted clock.
    fn sorted(&mut self, entries: &[(ComponentId, u64)]) -> Vec<(ComponentId, u64)> {
        if self.permutation.len() == entries.len() {
            let permuted: Vec<_> = self.permutation.iter().map(|&p| entries[p]).collect();
            if is_sorted(&permuted) {
                return permuted;
            }
        }
        let mut permutation: Vec<usize> = (0..entries.len()).collect();
        permutation.sort_unstable_by_key(|&p| entries[p].0);
        let sorted: Vec<_> = permutation.iter().map(|&p| entries[p]).collect();
        self.permutation = permutation;
        sorted
    }

    fn id(&mut self, name: &str) -> ComponentId {
        if let Some(&id) = self.by_name.get(name) {
            return id;
        }
        let id = ComponentId::try_from(self.names.len()).expect("fewer than 2^32 live names");
        self.names.push(name.into());
        self.by_name.insert(name.into(), id);
        id
    }

    /// `clock` over component names again, the form of [`raceway_schemas::Access::clock`].
    pub(crate) fn pairs(&self, clock: &Clock) -> CompactClock {
        CompactClock::from_pairs(
            clock
                .iter()
                .map(|(id, counter)| (&*self.names[id as usize], counter)),
        )
    }

    /// Number of ids handed out (live or not).
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    /// True when enough names were handed out since the last compaction that reclaiming the
    /// unused ones is worth a walk over every retained clock (amortised O(1) per new name).
    pub(crate) fn needs_compaction(&self) -> bool {
        self.names.len() > self.limit.max(Self::MIN_LIMIT)
    }

    /// Keeps only the ids marked in `live` (indexed by id), renumbered in increasing order;
    /// returns the new id of every old one (unused ids map to `ComponentId::MAX`) for
    /// [`Clock::renumber`].
    pub(crate) fn compact(&mut self, live: &[bool]) -> Vec<ComponentId> {
        let mut new_ids = vec![ComponentId::MAX; self.names.len()];
        let mut names = Vec::new();
        for (old, name) in std::mem::take(&mut self.names).into_iter().enumerate() {
            if live.get(old).copied().unwrap_or(false) {
                new_ids[old] = names.len() as ComponentId;
                names.push(name);
            }
        }
        self.by_name = names
            .iter()
            .enumerate()
            .map(|(id, name)| (name.clone(), id as ComponentId))
            .collect();
        self.names = names;
        self.tables.clear();
        self.permutation.clear();
        self.limit = 2 * self.names.len();
        new_ids
    }
}

//! Compact clocks for the race stage: components named by dense ids instead of strings.
//!
//! The race stage compares every arriving access with the clocks it retains; with
//! [`VectorClock`](raceway_schemas::VectorClock)'s `Arc<str>` components every comparison walks
//! string names (pointer-equal when interned, but still a string compare between different
//! components) and every retained clock holds one reference count per component. Here a
//! component is a `u32` handed out by [`ComponentIds`], so a comparison is a merge of two short
//! integer-keyed arrays, and a retained clock holds no reference counts: a short run of ids is
//! kept inline, any other clock as one allocation (see [`Clock`]).
//!
//! Ids are only meaningful inside one [`ComponentIds`] (one race detector). Entries are sorted
//! by id, not by name; every rule here only needs the two sides to agree on the order. Ids of
//! names no retained clock uses any more are reclaimed by [`ComponentIds::compact`], which
//! renumbers the live ids in increasing order so that every clock stays sorted.

use std::cmp::Ordering;
use std::sync::Arc;

use foldhash::HashMap;
use raceway_schemas::{CompactClock, ComponentNames};

use crate::clock_entries;
use crate::rules::CausalClock;

/// Dense number of a clock component name, given out by [`ComponentIds`].
pub(crate) type ComponentId = u32;

/// Most components a clock keeps inline, in its own bytes (see [`Clock`]).
const INLINE: usize = 16;

/// Largest counter a clock keeps inline: below 2^31, so that inline counters compare as
/// signed 32-bit integers, which the baseline x86-64 build compares four at a time (SSE2 has
/// no unsigned or 64-bit compare).
const INLINE_MAX: u32 = i32::MAX as u32;

/// A vector clock over component ids: sorted by id, no duplicate ids, no zero counters.
///
/// Rule: a clock whose ids are one run `first, first + 1, ...` of at most [`INLINE`]
/// components, with every counter up to [`INLINE_MAX`], is kept **inline** (its counters as `u32` in the
/// clock's own bytes, its ids as the run's first id and length); any other clock is a list of
/// (id, counter) entries on the heap. Reason: the race stage is memory bound, and a retained
/// clock on the heap was a separate block of up to 256 bytes read at every comparison and
/// freed at every eviction, each a cache miss apart from its entry; inline, the counters share
/// the entry's lines. The form is canonical (a clock that can be inline is, with zeros past its
/// length), so the derived `==` compares clocks; every operation that builds a clock goes
/// through [`Clock::from_entries`], or two clocks of one run would compare unequal by form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Clock {
    form: Form,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Form {
    /// Ids `first..first + len` (`len` from 1 to [`INLINE`]); counters past `len` are zero.
    Run {
        first: ComponentId,
        len: u32,
        counters: [u32; INLINE],
    },
    /// Any other clock, the empty one included.
    List(Vec<(ComponentId, u64)>),
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            form: Form::List(Vec::new()),
        }
    }
}

impl Clock {
    /// The clock of `entries` (sorted by id, no duplicates, no zero counters), inline when
    /// they are a short run with small counters (the rule of [`Clock`]).
    fn from_entries(mut entries: Vec<(ComponentId, u64)>) -> Self {
        if let Some(inline) = Clock::inline_run(&entries, 0) {
            return inline;
        }
        // A retained clock is kept for as long as its access: no spare capacity.
        entries.shrink_to_fit();
        Clock {
            form: Form::List(entries),
        }
    }

    /// The inline clock of `entries` (strictly increasing numbers, no zero counters) numbered
    /// by adding `offset`, when they are a run of at most [`INLINE`] with counters up to
    /// [`INLINE_MAX`]; `None` otherwise.
    fn inline_run(entries: &[(ComponentId, u64)], offset: ComponentId) -> Option<Clock> {
        let (first, last) = (entries.first()?, entries.last()?);
        let len = entries.len();
        if len > INLINE || (last.0 - first.0) as usize != len - 1 {
            return None;
        }
        let mut counters = [0; INLINE];
        // The counters or-ed together exceed the bound exactly when one of them does: one
        // test after the copy instead of one per counter.
        let mut any = 0;
        for (slot, entry) in counters.iter_mut().zip(entries) {
            *slot = entry.1 as u32;
            any |= entry.1;
        }
        (any <= u64::from(INLINE_MAX)).then_some(Clock {
            form: Form::Run {
                first: first.0 + offset,
                len: len as u32,
                counters,
            },
        })
    }

    /// The (id, counter) entries, sorted by id.
    fn iter(&self) -> impl Iterator<Item = (ComponentId, u64)> + '_ {
        let (run, list) = match &self.form {
            Form::Run {
                first,
                len,
                counters,
            } => (Some((*first, &counters[..*len as usize])), &[][..]),
            Form::List(entries) => (None, &entries[..]),
        };
        run.into_iter()
            .flat_map(|(first, counters)| (first..).zip(counters.iter().map(|&c| u64::from(c))))
            .chain(list.iter().copied())
    }

    /// The entries as a list, sorted by id.
    pub(crate) fn entries(&self) -> Vec<(ComponentId, u64)> {
        self.iter().collect()
    }

    /// True for the empty clock, which orders nothing.
    pub(crate) fn is_empty(&self) -> bool {
        matches!(&self.form, Form::List(entries) if entries.is_empty())
    }

    /// True iff `self` happens before `other` (`<=` component-wise and different); an empty
    /// clock is never before or after anything, as for [`raceway_schemas::VectorClock`].
    pub(crate) fn happens_before(&self, other: &Clock) -> bool {
        if self.is_empty() || other.is_empty() {
            return false;
        }
        let (le, ge) = self.le_ge(other);
        le && !ge
    }

    /// True iff neither clock happens before the other.
    pub(crate) fn concurrent_with(&self, other: &Clock) -> bool {
        if self.is_empty() || other.is_empty() {
            return true;
        }
        let (le, ge) = self.le_ge(other);
        // Equal clocks (le && ge) order nothing either.
        le == ge
    }

    /// True when `self <= other` component-wise and they differ, empty `self` included: what
    /// the fast path asks of a variable's summary (see the `retention` module doc).
    pub(crate) fn strictly_below(&self, other: &Clock) -> bool {
        let (le, ge) = self.le_ge(other);
        le && !ge
    }

    /// The first id, length and counters of an inline clock.
    fn inline(&self) -> Option<(ComponentId, u32, &[u32; INLINE])> {
        match &self.form {
            Form::Run {
                first,
                len,
                counters,
            } => Some((*first, *len, counters)),
            Form::List(_) => None,
        }
    }

    /// The counters of both clocks when they are inline over the same run of ids.
    fn same_run<'a>(&'a self, other: &'a Clock) -> Option<(&'a [u32; INLINE], &'a [u32; INLINE])> {
        let ((a_first, a_len, a), (b_first, b_len, b)) = (self.inline()?, other.inline()?);
        (a_first == b_first && a_len == b_len).then_some((a, b))
    }

    /// Number of components whose counters differ.
    pub(crate) fn differing_components(&self, other: &Clock) -> usize {
        if let Some((a, b)) = self.same_run(other) {
            // Zeros past the length are equal: all `INLINE` compared, without a branch.
            return a.iter().zip(b).filter(|(x, y)| x != y).count();
        }
        if let (Form::List(a), Form::List(b)) = (&self.form, &other.form) {
            if a.len() == b.len() {
                // Same components (as in `le_ge`): counters compared in one pass.
                let (mut ids_differ, mut differing) = (0, 0);
                for (x, y) in a.iter().zip(b) {
                    ids_differ |= x.0 ^ y.0;
                    differing += usize::from(x.1 != y.1);
                }
                if ids_differ == 0 {
                    return differing;
                }
            }
        }
        let mut differing = 0;
        merge_walk(self.iter(), other.iter(), |a, b| {
            differing += usize::from(a != b);
            true
        });
        differing
    }

    /// (self <= other, self >= other) component-wise, stopping as soon as both are false.
    fn le_ge(&self, other: &Clock) -> (bool, bool) {
        if let Some((a, b)) = self.same_run(other) {
            // Same components, inline (the common case: every actor of a trace or service in
            // each clock): the counters alone, all `INLINE` of them (zeros past the length are
            // equal), a fixed-length loop without a branch, compared as `i32` (they are at most
            // `INLINE_MAX`) so that the compiler vectorises it.
            let (mut below, mut above) = (0u32, 0u32);
            for (&x, &y) in a.iter().zip(b) {
                below |= u32::from((x as i32) < (y as i32));
                above |= u32::from((x as i32) > (y as i32));
            }
            return (above == 0, below == 0);
        }
        if let (Form::List(a), Form::List(b)) = (&self.form, &other.form) {
            if a.len() == b.len() {
                // Perhaps the same components: ids and counters in one pass, without a branch
                // per component. Other components of the same number take the merge below.
                let (mut ids_differ, mut below, mut above) = (0, false, false);
                for (x, y) in a.iter().zip(b) {
                    ids_differ |= x.0 ^ y.0;
                    below |= x.1 < y.1;
                    above |= x.1 > y.1;
                }
                if ids_differ == 0 {
                    return (!above, !below);
                }
            }
        }
        let (mut le, mut ge) = (true, true);
        merge_walk(self.iter(), other.iter(), |x, y| {
            le &= x <= y;
            ge &= x >= y;
            le || ge
        });
        (le, ge)
    }

    /// Makes `self` equal to `other`, reusing its allocation when both are lists.
    pub(crate) fn copy_from(&mut self, other: &Clock) {
        match (&mut self.form, &other.form) {
            (Form::List(into), Form::List(from)) => into.clone_from(from),
            (into, Form::Run { .. }) => *into = other.form.clone(),
            _ => self.clone_from(other),
        }
    }

    /// Component-wise maximum with `other` (the summary of a variable).
    pub(crate) fn join(&mut self, other: &Clock) {
        if let Some((_, &from)) = self.same_run(other) {
            if let Form::Run { counters, .. } = &mut self.form {
                for (x, y) in counters.iter_mut().zip(&from) {
                    *x = (*x).max(*y);
                }
            }
            return;
        }
        if other.is_empty() {
            return;
        }
        let mut entries = match std::mem::take(&mut self.form) {
            Form::List(entries) => entries,
            run => Clock { form: run }.entries(),
        };
        match &other.form {
            Form::List(from) => clock_entries::join(&mut entries, from),
            Form::Run { .. } => clock_entries::join(&mut entries, &other.entries()),
        }
        // The join of two clocks may be a run that fits inline (or stop being one).
        *self = Clock::from_entries(entries);
    }

    /// The component ids in use.
    pub(crate) fn ids(&self) -> impl Iterator<Item = ComponentId> + '_ {
        self.iter().map(|(id, _)| id)
    }

    /// Renumbers the components through `new_ids` (indexed by old id), which must be increasing
    /// on the ids in use so that the entries stay sorted.
    pub(crate) fn renumber(&mut self, new_ids: &[ComponentId]) {
        let entries = self
            .iter()
            .map(|(id, counter)| (new_ids[id as usize], counter))
            .collect();
        *self = Clock::from_entries(entries);
    }
}

impl Default for Form {
    fn default() -> Self {
        Form::List(Vec::new())
    }
}

/// True when the ids of `entries` strictly increase: sorted, no duplicates.
fn is_sorted(entries: &[(ComponentId, u64)]) -> bool {
    entries.windows(2).all(|pair| pair[0].0 < pair[1].0)
}

/// Calls `visit(a[c], b[c])` for every component in either list (sorted by id) while it
/// returns true.
fn merge_walk(
    a: impl Iterator<Item = (ComponentId, u64)>,
    b: impl Iterator<Item = (ComponentId, u64)>,
    mut visit: impl FnMut(u64, u64) -> bool,
) {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    loop {
        let go_on = match (a.peek().copied(), b.peek().copied()) {
            (Some(x), Some(y)) => match x.0.cmp(&y.0) {
                Ordering::Less => {
                    a.next();
                    visit(x.1, 0)
                }
                Ordering::Greater => {
                    b.next();
                    visit(0, y.1)
                }
                Ordering::Equal => {
                    a.next();
                    b.next();
                    visit(x.1, y.1)
                }
            },
            (Some(x), None) => {
                a.next();
                visit(x.1, 0)
            }
            (None, Some(y)) => {
                b.next();
                visit(0, y.1)
            }
            (None, None) => return,
        };
        if !go_on {
            return;
        }
    }
}

impl CausalClock for Clock {
    fn happens_before(&self, other: &Self) -> bool {
        Clock::happens_before(self, other)
    }

    fn concurrent_with(&self, other: &Self) -> bool {
        Clock::concurrent_with(self, other)
    }
}

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
    tables: Vec<TableIds>,
    /// The positions that sorted the last clock whose ids were out of order, in sorted order
    /// (see [`ComponentIds::sorted`]).
    permutation: Vec<usize>,
    /// Size of `names` at which [`ComponentIds::needs_compaction`] says to compact.
    limit: usize,
}

/// The ids of one table's names, by index.
#[derive(Debug)]
struct TableIds {
    table: ComponentNames,
    ids: Vec<ComponentId>,
    /// True when `ids` increase with the index: a clock over the table is then sorted by id as
    /// it comes.
    increasing: bool,
    /// `Some(first)` when `ids` are `first, first + 1, ...` (a table whose names were all new
    /// when it was numbered, as a trace's components usually are): an index is then numbered
    /// by an addition, without reading `ids`.
    first_of_run: Option<ComponentId>,
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

#[cfg(test)]
mod tests;

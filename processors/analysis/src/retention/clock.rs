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
use std::num::NonZeroU32;

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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Clock {
    form: Form,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Form {
    /// Ids `first..first + len` (`len` from 1 to [`INLINE`]); counters past `len` are zero.
    /// The length is never zero, and the list form is kept where that one value says so: the
    /// clock is 72 bytes, not 80 (see `retained` for why its bytes count).
    Run {
        first: ComponentId,
        len: NonZeroU32,
        counters: [u32; INLINE],
    },
    /// Any other clock, the empty one included.
    List(Vec<(ComponentId, u64)>),
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
        let len = NonZeroU32::new(len as u32)?;
        (any <= u64::from(INLINE_MAX)).then_some(Clock {
            form: Form::Run {
                first: first.0 + offset,
                len,
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
            } => (Some((*first, &counters[..len.get() as usize])), &[][..]),
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
            } => Some((*first, len.get(), counters)),
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
            Form::List(from) => raceway_schemas::join_entries(&mut entries, from),
            Form::Run { .. } => raceway_schemas::join_entries(&mut entries, &other.entries()),
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

mod component_ids;
pub(crate) use component_ids::ComponentIds;

#[cfg(test)]
mod tests;

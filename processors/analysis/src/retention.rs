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
//! Per variable at most `max_accesses_per_variable` accesses (and as many update spans) are kept;
//! beyond that the oldest by (timestamp, event id) is evicted, which can lose findings and is
//! counted. The runtime also evicts by age (the race window).
//!
//! # Fast path (FastTrack-style epochs)
//!
//! Each variable keeps a *summary clock*: the join of the clocks of every access and span it
//! retained. When a new access's clock is at or above the summary and differs from it, every
//! retained access and span happens before the new one (`r <= summary <= new`, and `r == new`
//! would force `summary == new`), so it can race with none of them and the scan is skipped. This
//! is FastTrack's epoch test, generalised to the retained set: it holds whenever accesses arrive
//! in happens-before order (the common case: one trace's accesses come in causal order), it is
//! exact (the verdicts are those of the full scan; the permutation tests check it), and the
//! summary only grows between rebuilds (after age eviction or forgetting a trace), so evictions
//! in between keep it a safe over-approximation. Empty clocks are never ordered, so a retained empty clock disables it.
//!
//! Domination is checked only against retained accesses with the same domination key (trace,
//! span, actor, location, type, lock set), found through 16 bits of each entry's key kept in the
//! entries' order (the `fingerprints` submodule), so an insertion costs a scan of those bits plus
//! the size of its key's group, which stays small: within a group, entries are pairwise
//! non-dominating.
//!
//! # Representation
//!
//! The race stage is memory bound: every arrival touches the state of a random variable. So the
//! retained accesses of a variable are one contiguous array sorted by age (arrivals are mostly
//! the newest, making insertion a push at the back and capacity eviction a pop at the front),
//! clocks are compact [`Clock`]s over component ids (the `clock` submodule), and the retained
//! access is kept without its clock pairs, which are rebuilt only when it ends up in a finding.

mod canonical;
mod clock;
mod fingerprints;
mod retained;
mod shared_facts;
mod values;

use std::collections::{BTreeMap, VecDeque};

pub(crate) use canonical::CanonicalPieces;
pub(crate) use clock::{Clock, ComponentIds};
pub(crate) use retained::{dominates, Retained, RetainedSpan};

use fingerprints::{fingerprint, Fingerprints};

use raceway_schemas::Access;
use smallvec::SmallVec;
use std::sync::Arc;
use uuid::Uuid;

/// Event ids an observation released: usually none or one (the oldest access of a full
/// variable), kept inline so that the common eviction allocates nothing.
pub type EvictedIds = SmallVec<[Uuid; 2]>;

/// What an insertion changed.
#[derive(Debug, Default)]
pub(crate) struct Inserted {
    /// Event ids no longer retained: dominated or evicted accesses, or the new one itself when it
    /// was not kept.
    pub(crate) removed: EvictedIds,
    /// How many of those were evicted for capacity (a possible loss of findings).
    pub(crate) capacity_evictions: u64,
}

/// (timestamp, event id): the order retained accesses and spans are kept in.
pub(crate) type Age = (i64, Uuid);

/// The retained accesses and update spans of one variable.
#[derive(Debug, Default)]
pub(crate) struct VariableAccesses {
    /// Sorted by age, oldest first.
    entries: VecDeque<Retained>,
    /// The domination key's fingerprint of each entry, at the entry's position.
    fingerprints: Fingerprints,
    /// Spans by the age of their write.
    spans: BTreeMap<Age, RetainedSpan>,
    /// Join of every clock ever retained here (see "Fast path" in the module doc).
    summary: Clock,
    /// Retained entries and spans with an empty clock, which disable the fast path.
    unclocked: usize,
    /// Write event ids of spans dropped since the last [`VariableAccesses::take_dropped_spans`].
    dropped_spans: Vec<Uuid>,
    /// The whole access of each retained entry that is part of a finding, by event id, built
    /// once for all its pairs; kept here rather than in the entry, since most entries are in
    /// none (see [`Retained`]).
    wholes: Wholes,
}

/// Event id -> the whole access of a retained entry in a finding.
type Wholes = foldhash::HashMap<Uuid, Arc<Access>>;

impl VariableAccesses {
    /// True when the access of this age (timestamp, event id) is retained.
    pub(crate) fn contains(&self, age: Age) -> bool {
        self.position(&age).is_ok()
    }

    /// Where the entry of `age` is, or would be inserted; newest first, as arrivals mostly are.
    fn position(&self, age: &Age) -> Result<usize, usize> {
        match self.entries.back() {
            None => Err(0),
            Some(newest) if newest.age() < *age => Err(self.entries.len()),
            Some(_) => self.entries.binary_search_by(|kept| kept.age().cmp(age)),
        }
    }

    /// True when a span with this write event id is retained.
    pub(crate) fn contains_span(&self, write: Age) -> bool {
        self.spans.contains_key(&write)
    }

    /// The whole access of the retained entry of `age` as findings report it, built on its
    /// first finding and kept while the entry is (see [`Retained::whole`] for the arguments).
    pub(crate) fn whole(
        &mut self,
        age: &Age,
        names: &ComponentIds,
        environment: &Arc<str>,
        variable: &Arc<str>,
    ) -> Option<Arc<Access>> {
        let at = self.position(age).ok()?;
        let kept = &self.entries[at];
        let whole = self
            .wholes
            .entry(age.1)
            .or_insert_with(|| Arc::new(kept.whole(names, environment, variable)));
        Some(Arc::clone(whole))
    }

    /// Keeps `whole` as the whole access of the entry of `age`, if it is retained: an arrival
    /// in a finding, whose whole access was built before it was inserted.
    pub(crate) fn keep_whole(&mut self, age: &Age, whole: Arc<Access>) {
        if self.contains(*age) {
            self.wholes.entry(age.1).or_insert(whole);
        }
    }

    /// The newest retained access.
    pub(crate) fn newest(&self) -> Option<&Retained> {
        self.entries.back()
    }

    /// The retained accesses, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Retained> {
        self.entries.iter()
    }

    /// The retained spans, oldest write first.
    pub(crate) fn spans(&self) -> impl Iterator<Item = &RetainedSpan> {
        self.spans.values()
    }

    /// True when everything retained happens before an event with `clock`: nothing retained
    /// can race with it (the fast path of the module doc).
    pub(crate) fn all_before(&self, clock: &Clock) -> bool {
        self.unclocked == 0 && !clock.is_empty() && self.summary.strictly_below(clock)
    }

    /// Number of retained accesses and spans.
    pub(crate) fn len(&self) -> usize {
        self.entries.len() + self.spans.len()
    }

    /// True when nothing is retained.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.spans.is_empty()
    }

    /// Keeps `new` unless a retained access dominates it, drops what `new` dominates, and
    /// keeps at most `capacity` entries: when full, the oldest of the entries and `new` is
    /// evicted (before `new` is put in, see [`VariableAccesses::evict_oldest_first`]). `fast`
    /// says that everything retained happens before `new` ([`VariableAccesses::all_before`]
    /// its clock), so nothing retained can dominate it and the summary becomes `new`'s clock.
    #[inline(always)]
    pub(crate) fn insert(&mut self, new: Retained, capacity: usize, fast: bool) -> Inserted {
        debug_assert!(!fast || self.all_before(&new.clock));
        let mut outcome = Inserted::default();
        let key = new.key();
        let fingerprint = fingerprint(key);
        let mut group = self.fingerprints.matching(fingerprint);
        if !group.is_empty() {
            // Most keys have no retained entry (a trace's actor at one location under one
            // lock set, once): no match, and no entry read.
            group.retain(|at| self.entries.get(*at).is_some_and(|kept| kept.key() == key));
            if !fast && group.iter().any(|&at| dominates(&self.entries[at], &new)) {
                outcome.removed.push(new.event_id);
                return outcome;
            }
            group.retain(|at| dominates(&new, &self.entries[*at]));
            // From the back, so that each removal leaves the positions before it in place.
            for &at in group.iter().rev() {
                if let Some(gone) = self.remove_at(at) {
                    outcome.removed.push(gone);
                }
            }
        }
        if fast {
            // Everything retained happens before `new`, so the summary is below its clock,
            // with no component `new` lacks: their join is `new`'s clock.
            self.summary.copy_from(&new.clock);
        } else {
            self.note_clock(&new.clock);
        }
        let age = new.age();
        match self.position(&age) {
            // Callers check `contains` first; keep the retained copy.
            Ok(_) => {}
            // A full variable: the oldest of the retained entries and `new` leaves.
            Err(0) if self.entries.len() == capacity => {
                // `new` is the oldest: it is not kept (as if inserted and evicted at once).
                let id = forget(&mut self.unclocked, &mut self.wholes, &new);
                outcome.removed.push(id);
                outcome.capacity_evictions += 1;
                self.reset_summary_if_empty();
            }
            Err(at) if self.entries.len() == capacity => {
                self.evict_oldest_first(&mut outcome);
                self.put(at - 1, new, fingerprint);
            }
            Err(at) => {
                self.reserve_for_one_more(capacity);
                self.put(at, new, fingerprint);
                self.evict_beyond(capacity, &mut outcome);
            }
        }
        outcome
    }

    /// Evicts the oldest entry of a full variable before a newer one is put in its place.
    /// Evicting first lets the deque hold exactly `capacity` entries, so that the new entry
    /// goes into the slot of the evicted one, which `forget` has just read: written after the
    /// newest, a slot that was last written one full turn of the ring ago missed the caches
    /// on every insertion.
    fn evict_oldest_first(&mut self, outcome: &mut Inserted) {
        if let Some(gone) = self.entries.front() {
            outcome
                .removed
                .push(forget(&mut self.unclocked, &mut self.wholes, gone));
            self.entries.pop_front();
            self.fingerprints.drop_oldest(1);
            outcome.capacity_evictions += 1;
        }
    }

    /// Puts `new` (with its key's `fingerprint`) at position `at` of the entries.
    #[inline(always)]
    fn put(&mut self, at: usize, new: Retained, fingerprint: u16) {
        if at == self.entries.len() {
            self.entries.push_back(new);
            self.fingerprints.push_back(fingerprint);
        } else {
            self.entries.insert(at, new);
            self.fingerprints.insert(at, fingerprint);
        }
    }

    /// Evicts the oldest entries beyond `capacity` (only a smaller capacity than a variable
    /// was filled with leaves more than one).
    fn evict_beyond(&mut self, capacity: usize, outcome: &mut Inserted) {
        let excess = self.entries.len().saturating_sub(capacity);
        if excess == 0 {
            return;
        }
        // The other indices are updated from references, then the entries dropped: moving
        // each into `forget_entry` first copied it once more (about 200 bytes).
        for gone in self.entries.range(..excess) {
            outcome
                .removed
                .push(forget(&mut self.unclocked, &mut self.wholes, gone));
        }
        self.entries.drain(..excess);
        self.fingerprints.drop_oldest(excess);
        outcome.capacity_evictions += excess as u64;
        self.reset_summary_if_empty();
    }

    /// Makes room for one more entry below `capacity`. A full deque doubles, as a `VecDeque`
    /// does, except that the doubling that would reach `capacity` or pass it goes to
    /// `capacity` exactly (a full variable evicts its oldest entry before it takes a new one):
    /// left to double, a full variable's deque copied every entry once more and ended at
    /// twice the room it needs. So a deque never holds more than twice its entries, and a
    /// variable that stays small keeps a small deque: reserving `capacity` from a quarter of
    /// it gave a variable of 64 entries room for 256.
    fn reserve_for_one_more(&mut self, capacity: usize) {
        let len = self.entries.len();
        if len == self.entries.capacity() && 2 * len >= capacity && len < capacity {
            self.entries.reserve_exact(capacity - len);
            self.fingerprints.reserve_exact(capacity - len);
        }
    }

    /// Keeps `span`, evicting the oldest span beyond `capacity`; returns the number evicted.
    pub(crate) fn insert_span(&mut self, span: RetainedSpan, capacity: usize) -> u64 {
        self.note_clock(&span.read_clock);
        self.note_clock(&span.write.clock);
        self.spans.insert(span.age(), span);
        let mut evicted = 0;
        while self.spans.len() > capacity {
            if let Some((_, gone)) = self.spans.pop_first() {
                self.forget_clocks(&gone);
                evicted += 1;
            }
        }
        evicted
    }

    /// Drops every access and span with a timestamp before `timestamp_ns`; returns the ids of
    /// the accesses dropped. The summary is rebuilt only when something was dropped: the race
    /// stage asks every variable after every poll, and rebuilding joins every retained clock,
    /// which made a poll's cost grow with everything retained, not with what arrived.
    pub(crate) fn evict_older_than(&mut self, timestamp_ns: i64) -> Vec<Uuid> {
        let mut gone = Vec::new();
        let mut spans_dropped = false;
        while self
            .entries
            .front()
            .is_some_and(|oldest| oldest.timestamp_ns < timestamp_ns)
        {
            if let Some(oldest) = self.entries.pop_front() {
                self.fingerprints.drop_oldest(1);
                gone.push(self.forget_entry(oldest));
            }
        }
        while let Some(entry) = self.spans.first_entry() {
            if entry.key().0 >= timestamp_ns {
                break;
            }
            let span = entry.remove();
            self.forget_clocks(&span);
            spans_dropped = true;
        }
        if !gone.is_empty() || spans_dropped {
            self.recompute_summary();
        }
        gone
    }

    /// Drops every access and span of `trace_id`; returns the ids of the accesses dropped.
    pub(crate) fn forget_trace(&mut self, trace_id: Uuid) -> Vec<Uuid> {
        // Every variable is asked: most hold nothing of the trace, and leave unchanged.
        let holds_trace = self
            .entries
            .iter()
            .any(|kept| kept.who.trace_id == trace_id)
            || self
                .spans
                .values()
                .any(|span| span.write.who.trace_id == trace_id);
        if !holds_trace {
            return Vec::new();
        }
        let (of_trace, kept): (VecDeque<Retained>, VecDeque<Retained>) =
            std::mem::take(&mut self.entries)
                .into_iter()
                .partition(|kept| kept.who.trace_id == trace_id);
        self.entries = kept;
        self.fingerprints
            .rebuild(self.entries.iter().map(Retained::key));
        let gone = of_trace
            .into_iter()
            .map(|gone| self.forget_entry(gone))
            .collect();
        let spans: Vec<Age> = self
            .spans
            .iter()
            .filter(|(_, span)| span.write.who.trace_id == trace_id)
            .map(|(age, _)| *age)
            .collect();
        for age in spans {
            if let Some(span) = self.spans.remove(&age) {
                self.forget_clocks(&span);
            }
        }
        self.recompute_summary();
        gone
    }

    /// Every clock held here (entries, spans and the summary), for component id compaction.
    pub(crate) fn clocks(&self) -> impl Iterator<Item = &Clock> {
        self.entries
            .iter()
            .map(|kept| &kept.clock)
            .chain(
                self.spans
                    .values()
                    .flat_map(|span| [&span.read_clock, &span.write.clock]),
            )
            .chain(std::iter::once(&self.summary))
    }

    /// Like [`VariableAccesses::clocks`], mutably.
    pub(crate) fn clocks_mut(&mut self) -> impl Iterator<Item = &mut Clock> {
        self.entries
            .iter_mut()
            .map(|kept| &mut kept.clock)
            .chain(
                self.spans
                    .values_mut()
                    .flat_map(|span| [&mut span.read_clock, &mut span.write.clock]),
            )
            .chain(std::iter::once(&mut self.summary))
    }

    /// Rebuilds the summary from what is retained, after bulk removals, so that it does not keep
    /// the components of long-gone traces (it only ever grows between rebuilds).
    fn recompute_summary(&mut self) {
        let mut summary = Clock::default();
        for kept in &self.entries {
            summary.join(&kept.clock);
        }
        for span in self.spans.values() {
            summary.join(&span.read_clock);
            summary.join(&span.write.clock);
        }
        self.summary = summary;
    }

    fn note_clock(&mut self, clock: &Clock) {
        if clock.is_empty() {
            self.unclocked += 1;
        } else {
            self.summary.join(clock);
        }
    }

    /// Write event ids of the spans dropped since the last call.
    pub(crate) fn take_dropped_spans(&mut self) -> Vec<Uuid> {
        std::mem::take(&mut self.dropped_spans)
    }

    fn forget_clocks(&mut self, span: &RetainedSpan) {
        self.dropped_spans.push(span.write.event_id);
        for clock in [&span.read_clock, &span.write.clock] {
            if clock.is_empty() {
                self.unclocked = self.unclocked.saturating_sub(1);
            }
        }
    }

    /// Removes the entry at position `at`; its event id, if there was one.
    fn remove_at(&mut self, at: usize) -> Option<Uuid> {
        let gone = self.entries.remove(at)?;
        self.fingerprints.remove(at);
        Some(self.forget_entry(gone))
    }

    /// Updates the other indices for an entry taken out of `entries`; returns its event id.
    fn forget_entry(&mut self, gone: Retained) -> Uuid {
        let id = forget(&mut self.unclocked, &mut self.wholes, &gone);
        self.reset_summary_if_empty();
        id
    }

    fn reset_summary_if_empty(&mut self) {
        if self.entries.is_empty() && self.spans.is_empty() && self.unclocked == 0 {
            // Nothing left to compare with: start the summary afresh.
            self.summary = Clock::default();
        }
    }
}

/// Updates the count of empty clocks and the whole accesses for `gone`, an entry leaving
/// `entries` (its fingerprint leaves with it, by position); returns its event id.
fn forget(unclocked: &mut usize, wholes: &mut Wholes, gone: &Retained) -> Uuid {
    if gone.clock.is_empty() {
        *unclocked = unclocked.saturating_sub(1);
    }
    if !wholes.is_empty() {
        wholes.remove(&gone.event_id);
    }
    gone.event_id
}

#[cfg(test)]
mod tests;

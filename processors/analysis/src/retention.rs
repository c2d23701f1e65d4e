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
//! span, actor, location, type, lock set), found through a hash index, so an insertion costs
//! O(log n) plus the size of its key's group, which stays small: within a group, entries are
//! pairwise non-dominating.
//!
//! # Representation
//!
//! The race stage is memory bound: every arrival touches the state of a random variable. So the
//! retained accesses of a variable are one contiguous array sorted by age (arrivals are mostly
//! the newest, making insertion a push at the back and capacity eviction a pop at the front),
//! clocks are compact [`Clock`]s over component ids (the `clock` submodule), and the retained
//! access is kept without its clock pairs, which are rebuilt only when it ends up in a finding.

mod clock;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::{Arc, OnceLock};

pub(crate) use clock::{Clock, ComponentIds};

use raceway_schemas::{Access, AccessType, ActorId, HeldLock, UpdateRead, UpdateSpan};
use uuid::Uuid;

use crate::interning::{Fx, SharedPieces};
use crate::races::UpdateContext;

/// What the race rules read of a retained access: its own facts inline, the pieces that repeat
/// across accesses shared (see [`SharedPieces`]), its environment and variable left to the
/// caller, who keys the access by them anyway.
#[derive(Debug)]
pub(crate) struct Facts {
    pub(crate) event_id: Uuid,
    pub(crate) trace_id: Uuid,
    pub(crate) timestamp_ns: i64,
    pub(crate) trace_start_ns: i64,
    pub(crate) trace_end_ns: i64,
    pub(crate) access_type: AccessType,
    pub(crate) trusted_clock: bool,
    pub(crate) actor: Arc<ActorId>,
    pub(crate) location: Arc<str>,
    /// Sorted and deduplicated, so lock sets compare with `==`.
    pub(crate) locks: Arc<[HeldLock]>,
    value: String,
    old_value: Option<String>,
}

/// An access kept for comparison, normalised once on arrival.
#[derive(Debug)]
pub(crate) struct Retained {
    /// The access without environment, variable and clock pairs.
    pub(crate) access: Facts,
    pub(crate) clock: Clock,
    /// (timestamp, event id), for searches.
    age: Age,
    /// Hash of the domination key (see [`dominates`]), computed once.
    key: u64,
    /// The whole access, rebuilt the first time it is part of a pair.
    whole: OnceLock<Arc<Access>>,
}

impl Retained {
    /// Normalises `access` for comparisons, numbering its clock components through `names` and
    /// sharing its repeated pieces through `pieces`.
    pub(crate) fn interned(
        access: Access,
        names: &mut ComponentIds,
        pieces: &mut SharedPieces,
    ) -> Self {
        Self::interned_near(access, names, pieces, None)
    }

    /// Like [`Retained::interned`], first trying the pieces of `neighbour` (the newest retained
    /// access of the same variable, usually at the same location under the same locks): one
    /// comparison with memory the caller just read instead of a lookup in the shared sets.
    pub(crate) fn interned_near(
        access: Access,
        names: &mut ComponentIds,
        pieces: &mut SharedPieces,
        neighbour: Option<&Retained>,
    ) -> Self {
        let clock = names.clock(&access.clock);
        let access = Facts::new(access, pieces, neighbour.map(|n| &n.access));
        Retained {
            age: (access.timestamp_ns, access.event_id),
            key: domination_key(&access),
            access,
            clock,
            whole: OnceLock::new(),
        }
    }

    /// The access as findings report it, with its (normalised) lock set and clock pairs;
    /// `names` must be the [`ComponentIds`] the access was interned with, and `environment`
    /// and `variable` those it arrived with.
    pub(crate) fn shared(
        &self,
        names: &ComponentIds,
        environment: &str,
        variable: &str,
    ) -> Arc<Access> {
        Arc::clone(self.whole.get_or_init(|| {
            Arc::new(
                self.access
                    .whole(environment, variable, names.pairs(&self.clock)),
            )
        }))
    }
}

impl Facts {
    /// The facts of `access` (its environment, variable and clock pairs are dropped), with the
    /// lock set sorted and deduplicated and the repeated pieces shared through `pieces`.
    fn new(access: Access, pieces: &mut SharedPieces, neighbour: Option<&Facts>) -> Self {
        let mut locks = access.locks;
        if !locks.windows(2).all(|w| w[0] < w[1]) {
            locks.sort();
            locks.dedup();
        }
        let location = match neighbour {
            Some(near) if *near.location == *access.location => Arc::clone(&near.location),
            _ => pieces.location(access.location),
        };
        let locks = match neighbour {
            Some(near) if *near.locks == *locks => Arc::clone(&near.locks),
            _ => pieces.locks(locks),
        };
        Facts {
            event_id: access.event_id,
            trace_id: access.trace_id,
            timestamp_ns: access.timestamp_ns,
            trace_start_ns: access.trace_start_ns,
            trace_end_ns: access.trace_end_ns,
            access_type: access.access_type,
            trusted_clock: access.trusted_clock,
            actor: pieces.actor(access.actor),
            location,
            locks,
            value: access.value,
            old_value: access.old_value,
        }
    }

    /// The whole access again, with the given environment, variable and clock pairs.
    fn whole(&self, environment: &str, variable: &str, clock: Vec<(String, u64)>) -> Access {
        Access {
            event_id: self.event_id,
            trace_id: self.trace_id,
            timestamp_ns: self.timestamp_ns,
            environment: environment.to_string(),
            variable: variable.to_string(),
            access_type: self.access_type,
            location: self.location.to_string(),
            value: self.value.clone(),
            old_value: self.old_value.clone(),
            actor: (*self.actor).clone(),
            clock,
            trusted_clock: self.trusted_clock,
            locks: self.locks.to_vec(),
            trace_start_ns: self.trace_start_ns,
            trace_end_ns: self.trace_end_ns,
        }
    }
}

/// True when `later` makes `earlier` redundant for race detection (see the module doc).
pub(crate) fn dominates(later: &Retained, earlier: &Retained) -> bool {
    let (l, e) = (&later.access, &earlier.access);
    later.key == earlier.key
        && l.event_id != e.event_id
        && l.trace_id == e.trace_id
        && l.trace_start_ns == e.trace_start_ns
        && l.trace_end_ns == e.trace_end_ns
        && l.actor == e.actor
        && l.location == e.location
        && l.access_type == e.access_type
        && l.locks == e.locks
        && earlier.clock.happens_before(&later.clock)
        && earlier.clock.differing_components(&later.clock) == 1
}

/// An update span kept for comparison with later writes, clocks normalised once.
#[derive(Debug)]
pub(crate) struct RetainedSpan {
    /// The span's write and read without their clock pairs, which are the compact clocks below
    /// (a span would otherwise own two allocations per clock component); the write's repeated
    /// pieces are shared as for [`Retained`], its environment and variable left to the caller.
    pub(crate) write: Facts,
    pub(crate) read: UpdateRead,
    pub(crate) read_clock: Clock,
    pub(crate) write_clock: Clock,
    pub(crate) held_throughout: Vec<HeldLock>,
    /// The write and the update context as findings report them, rebuilt on first use.
    whole: OnceLock<(Arc<Access>, Arc<UpdateContext>)>,
}

impl RetainedSpan {
    /// Normalises `span` for comparisons, numbering its clock components through `names`.
    pub(crate) fn interned(
        mut span: UpdateSpan,
        names: &mut ComponentIds,
        pieces: &mut SharedPieces,
    ) -> Self {
        let read_clock = names.clock(&span.read.clock);
        let write_clock = names.clock(&span.write.clock);
        span.read.clock = Vec::new();
        RetainedSpan {
            write: Facts::new(span.write, pieces, None),
            read: span.read,
            read_clock,
            write_clock,
            held_throughout: span.held_throughout,
            whole: OnceLock::new(),
        }
    }

    /// The span's write and its update context with their (normalised) clock pairs; `names`
    /// must be the [`ComponentIds`] the span was interned with, and `environment` and
    /// `variable` those its write arrived with.
    pub(crate) fn whole(
        &self,
        names: &ComponentIds,
        environment: &str,
        variable: &str,
    ) -> (Arc<Access>, Arc<UpdateContext>) {
        let (write, context) = self.whole.get_or_init(|| {
            let write = (self.write).whole(environment, variable, names.pairs(&self.write_clock));
            let mut read = self.read.clone();
            read.clock = names.pairs(&self.read_clock);
            let context = UpdateContext {
                write_event_id: write.event_id,
                read,
            };
            (Arc::new(write), Arc::new(context))
        });
        (Arc::clone(write), Arc::clone(context))
    }

    fn age(&self) -> Age {
        (self.write.timestamp_ns, self.write.event_id)
    }
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

type Age = (i64, Uuid);

/// The ages of the retained entries with one domination key hash: usually one, kept inline.
#[derive(Debug)]
enum Group {
    One(Age),
    Many(Vec<Age>),
}

impl Group {
    fn ages(&self) -> &[Age] {
        match self {
            Group::One(age) => std::slice::from_ref(age),
            Group::Many(ages) => ages,
        }
    }

    fn push(&mut self, age: Age) {
        match self {
            Group::One(first) => *self = Group::Many(vec![*first, age]),
            Group::Many(ages) => ages.push(age),
        }
    }

    /// Removes `age`; true when the group is now empty.
    fn remove(&mut self, age: &Age) -> bool {
        match self {
            Group::One(only) => only == age,
            Group::Many(ages) => {
                ages.retain(|a| a != age);
                ages.is_empty()
            }
        }
    }
}

/// The retained accesses and update spans of one variable.
#[derive(Debug, Default)]
pub(crate) struct VariableAccesses {
    /// Sorted by age, oldest first.
    entries: VecDeque<Retained>,
    /// Domination key hash -> ages of the entries with that key.
    groups: HashMap<u64, Group, BuildHasherDefault<Fx>>,
    /// Spans by the age of their write.
    spans: BTreeMap<Age, RetainedSpan>,
    /// Join of every clock ever retained here (see "Fast path" in the module doc).
    summary: Clock,
    /// Retained entries and spans with an empty clock, which disable the fast path.
    unclocked: usize,
    /// Write event ids of spans dropped since the last [`VariableAccesses::take_dropped_spans`].
    dropped_spans: Vec<Uuid>,
}

impl VariableAccesses {
    /// True when the access of this age (timestamp, event id) is retained.
    pub(crate) fn contains(&self, age: Age) -> bool {
        self.position(&age).is_ok()
    }

    /// Where the entry of `age` is, or would be inserted; newest first, as arrivals mostly are.
    fn position(&self, age: &Age) -> Result<usize, usize> {
        match self.entries.back() {
            None => Err(0),
            Some(newest) if newest.age < *age => Err(self.entries.len()),
            Some(_) => self.entries.binary_search_by(|kept| kept.age.cmp(age)),
        }
    }

    fn get(&self, age: &Age) -> Option<&Retained> {
        self.position(age).ok().map(|at| &self.entries[at])
    }

    /// True when a span with this write event id is retained.
    pub(crate) fn contains_span(&self, write: Age) -> bool {
        self.spans.contains_key(&write)
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

    /// Keeps `new` unless a retained access dominates it, drops what `new` dominates, then
    /// evicts the oldest beyond `capacity`. `fast` says that everything retained happens before
    /// `new`, so nothing retained can dominate it.
    pub(crate) fn insert(&mut self, new: Retained, capacity: usize, fast: bool) -> Inserted {
        let mut outcome = Inserted::default();
        let group = self.groups.get(&new.key).map_or(&[][..], Group::ages);
        if !fast
            && group
                .iter()
                .any(|age| self.get(age).is_some_and(|kept| dominates(kept, &new)))
        {
            outcome.removed.push(new.access.event_id);
            return outcome;
        }
        let dominated: Vec<Age> = group
            .iter()
            .filter(|age| self.get(age).is_some_and(|kept| dominates(&new, kept)))
            .copied()
            .collect();
        for age in dominated {
            if let Some(gone) = self.remove_entry(&age) {
                outcome.removed.push(gone);
            }
        }
        self.note_clock(&new.clock);
        match self.groups.get_mut(&new.key) {
            Some(group) => group.push(new.age),
            None => {
                self.groups.insert(new.key, Group::One(new.age));
            }
        }
        match self.position(&new.age) {
            Err(at) if at == self.entries.len() => self.entries.push_back(new),
            Err(at) => self.entries.insert(at, new),
            // Callers check `contains` first; keep the retained copy.
            Ok(_) => {}
        }
        while self.entries.len() > capacity {
            let Some(oldest) = self.entries.pop_front() else {
                break;
            };
            outcome.removed.push(self.forget_entry(oldest));
            outcome.capacity_evictions += 1;
        }
        outcome
    }

    /// Keeps `span`, evicting the oldest span beyond `capacity`; returns the number evicted.
    pub(crate) fn insert_span(&mut self, span: RetainedSpan, capacity: usize) -> u64 {
        self.note_clock(&span.read_clock);
        self.note_clock(&span.write_clock);
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
    /// the accesses dropped.
    pub(crate) fn evict_older_than(&mut self, timestamp_ns: i64) -> Vec<Uuid> {
        let mut gone = Vec::new();
        while self
            .entries
            .front()
            .is_some_and(|oldest| oldest.age.0 < timestamp_ns)
        {
            if let Some(oldest) = self.entries.pop_front() {
                gone.push(self.forget_entry(oldest));
            }
        }
        while let Some(entry) = self.spans.first_entry() {
            if entry.key().0 >= timestamp_ns {
                break;
            }
            let span = entry.remove();
            self.forget_clocks(&span);
        }
        self.recompute_summary();
        gone
    }

    /// Drops every access and span of `trace_id`; returns the ids of the accesses dropped.
    pub(crate) fn forget_trace(&mut self, trace_id: Uuid) -> Vec<Uuid> {
        let (of_trace, kept): (VecDeque<Retained>, VecDeque<Retained>) =
            std::mem::take(&mut self.entries)
                .into_iter()
                .partition(|kept| kept.access.trace_id == trace_id);
        self.entries = kept;
        let gone = of_trace
            .into_iter()
            .map(|gone| self.forget_entry(gone))
            .collect();
        let spans: Vec<Age> = self
            .spans
            .iter()
            .filter(|(_, span)| span.write.trace_id == trace_id)
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
                    .flat_map(|span| [&span.read_clock, &span.write_clock]),
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
                    .flat_map(|span| [&mut span.read_clock, &mut span.write_clock]),
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
            summary.join(&span.write_clock);
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
        for clock in [&span.read_clock, &span.write_clock] {
            if clock.is_empty() {
                self.unclocked = self.unclocked.saturating_sub(1);
            }
        }
    }

    /// Removes the entry of `age`; its event id, if it was there.
    fn remove_entry(&mut self, age: &Age) -> Option<Uuid> {
        let at = self.position(age).ok()?;
        let gone = self.entries.remove(at)?;
        Some(self.forget_entry(gone))
    }

    /// Updates the other indices for an entry taken out of `entries`; returns its event id.
    fn forget_entry(&mut self, gone: Retained) -> Uuid {
        if gone.clock.is_empty() {
            self.unclocked = self.unclocked.saturating_sub(1);
        }
        if let Some(group) = self.groups.get_mut(&gone.key) {
            if group.remove(&gone.age) {
                self.groups.remove(&gone.key);
            }
        }
        if self.entries.is_empty() && self.spans.is_empty() && self.unclocked == 0 {
            // Nothing left to compare with: start the summary afresh.
            self.summary = Clock::default();
        }
        gone.access.event_id
    }
}

/// Hash of everything [`dominates`] requires to be equal, to find domination candidates.
fn domination_key(access: &Facts) -> u64 {
    let mut hasher = Fx::default();
    (
        access.trace_id,
        access.trace_start_ns,
        access.trace_end_ns,
        &access.actor,
        &access.location,
        access.access_type,
        &access.locks,
    )
        .hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests;

//! Data races over a stream of accesses from many traces (DESIGN.md "Race semantics").
//!
//! Accesses arrive in any order, keyed by variable (environment, name). Each one is compared with
//! the accesses of the same variable still retained (see the `retention` module for what is kept and
//! why dropping the rest is sound), and every racing pair is reported once per arrival of its
//! later-arriving side.
//!
//! # The data race rule
//!
//! Two accesses race when they touch the same variable, at least one writes, they come from
//! different actors (one actor runs its steps one after the other, whatever the trace), neither
//! happens before the other by their clocks, they are not both atomic, and no lock they hold in
//! common protects them. For a pair from two different traces the traces' time spans must also
//! overlap, widened by `cross_trace_slack_ns`: requests without a common clock are never ordered,
//! so time is the only evidence that they could have interleaved. Clocks are compared as usual
//! across traces: trusted clocks can order two traces (a lock handed from one request to
//! another), derived ones never do because their components are scoped to their trace.
//!
//! # The lock-mode rule
//!
//! A lock held by both sides protects the pair when at least one of them holds it in exclusive
//! mode: then the two critical sections cannot overlap, whatever the other's mode. When both hold
//! it in shared mode (two RwLock read locks) the sections can overlap, so the lock protects only
//! two reads, and two reads are never a race anyway: a read lock protects reads from writers that
//! take the write lock, never writes from each other.

//!
//! # Lost updates
//!
//! The same detector checks [`UpdateSpan`]s (read-modify-writes paired by the trace stage)
//! against the writes of their variable with the rule of [`crate::lost_updates`], in both arrival
//! orders, and reports them as pairs of kind `lost_update`: (the span's write, the other write),
//! with the span's read attached.

use std::sync::Arc;

use raceway_schemas::{
    Access, AccessType, FindingKind, HeldLock, LockMode, UpdateRead, UpdateSpan,
};
use uuid::Uuid;

use crate::interning::SharedPieces;
use crate::lost_updates::lost;
use crate::retention::{ComponentIds, Retained, RetainedSpan, VariableAccesses};
use crate::trace::fast_hash::FastMap;

/// environment -> variable -> retained accesses and spans (nested so lookups need no key
/// allocation), with the process-seeded fast hasher.
type Variables = FastMap<String, FastMap<String, VariableAccesses>>;

/// Settings of the race detector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaceConfig {
    /// Accesses (and, separately, update spans) kept per variable; beyond that the oldest are
    /// evicted (and counted).
    pub max_accesses_per_variable: usize,
    /// How far apart two traces' time spans may be and still be compared.
    pub cross_trace_slack_ns: i64,
    /// How long accesses are kept; the runtime applies it through
    /// [`RaceDetector::evict_expired`].
    pub window_ns: i64,
}

impl Default for RaceConfig {
    fn default() -> Self {
        RaceConfig {
            max_accesses_per_variable: 4096,
            cross_trace_slack_ns: 100_000_000,
            window_ns: 5 * 60 * 1_000_000_000,
        }
    }
}

/// For a lost-update pair: which write completed which read.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateContext {
    /// The event id of the write of the read-modify-write (one of the pair's sides).
    pub write_event_id: Uuid,
    /// The read it completed.
    pub read: UpdateRead,
}

/// Two accesses that race, `first` being the earlier by (timestamp, event id), so that the pair
/// does not depend on which side arrived first.
#[derive(Debug, Clone, PartialEq)]
pub struct RacePair {
    /// The earlier access.
    pub first: Arc<Access>,
    /// The later access.
    pub second: Arc<Access>,
    /// What kind of finding the pair is evidence for.
    pub kind: FindingKind,
    /// For `lost_update`: the read-modify-write whose write is one of the sides.
    pub update: Option<Arc<UpdateContext>>,
}

impl RacePair {
    /// Builds a pair of `kind`, putting the earlier access first.
    pub fn new(a: Arc<Access>, b: Arc<Access>, kind: FindingKind) -> Self {
        let (first, second) = if (a.timestamp_ns, a.event_id) <= (b.timestamp_ns, b.event_id) {
            (a, b)
        } else {
            (b, a)
        };
        RacePair {
            first,
            second,
            kind,
            update: None,
        }
    }

    /// A `lost_update` pair: `span`'s write and `other`, a write that can fall inside the span.
    fn lost_update(span: &RetainedSpan, other: &Arc<Access>, names: &ComponentIds) -> Self {
        let (write, context) = span.whole(names, &other.environment, &other.variable);
        let other = Arc::clone(other);
        let mut pair = RacePair::new(write, other, FindingKind::LostUpdate);
        pair.update = Some(context);
        pair
    }
}

/// What observing one access or span produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    /// Pairs the new access forms with retained accesses (data races, oldest partner first),
    /// then with retained spans (lost updates), or the pairs a new span forms (lost updates).
    pub pairs: Vec<RacePair>,
    /// Event ids no longer retained after this step (dominated, evicted, or the new access itself
    /// when it was not kept), so the runtime knows which input records it no longer needs.
    pub evicted: Vec<Uuid>,
}

/// Finds data races and lost updates per variable over accesses and update spans arriving in
/// any order.
#[derive(Debug, Default)]
pub struct RaceDetector {
    config: RaceConfig,
    variables: Variables,
    retained: usize,
    evictions: u64,
    fast_path_hits: u64,
    /// Dense ids of the clock components of everything retained.
    names: ComponentIds,
    /// Shared actors, locations and lock sets of everything retained.
    pieces: SharedPieces,
    /// Write event ids of spans dropped since the last [`RaceDetector::take_evicted_spans`].
    evicted_spans: Vec<Uuid>,
    /// Accesses older than this were evicted by age; later arrivals that old are compared but
    /// not kept, since the next age eviction would drop them anyway.
    evicted_before_ns: Option<i64>,
}

impl RaceDetector {
    /// A detector with `config`.
    pub fn new(config: RaceConfig) -> Self {
        RaceDetector {
            config,
            ..RaceDetector::default()
        }
    }

    /// The detector's settings.
    pub fn config(&self) -> &RaceConfig {
        &self.config
    }

    /// The state of one variable, created empty if needed. A function of the map alone, so that
    /// the caller can use the other fields of the detector while holding it.
    fn variable<'a>(
        variables: &'a mut Variables,
        environment: &str,
        variable: &str,
    ) -> &'a mut VariableAccesses {
        // Allocation only for a new environment or variable.
        if !variables.contains_key(environment) {
            variables.insert(environment.to_string(), FastMap::default());
        }
        let by_name = variables.get_mut(environment).expect("inserted just above");
        if !by_name.contains_key(variable) {
            by_name.insert(variable.to_string(), VariableAccesses::default());
        }
        by_name.get_mut(variable).expect("inserted just above")
    }

    /// Reclaims the ids of clock components no retained clock uses any more, once enough new
    /// ones were handed out (derived clocks bring new components with every trace).
    fn compact_names(&mut self) {
        if !self.names.needs_compaction() {
            return;
        }
        let mut live = vec![false; self.names.len()];
        let all = || self.variables.values().flat_map(|by_name| by_name.values());
        for clock in all().flat_map(VariableAccesses::clocks) {
            for id in clock.ids() {
                live[id as usize] = true;
            }
        }
        let new_ids = self.names.compact(&live);
        for variable in self.variables.values_mut().flat_map(|v| v.values_mut()) {
            for clock in variable.clocks_mut() {
                clock.renumber(&new_ids);
            }
        }
    }

    fn too_old(&self, timestamp_ns: i64) -> bool {
        self.evicted_before_ns.is_some_and(|cut| timestamp_ns < cut)
    }

    /// Compares `access` with the retained accesses (data races) and, for a write, with the
    /// retained spans (lost updates) of its variable, then retains it. An access already
    /// retained (same event id and timestamp) is a redelivery and is ignored.
    pub fn observe(&mut self, mut access: Access) -> Observation {
        let too_old = self.too_old(access.timestamp_ns);
        let (slack, capacity) = (
            self.config.cross_trace_slack_ns,
            self.config.max_accesses_per_variable,
        );
        let environment = std::mem::take(&mut access.environment);
        let name = std::mem::take(&mut access.variable);
        let variable = Self::variable(&mut self.variables, &environment, &name);
        if variable.contains((access.timestamp_ns, access.event_id)) {
            return Observation::default();
        }
        let near = variable.newest();
        let new = Retained::interned_near(access, &mut self.names, &mut self.pieces, near);
        let fast = variable.all_before(&new.clock);
        let mut pairs = Vec::new();
        if !fast {
            let whole = |retained: &Retained| retained.shared(&self.names, &environment, &name);
            for kept in variable.iter().filter(|kept| races(kept, &new, slack)) {
                pairs.push(RacePair::new(
                    whole(kept),
                    whole(&new),
                    FindingKind::DataRace,
                ));
            }
            if new.access.access_type.is_write() {
                for span in variable.spans().filter(|span| lost(span, &new, slack)) {
                    pairs.push(RacePair::lost_update(span, &whole(&new), &self.names));
                }
            }
        }
        let before = variable.len();
        let (evicted, capacity_evictions) = if too_old {
            (vec![new.access.event_id], 0)
        } else {
            let outcome = variable.insert(new, capacity, fast);
            (outcome.removed, outcome.capacity_evictions)
        };
        let after = variable.len();
        let empty = variable.is_empty();
        if fast {
            self.fast_path_hits += 1;
        }
        self.evictions += capacity_evictions;
        self.retained = self.retained + after - before;
        if empty {
            self.drop_variable(&environment, &name);
        }
        self.compact_names();
        Observation { pairs, evicted }
    }

    /// Compares an update span with the retained writes of its variable (lost updates), then
    /// retains it. A span whose write is already retained as a span is a redelivery and is
    /// ignored. The span's write must also be [`RaceDetector::observe`]d as an access, for data
    /// races and as the other side of other spans. The returned `evicted` is always empty:
    /// spans dropped later are reported by [`RaceDetector::take_evicted_spans`].
    pub fn observe_update(&mut self, mut span: UpdateSpan) -> Observation {
        let too_old = self.too_old(span.write.timestamp_ns);
        let (slack, capacity) = (
            self.config.cross_trace_slack_ns,
            self.config.max_accesses_per_variable,
        );
        let age = (span.write.timestamp_ns, span.write.event_id);
        let variable = Self::variable(
            &mut self.variables,
            &span.write.environment,
            &span.write.variable,
        );
        if variable.contains_span(age) {
            return Observation::default();
        }
        let environment = std::mem::take(&mut span.write.environment);
        let name = std::mem::take(&mut span.write.variable);
        let new = RetainedSpan::interned(span, &mut self.names, &mut self.pieces);
        let fast = variable.all_before(&new.read_clock);
        let mut pairs = Vec::new();
        if !fast {
            for kept in variable.iter().filter(|kept| lost(&new, kept, slack)) {
                let whole = kept.shared(&self.names, &environment, &name);
                pairs.push(RacePair::lost_update(&new, &whole, &self.names));
            }
        }
        let before = variable.len();
        let mut dropped = Vec::new();
        let evicted = if too_old {
            dropped.push(new.write.event_id);
            0
        } else {
            variable.insert_span(new, capacity)
        };
        dropped.extend(variable.take_dropped_spans());
        let after = variable.len();
        let empty = variable.is_empty();
        if fast {
            self.fast_path_hits += 1;
        }
        self.evictions += evicted;
        self.evicted_spans.extend(dropped);
        self.retained = self.retained + after - before;
        if empty {
            self.drop_variable(&environment, &name);
        }
        self.compact_names();
        Observation {
            pairs,
            evicted: Vec::new(),
        }
    }

    fn drop_variable(&mut self, environment: &str, variable: &str) {
        if let Some(by_name) = self.variables.get_mut(environment) {
            by_name.remove(variable);
            if by_name.is_empty() {
                self.variables.remove(environment);
            }
        }
    }

    /// Applies `drop` to every variable, removing emptied ones; returns the access ids dropped.
    fn drop_everywhere(
        &mut self,
        mut drop: impl FnMut(&mut VariableAccesses) -> Vec<Uuid>,
    ) -> Vec<Uuid> {
        let mut gone = Vec::new();
        let mut retained = 0;
        let evicted_spans = &mut self.evicted_spans;
        self.variables.retain(|_, by_name| {
            by_name.retain(|_, variable| {
                gone.extend(drop(variable));
                evicted_spans.extend(variable.take_dropped_spans());
                retained += variable.len();
                !variable.is_empty()
            });
            !by_name.is_empty()
        });
        self.retained = retained;
        gone
    }

    /// Drops every retained access and span with a timestamp before `timestamp_ns` and returns
    /// the ids of the accesses dropped. Later arrivals older than the cut are still compared but
    /// no longer kept.
    pub fn evict_older_than(&mut self, timestamp_ns: i64) -> Vec<Uuid> {
        self.evicted_before_ns = Some(
            self.evicted_before_ns
                .map_or(timestamp_ns, |cut| cut.max(timestamp_ns)),
        );
        self.drop_everywhere(|variable| variable.evict_older_than(timestamp_ns))
    }

    /// Age eviction with the configured window: drops accesses older than `now_ns - window_ns`.
    pub fn evict_expired(&mut self, now_ns: i64) -> Vec<Uuid> {
        self.evict_older_than(now_ns.saturating_sub(self.config.window_ns))
    }

    /// Drops every retained access and span of `trace_id` (before its re-analysed accesses are
    /// fed again, so that its findings are recomputed from the new facts) and returns the ids of
    /// the accesses dropped.
    pub fn forget_trace(&mut self, trace_id: Uuid) -> Vec<Uuid> {
        self.drop_everywhere(|variable| variable.forget_trace(trace_id))
    }

    /// Number of accesses and spans retained over all variables.
    pub fn retained_len(&self) -> usize {
        self.retained
    }

    /// Accesses and spans evicted because a variable hit `max_accesses_per_variable`: each one
    /// may have cost findings, unlike domination and age eviction.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    /// How many observations took the fast path (everything retained happened before).
    pub fn fast_path_hits(&self) -> u64 {
        self.fast_path_hits
    }

    /// Write event ids of spans no longer retained (by capacity, age or trace), since the last
    /// call, so the runtime can release their records.
    pub fn take_evicted_spans(&mut self) -> Vec<Uuid> {
        std::mem::take(&mut self.evicted_spans)
    }
}

/// The data race rule of the module doc for two accesses, with `config`'s cross-trace slack.
pub fn is_data_race(a: &Access, b: &Access, config: &RaceConfig) -> bool {
    a.environment == b.environment && a.variable == b.variable && {
        let (mut names, mut pieces) = (ComponentIds::default(), SharedPieces::default());
        races(
            &Retained::interned(a.clone(), &mut names, &mut pieces),
            &Retained::interned(b.clone(), &mut names, &mut pieces),
            config.cross_trace_slack_ns,
        )
    }
}

/// True when a lock held by both accesses keeps them apart (the lock-mode rule of the module
/// doc): at least one side holds it exclusively, or both hold it shared and neither writes.
pub fn common_lock_protects(a: &Access, b: &Access) -> bool {
    locks_protect((&a.locks, a.access_type), (&b.locks, b.access_type))
}

/// [`common_lock_protects`] on (lock set, access type) pairs.
pub(crate) fn locks_protect(
    (a_locks, a_type): (&[HeldLock], AccessType),
    (b_locks, b_type): (&[HeldLock], AccessType),
) -> bool {
    let neither_writes = !a_type.is_write() && !b_type.is_write();
    a_locks.iter().any(|mine| {
        b_locks.iter().any(|theirs| {
            mine.lock_id == theirs.lock_id
                && (mine.mode == LockMode::Exclusive
                    || theirs.mode == LockMode::Exclusive
                    || neither_writes)
        })
    })
}

/// True when the traces of `a` and `b` overlap in time, widened by `slack_ns`.
pub fn trace_spans_overlap(a: &Access, b: &Access, slack_ns: i64) -> bool {
    spans_overlap(
        (a.trace_start_ns, a.trace_end_ns),
        (b.trace_start_ns, b.trace_end_ns),
        slack_ns,
    )
}

/// [`trace_spans_overlap`] on (start, end) pairs.
pub(crate) fn spans_overlap(
    (a_start, a_end): (i64, i64),
    (b_start, b_end): (i64, i64),
    slack_ns: i64,
) -> bool {
    a_start <= b_end.saturating_add(slack_ns) && b_start <= a_end.saturating_add(slack_ns)
}

/// The data race rule on normalised accesses of the same variable; cheap tests first.
fn races(a: &Retained, b: &Retained, slack_ns: i64) -> bool {
    let (x, y) = (&a.access, &b.access);
    x.event_id != y.event_id
        && (x.access_type.is_write() || y.access_type.is_write())
        && !(x.access_type.is_atomic() && y.access_type.is_atomic())
        && x.actor != y.actor
        && (x.trace_id == y.trace_id
            || spans_overlap(
                (x.trace_start_ns, x.trace_end_ns),
                (y.trace_start_ns, y.trace_end_ns),
                slack_ns,
            ))
        && !locks_protect((&x.locks, x.access_type), (&y.locks, y.access_type))
        && a.clock.concurrent_with(&b.clock)
}

#[cfg(test)]
mod tests;

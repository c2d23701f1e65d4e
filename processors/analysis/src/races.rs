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

use std::collections::HashMap;
use std::sync::Arc;

use raceway_schemas::{Access, FindingKind, LockMode};
use uuid::Uuid;

use crate::retention::{Retained, VariableAccesses};

/// Settings of the race detector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaceConfig {
    /// Accesses kept per variable; beyond that the oldest are evicted (and counted).
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
        }
    }
}

/// What observing one access produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    /// Pairs the new access forms with retained accesses, oldest partner first.
    pub pairs: Vec<RacePair>,
    /// Event ids no longer retained after this step (dominated, evicted, or the new access itself
    /// when it was not kept), so the runtime knows which input records it no longer needs.
    pub evicted: Vec<Uuid>,
}

/// Finds data races per variable over accesses arriving in any order.
#[derive(Debug, Default)]
pub struct RaceDetector {
    config: RaceConfig,
    /// (environment, variable) -> retained accesses.
    variables: HashMap<(String, String), VariableAccesses>,
    retained: usize,
    evictions: u64,
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

    /// Compares `access` with the retained accesses of its variable and retains it. An access
    /// whose event id is already retained is a redelivery and is ignored.
    pub fn observe(&mut self, access: Access) -> Observation {
        let key = (access.environment.clone(), access.variable.clone());
        let variable = self.variables.entry(key.clone()).or_default();
        if variable.contains(access.event_id) {
            return Observation::default();
        }
        let new = Retained::new(access);
        let slack = self.config.cross_trace_slack_ns;
        let pairs = variable
            .iter()
            .filter(|kept| races(kept, &new, slack))
            .map(|kept| {
                RacePair::new(
                    Arc::clone(&kept.access),
                    Arc::clone(&new.access),
                    FindingKind::DataRace,
                )
            })
            .collect();

        let before = variable.len();
        let too_old = self
            .evicted_before_ns
            .is_some_and(|cut| new.access.timestamp_ns < cut);
        let evicted = if too_old {
            vec![new.access.event_id]
        } else {
            let outcome = variable.insert(new, self.config.max_accesses_per_variable);
            self.evictions += outcome.capacity_evictions;
            outcome.removed
        };
        let after = variable.len();
        if variable.is_empty() {
            self.variables.remove(&key);
        }
        self.retained = self.retained + after - before;
        Observation { pairs, evicted }
    }

    /// Drops every retained access with a timestamp before `timestamp_ns` and returns their ids.
    /// Later arrivals older than the cut are still compared but no longer kept.
    pub fn evict_older_than(&mut self, timestamp_ns: i64) -> Vec<Uuid> {
        self.evicted_before_ns = Some(
            self.evicted_before_ns
                .map_or(timestamp_ns, |cut| cut.max(timestamp_ns)),
        );
        let mut gone = Vec::new();
        self.variables.retain(|_, variable| {
            gone.extend(variable.evict_older_than(timestamp_ns));
            !variable.is_empty()
        });
        self.retained -= gone.len();
        gone
    }

    /// Age eviction with the configured window: drops accesses older than `now_ns - window_ns`.
    pub fn evict_expired(&mut self, now_ns: i64) -> Vec<Uuid> {
        self.evict_older_than(now_ns.saturating_sub(self.config.window_ns))
    }

    /// Number of accesses retained over all variables.
    pub fn retained_len(&self) -> usize {
        self.retained
    }

    /// Accesses evicted because a variable hit `max_accesses_per_variable`: each one may have
    /// cost findings, unlike domination and age eviction.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }
}

/// The data race rule of the module doc for two accesses, with `config`'s cross-trace slack.
pub fn is_data_race(a: &Access, b: &Access, config: &RaceConfig) -> bool {
    a.environment == b.environment
        && a.variable == b.variable
        && races(
            &Retained::new(a.clone()),
            &Retained::new(b.clone()),
            config.cross_trace_slack_ns,
        )
}

/// True when a lock held by both accesses keeps them apart (the lock-mode rule of the module
/// doc): at least one side holds it exclusively, or both hold it shared and neither writes.
pub fn common_lock_protects(a: &Access, b: &Access) -> bool {
    let neither_writes = !a.access_type.is_write() && !b.access_type.is_write();
    a.locks.iter().any(|mine| {
        b.locks.iter().any(|theirs| {
            mine.lock_id == theirs.lock_id
                && (mine.mode == LockMode::Exclusive
                    || theirs.mode == LockMode::Exclusive
                    || neither_writes)
        })
    })
}

/// True when the traces of `a` and `b` overlap in time, widened by `slack_ns`.
pub fn trace_spans_overlap(a: &Access, b: &Access, slack_ns: i64) -> bool {
    a.trace_start_ns <= b.trace_end_ns.saturating_add(slack_ns)
        && b.trace_start_ns <= a.trace_end_ns.saturating_add(slack_ns)
}

/// The data race rule on normalised accesses of the same variable; cheap tests first.
fn races(a: &Retained, b: &Retained, slack_ns: i64) -> bool {
    let (x, y) = (&*a.access, &*b.access);
    x.event_id != y.event_id
        && (x.access_type.is_write() || y.access_type.is_write())
        && !(x.access_type.is_atomic() && y.access_type.is_atomic())
        && x.actor != y.actor
        && (x.trace_id == y.trace_id || trace_spans_overlap(x, y, slack_ns))
        && !common_lock_protects(x, y)
        && a.clock.concurrent_with(&b.clock)
}

#[cfg(test)]
mod tests;

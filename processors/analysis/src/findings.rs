//! Deduplicated findings from race pairs and lock-order inversions (DESIGN.md "Race semantics",
//! last points).
//!
//! One finding per (kind, environment, variable, sorted location pair, sorted trace-id pair). Its
//! id is a UUID v5 of that key, so the same bug found again (on replay, by another process, after
//! re-analysing a trace) has the same id and the store replaces the previous row. Everything in
//! the finding is independent of the order pairs arrive in: the count is the number of distinct
//! event pairs, the representative pair the smallest by (first timestamp, first event id, second
//! event id), the severity the highest seen.
//!
//! Severity: a data race is critical when both sides write, a warning otherwise; a lost update
//! is critical (data is overwritten); a lock-order inversion is a warning (a deadlock that did
//! not happen in this run).
//!
//! Variables: an access's variable for data races and lost updates; `"A <-> B"` (sorted lock
//! ids) for lock-order inversions. Locations: the two accesses' (for a lost update: the
//! read-modify-write's write and the other write), or the two inner lock acquisitions.
//!
//! Distinct pairs are remembered as 64-bit hashes, at most `max_pairs_per_finding` per finding so
//! memory stays bounded for a hot race; past the cap a pair not remembered is counted as new, so a
//! redelivered pair can then be counted twice (rare: redeliveries follow rebalances).
//!
//! The id of a race pair's finding is remembered by its key's parts (the shared names of the
//! pair's accesses), at most [`MAX_REMEMBERED_IDS`] of them: a race is usually found as many
//! pairs, and deriving the id (the key written out as text, then SHA-1) cost several times the
//! rest of recording a pair. The id is a function of the key alone, so a remembered id is the id
//! `finding_id` derives; forgetting them all when the memo is full only costs the derivation again.

mod explain;
pub mod impact;

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use raceway_schemas::{
    Access, ActorId, FindingEvent, FindingKind, LockAcquisition, RaceFinding, Severity,
};
use uuid::Uuid;

pub use explain::{explain, explain_inversion};

use crate::lock_order::LockCycle;
use crate::pairs::RacePair;

/// Namespace of finding ids (UUID v5). Never change it: ids stored by earlier versions would no
/// longer match.
pub const FINDING_NAMESPACE: Uuid = Uuid::from_u128(0x9231_9398_0f56_4bca_bd87_107d_279d_3513);

/// Default for [`FindingAggregator::new`]'s `max_pairs_per_finding`.
pub const DEFAULT_MAX_PAIRS_PER_FINDING: usize = 65_536;

/// How many race findings' ids the aggregator remembers by their keys' parts (see the module
/// doc); the memo is emptied when it reaches this many, so its memory stays bounded.
pub const MAX_REMEMBERED_IDS: usize = 65_536;

/// Representative order: (first timestamp, first event id, second event id, tie-breaker). The
/// tie-breaker is the read of a lost update: the same two writes can be found through either
/// writer's read-modify-write, and the representative must not depend on which came first.
type Rank = (i64, Uuid, Uuid, Uuid);

#[derive(Debug)]
struct Tracked {
    finding: RaceFinding,
    representative: Rank,
    seen_pairs: HashSet<u64>,
    traces: [Uuid; 2],
}

/// What the aggregator needs of any kind of pair.
struct Candidate {
    id: Uuid,
    rank: Rank,
    hash: u64,
    severity: Severity,
    traces: [Uuid; 2],
}

/// The parts of a race pair's finding key ([`finding_id`]), locations and traces sorted, the
/// names shared with the pair's accesses: hashing and comparing these is much cheaper than
/// deriving the id.
#[derive(Debug, PartialEq, Eq, Hash)]
struct PairKey {
    kind: FindingKind,
    environment: Arc<str>,
    variable: Arc<str>,
    locations: [Arc<str>; 2],
    traces: [Uuid; 2],
}

impl PairKey {
    fn of(pair: &RacePair) -> Self {
        let (a, b) = (&*pair.first, &*pair.second);
        let mut locations = [Arc::clone(&a.location), Arc::clone(&b.location)];
        locations.sort_unstable();
        let mut traces = [a.trace_id, b.trace_id];
        traces.sort_unstable();
        PairKey {
            kind: pair.kind,
            environment: Arc::clone(&a.environment),
            variable: Arc::clone(&a.variable),
            locations,
            traces,
        }
    }
}

/// Turns race pairs and inversions into deduplicated [`RaceFinding`]s.
#[derive(Debug)]
pub struct FindingAggregator {
    findings: HashMap<Uuid, Tracked>,
    max_pairs_per_finding: usize,
    /// Race findings' ids by their keys' parts (see the module doc).
    ids: foldhash::HashMap<PairKey, Uuid>,
}

impl Default for FindingAggregator {
    fn default() -> Self {
        FindingAggregator::new(DEFAULT_MAX_PAIRS_PER_FINDING)
    }
}

impl FindingAggregator {
    /// An aggregator remembering at most `max_pairs_per_finding` distinct pairs per finding.
    pub fn new(max_pairs_per_finding: usize) -> Self {
        FindingAggregator {
            findings: HashMap::new(),
            max_pairs_per_finding,
            ids: foldhash::HashMap::default(),
        }
    }

    /// [`finding_id`] of `pair`, remembered by its key's parts.
    fn pair_finding_id(&mut self, pair: &RacePair) -> Uuid {
        let key = PairKey::of(pair);
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        if self.ids.len() >= MAX_REMEMBERED_IDS {
            self.ids.clear();
        }
        let id = finding_id(pair);
        self.ids.insert(key, id);
        id
    }

    /// Adds a data race or lost-update `pair`. Returns the finding's id when the finding is new
    /// or its count, representative or severity changed (stamped `detected_at_ns`; [`get`]
    /// gives its current version); `None` when nothing changed (e.g. a redelivered pair). No
    /// copy of the finding is made: a caller that writes the changed findings once per batch
    /// (the race stage) collects the ids and copies each finding once, where a race found as
    /// thousands of pairs changes its finding at almost every pair.
    ///
    /// [`get`]: FindingAggregator::get
    pub fn add(&mut self, pair: &RacePair, detected_at_ns: i64) -> Option<Uuid> {
        let (first, second) = (&*pair.first, &*pair.second);
        let candidate = Candidate {
            id: self.pair_finding_id(pair),
            rank: (
                first.timestamp_ns,
                first.event_id,
                second.event_id,
                pair.update
                    .as_ref()
                    .map_or(Uuid::nil(), |update| update.read.event_id),
            ),
            hash: pair_hash(first.event_id, second.event_id),
            severity: severity(pair),
            traces: [first.trace_id, second.trace_id],
        };
        self.add_candidate(candidate, detected_at_ns, |id, count, severity| {
            RaceFinding {
                id: id.to_string(),
                kind: pair.kind,
                environment: first.environment.to_string(),
                variable: first.variable.to_string(),
                severity,
                count,
                explanation: explain(pair),
                first: access_event(first),
                second: access_event(second),
                detected_at_ns,
            }
        })
    }

    /// [`FindingAggregator::add`], returning a copy of the finding when it changed.
    pub fn record(&mut self, pair: &RacePair, detected_at_ns: i64) -> Option<RaceFinding> {
        let id = self.add(pair, detected_at_ns)?;
        self.get(id).cloned()
    }

    /// Adds a lock-order inversion (a cycle of two locks or more), like
    /// [`FindingAggregator::add`].
    pub fn add_inversion(&mut self, cycle: &LockCycle, detected_at_ns: i64) -> Option<Uuid> {
        let (first, second) = (cycle.first(), cycle.second());
        let candidate = Candidate {
            id: inversion_id(cycle),
            rank: (
                first.acquired.timestamp_ns,
                first.acquired.event_id,
                second.acquired.event_id,
                Uuid::nil(),
            ),
            hash: pair_hash(first.acquired.event_id, second.acquired.event_id),
            severity: Severity::Warning,
            traces: [first.trace_id, second.trace_id],
        };
        self.add_candidate(candidate, detected_at_ns, |id, count, severity| {
            RaceFinding {
                id: id.to_string(),
                kind: FindingKind::LockOrderInversion,
                environment: first.environment.clone(),
                variable: cycle.variable(),
                severity,
                count,
                explanation: explain_inversion(cycle),
                first: acquisition_event(first.trace_id, &first.actor, &first.acquired),
                second: acquisition_event(second.trace_id, &second.actor, &second.acquired),
                detected_at_ns,
            }
        })
    }

    /// [`FindingAggregator::add_inversion`], returning a copy of the finding when it changed.
    pub fn record_inversion(
        &mut self,
        cycle: &LockCycle,
        detected_at_ns: i64,
    ) -> Option<RaceFinding> {
        let id = self.add_inversion(cycle, detected_at_ns)?;
        self.get(id).cloned()
    }

    /// Adds `candidate` to its finding, building the finding only when it is new or its
    /// representative changed: the id when anything changed.
    fn add_candidate(
        &mut self,
        candidate: Candidate,
        detected_at_ns: i64,
        build: impl FnOnce(Uuid, u64, Severity) -> RaceFinding,
    ) -> Option<Uuid> {
        let Candidate {
            id,
            rank,
            hash,
            severity,
            traces,
        } = candidate;
        let max_pairs = self.max_pairs_per_finding;
        let Some(tracked) = self.findings.get_mut(&id) else {
            let mut seen_pairs = HashSet::new();
            if max_pairs > 0 {
                seen_pairs.insert(hash);
            }
            self.findings.insert(
                id,
                Tracked {
                    finding: build(id, 1, severity),
                    representative: rank,
                    seen_pairs,
                    traces,
                },
            );
            return Some(id);
        };
        if tracked.seen_pairs.contains(&hash) {
            // The same pair again; it may still be a better representative (see `Rank`).
            if rank < tracked.representative {
                tracked.representative = rank;
                let (count, severity) = (tracked.finding.count, tracked.finding.severity);
                tracked.finding = build(id, count, severity);
                return Some(id);
            }
            return None;
        }
        if tracked.seen_pairs.len() < max_pairs {
            tracked.seen_pairs.insert(hash);
        }
        let count = tracked.finding.count + 1;
        let severity = tracked.finding.severity.max(severity);
        if rank < tracked.representative {
            tracked.representative = rank;
            tracked.finding = build(id, count, severity);
        } else {
            tracked.finding.count = count;
            tracked.finding.severity = severity;
            tracked.finding.detected_at_ns = detected_at_ns;
        }
        Some(id)
    }

    /// Removes every finding involving `trace_id` and returns their ids: re-analysing a trace
    /// replaces its findings, so the runtime calls this (with the detectors' `forget_trace`)
    /// before feeding the trace's new accesses, spans and edges, then deletes or supersedes the
    /// returned ids that the new analysis does not report again (ids are deterministic, so the
    /// ones it does report come back with the same id).
    pub fn forget_trace(&mut self, trace_id: Uuid) -> Vec<String> {
        let mut gone: Vec<String> = Vec::new();
        self.findings.retain(|_, tracked| {
            let involved = tracked.traces.contains(&trace_id);
            if involved {
                gone.push(tracked.finding.id.clone());
            }
            !involved
        });
        gone.sort();
        gone
    }

    /// The current version of every finding, in no particular order.
    pub fn findings(&self) -> impl Iterator<Item = &RaceFinding> {
        self.findings.values().map(|tracked| &tracked.finding)
    }

    /// The current version of the finding with this id.
    pub fn get(&self, id: Uuid) -> Option<&RaceFinding> {
        self.findings.get(&id).map(|tracked| &tracked.finding)
    }

    /// Number of findings.
    pub fn len(&self) -> usize {
        self.findings.len()
    }

    /// True when no finding was recorded.
    pub fn is_empty(&self) -> bool {
        self.findings.is_empty()
    }
}

/// The deterministic id of the finding `pair` belongs to: UUID v5 in [`FINDING_NAMESPACE`] of
/// (kind, environment, variable, sorted locations, sorted trace ids). Each part is length-prefixed
/// so that no two keys encode alike.
pub fn finding_id(pair: &RacePair) -> Uuid {
    let (a, b) = (&*pair.first, &*pair.second);
    key_id(
        pair.kind,
        &a.environment,
        &a.variable,
        [&a.location, &b.location],
        [a.trace_id, b.trace_id],
    )
}

/// The deterministic id of the finding an inversion belongs to, built like [`finding_id`] with
/// the cycle's variable (`"A <-> B"`, `"A -> B -> C -> A"`). Two locks: the inner acquisitions'
/// locations and traces; longer cycles: every inner acquisition's location, and the smallest and
/// largest trace.
pub fn inversion_id(cycle: &LockCycle) -> Uuid {
    let (a, b) = (cycle.first(), cycle.second());
    if cycle.edges.len() == 2 {
        return key_id(
            FindingKind::LockOrderInversion,
            &a.environment,
            &cycle.variable(),
            [&a.acquired.location, &b.acquired.location],
            [a.trace_id, b.trace_id],
        );
    }
    let mut locations: Vec<&str> = cycle
        .edges
        .iter()
        .map(|e| e.acquired.location.as_str())
        .collect();
    locations.sort_unstable();
    let traces = cycle.edges.iter().map(|e| e.trace_id);
    let (low, high) = (traces.clone().min(), traces.max());
    key_id(
        FindingKind::LockOrderInversion,
        &a.environment,
        &cycle.variable(),
        [&locations.join(" "), ""],
        [low.unwrap_or(a.trace_id), high.unwrap_or(a.trace_id)],
    )
}

fn key_id(
    kind: FindingKind,
    environment: &str,
    variable: &str,
    mut locations: [&str; 2],
    mut traces: [Uuid; 2],
) -> Uuid {
    locations.sort_unstable();
    traces.sort_unstable();
    let (trace_a, trace_b) = (traces[0].to_string(), traces[1].to_string());
    let parts = [
        kind.as_str(),
        environment,
        variable,
        locations[0],
        locations[1],
        trace_a.as_str(),
        trace_b.as_str(),
    ];
    let mut key = String::new();
    for part in parts {
        key.push_str(&part.len().to_string());
        key.push(':');
        key.push_str(part);
    }
    Uuid::new_v5(&FINDING_NAMESPACE, key.as_bytes())
}

/// Severity of a race pair (see the module doc).
pub fn severity(pair: &RacePair) -> Severity {
    let both_write = pair.first.access_type.is_write() && pair.second.access_type.is_write();
    if pair.kind == FindingKind::LostUpdate || both_write {
        Severity::Critical
    } else {
        Severity::Warning
    }
}

fn pair_hash(first: Uuid, second: Uuid) -> u64 {
    // DefaultHasher::new() uses fixed keys: the same pair hashes alike for the process lifetime.
    let mut hasher = DefaultHasher::new();
    (first, second).hash(&mut hasher);
    hasher.finish()
}

fn access_event(access: &Access) -> FindingEvent {
    FindingEvent {
        event_id: access.event_id.to_string(),
        trace_id: access.trace_id.to_string(),
        thread_id: access.actor.thread.clone(),
        service: access.actor.service.clone(),
        instance: access.actor.instance.clone(),
        location: access.location.to_string(),
        access_type: access.access_type.as_str().to_string(),
        timestamp_ns: access.timestamp_ns,
        clock: access.clock.to_pairs(),
        old_value: None,
        new_value: None,
    }
    .with_values_of(access)
}

fn acquisition_event(trace_id: Uuid, actor: &ActorId, acquired: &LockAcquisition) -> FindingEvent {
    FindingEvent {
        event_id: acquired.event_id.to_string(),
        trace_id: trace_id.to_string(),
        thread_id: actor.thread.clone(),
        service: actor.service.clone(),
        instance: actor.instance.clone(),
        location: acquired.location.clone(),
        access_type: "LockAcquire".to_string(),
        timestamp_ns: acquired.timestamp_ns,
        clock: acquired.clock.clone(),
        old_value: None,
        new_value: None,
    }
}

#[cfg(test)]
mod tests;

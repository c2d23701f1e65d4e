//! Deduplicated findings from race pairs (DESIGN.md "Race semantics", last points).
//!
//! One finding per (kind, environment, variable, sorted location pair, sorted trace-id pair). Its
//! id is a UUID v5 of that key, so the same bug found again (on replay, by another process) has
//! the same id and the store deduplicates it. Everything in the finding is independent of the
//! order pairs arrive in: the count is the number of distinct event pairs, the representative
//! pair the smallest by (first timestamp, first event id, second event id), the severity the
//! highest seen (write-write is critical, read-write a warning).
//!
//! Distinct pairs are remembered as 64-bit hashes, at most `max_pairs_per_finding` per finding so
//! memory stays bounded for a hot race; past the cap a pair not remembered is counted as new, so a
//! redelivered pair can then be counted twice (rare: redeliveries follow rebalances).

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use raceway_schemas::{Access, AccessType, FindingEvent, FindingKind, RaceFinding, Severity};
use uuid::Uuid;

use crate::races::RacePair;

/// Namespace of finding ids (UUID v5). Never change it: ids stored by earlier versions would no
/// longer match.
pub const FINDING_NAMESPACE: Uuid = Uuid::from_u128(0x9231_9398_0f56_4bca_bd87_107d_279d_3513);

/// Default for [`FindingAggregator::new`]'s `max_pairs_per_finding`.
pub const DEFAULT_MAX_PAIRS_PER_FINDING: usize = 65_536;

/// Representative order: (first timestamp, first event id, second event id).
type Rank = (i64, Uuid, Uuid);

#[derive(Debug)]
struct Tracked {
    finding: RaceFinding,
    representative: Rank,
    seen_pairs: HashSet<u64>,
}

/// Turns race pairs into deduplicated [`RaceFinding`]s.
#[derive(Debug)]
pub struct FindingAggregator {
    findings: HashMap<Uuid, Tracked>,
    max_pairs_per_finding: usize,
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
        }
    }

    /// Adds `pair`. Returns the finding, stamped `detected_at_ns`, when it is new or its count,
    /// representative or severity changed; `None` when nothing changed (e.g. a redelivered pair).
    pub fn record(&mut self, pair: &RacePair, detected_at_ns: i64) -> Option<RaceFinding> {
        let id = finding_id(pair);
        let rank = rank(pair);
        let hash = pair_hash(pair);
        let max_pairs = self.max_pairs_per_finding;
        let Some(tracked) = self.findings.get_mut(&id) else {
            let finding = build(id, pair, 1, severity(pair), detected_at_ns);
            let mut seen_pairs = HashSet::new();
            if max_pairs > 0 {
                seen_pairs.insert(hash);
            }
            self.findings.insert(
                id,
                Tracked {
                    finding: finding.clone(),
                    representative: rank,
                    seen_pairs,
                },
            );
            return Some(finding);
        };
        if tracked.seen_pairs.contains(&hash) {
            return None;
        }
        if tracked.seen_pairs.len() < max_pairs {
            tracked.seen_pairs.insert(hash);
        }
        let count = tracked.finding.count + 1;
        let severity = tracked.finding.severity.max(severity(pair));
        if rank < tracked.representative {
            tracked.representative = rank;
            tracked.finding = build(id, pair, count, severity, detected_at_ns);
        } else {
            tracked.finding.count = count;
            tracked.finding.severity = severity;
            tracked.finding.detected_at_ns = detected_at_ns;
        }
        Some(tracked.finding.clone())
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
    let mut locations = [a.location.as_str(), b.location.as_str()];
    locations.sort_unstable();
    let mut traces = [a.trace_id, b.trace_id];
    traces.sort_unstable();
    let (trace_a, trace_b) = (traces[0].to_string(), traces[1].to_string());
    let parts = [
        pair.kind.as_str(),
        a.environment.as_str(),
        a.variable.as_str(),
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

/// Critical when both sides write (atomically or not), a warning otherwise.
pub fn severity(pair: &RacePair) -> Severity {
    if pair.first.access_type.is_write() && pair.second.access_type.is_write() {
        Severity::Critical
    } else {
        Severity::Warning
    }
}

/// The one-line explanation of a pair, e.g. "worker-2 wrote balance at balance.rs:45 while
/// worker-1's write at balance.rs:12 was not ordered before it; no common lock".
pub fn explain(pair: &RacePair) -> String {
    let (first, second) = (&*pair.first, &*pair.second);
    // Thread names read best; when both actors share one (two services' "main"), say more.
    let (first_name, second_name) = if first.actor.thread == second.actor.thread {
        (first.actor.to_string(), second.actor.to_string())
    } else {
        (first.actor.thread.clone(), second.actor.thread.clone())
    };
    let elsewhere = if first.trace_id == second.trace_id {
        ""
    } else {
        " in another trace"
    };
    let summary = format!(
        "{second_name} {} {} at {} while {first_name}'s {} at {}{elsewhere}",
        verb(second.access_type),
        second.variable,
        second.location,
        noun(first.access_type),
        first.location,
    );
    match pair.kind {
        FindingKind::DataRace => {
            format!(
                "{summary} was not ordered before it; {}",
                lock_clause(first, second)
            )
        }
        other => format!("{}: {summary}", other.as_str()),
    }
}

fn lock_clause(first: &Access, second: &Access) -> String {
    let mut common: Vec<&str> = first
        .locks
        .iter()
        .filter(|mine| {
            second
                .locks
                .iter()
                .any(|theirs| theirs.lock_id == mine.lock_id)
        })
        .map(|lock| lock.lock_id.as_str())
        .collect();
    common.sort_unstable();
    common.dedup();
    if common.is_empty() {
        "no common lock".to_string()
    } else {
        format!("both held {} only in shared mode", common.join(", "))
    }
}

fn verb(access_type: AccessType) -> &'static str {
    match access_type {
        AccessType::Read => "read",
        AccessType::Write => "wrote",
        AccessType::AtomicRead => "atomically read",
        AccessType::AtomicWrite => "atomically wrote",
        AccessType::AtomicRMW => "atomically updated",
    }
}

fn noun(access_type: AccessType) -> &'static str {
    match access_type {
        AccessType::Read => "read",
        AccessType::Write => "write",
        AccessType::AtomicRead => "atomic read",
        AccessType::AtomicWrite => "atomic write",
        AccessType::AtomicRMW => "atomic update",
    }
}

fn rank(pair: &RacePair) -> Rank {
    (
        pair.first.timestamp_ns,
        pair.first.event_id,
        pair.second.event_id,
    )
}

fn pair_hash(pair: &RacePair) -> u64 {
    // DefaultHasher::new() uses fixed keys: the same pair hashes alike for the process lifetime.
    let mut hasher = DefaultHasher::new();
    (pair.first.event_id, pair.second.event_id).hash(&mut hasher);
    hasher.finish()
}

fn build(
    id: Uuid,
    pair: &RacePair,
    count: u64,
    severity: Severity,
    detected_at_ns: i64,
) -> RaceFinding {
    RaceFinding {
        id: id.to_string(),
        kind: pair.kind,
        environment: pair.first.environment.clone(),
        variable: pair.first.variable.clone(),
        severity,
        count,
        explanation: explain(pair),
        first: finding_event(&pair.first),
        second: finding_event(&pair.second),
        detected_at_ns,
    }
}

fn finding_event(access: &Access) -> FindingEvent {
    FindingEvent {
        event_id: access.event_id.to_string(),
        trace_id: access.trace_id.to_string(),
        thread_id: access.actor.thread.clone(),
        service: access.actor.service.clone(),
        instance: access.actor.instance.clone(),
        location: access.location.clone(),
        access_type: access.access_type.as_str().to_string(),
        timestamp_ns: access.timestamp_ns,
        clock: access.clock.clone(),
    }
}

#[cfg(test)]
mod tests;

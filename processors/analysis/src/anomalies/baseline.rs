//! Duration anomalies: steps slower than usual for their (service, kind, location).
//!
//! # Rules
//!
//! - **Sample**: a step's duration is the SDK's `duration_ns` when measured, else its self time
//!   in the tree (the time until its actor moved on), because a derived inclusive duration
//!   under chained parent links is the rest of the actor's work, not this step's.
//! - **Baseline** per (service, kind, location): a [`Reservoir`] of recent samples (bounded; its
//!   median is the expected duration, its MAD the spread). One trace adds at most
//!   `max_samples_per_trace` samples per key (evenly spread over its steps), so a trace that
//!   repeats one step thousands of times cannot flush a baseline on its own.
//! - **Judge before learning**: [`DurationBaselines::judge`] compares a trace with baselines
//!   that do not contain it; [`DurationBaselines::update`] learns from it afterwards, once per
//!   trace id. When a re-analysed trace was already learned, judging it recomputes the
//!   statistics without its samples.
//! - **Deviations** = (actual - median) / scale, scale = max(1.4826 x MAD, `relative_floor` x
//!   median, `absolute_floor_ns`): the floors keep jitter of a very steady step from counting
//!   as many deviations. Only slower than expected counts; a key needs `min_samples` first.
//! - **Severity**: minor from 2, warning from 3, critical above 5 deviations.
//! - **Report**: one anomaly per key and trace, naming its slowest step, with how many of the
//!   trace's steps under that key deviated by at least the minor threshold.
//! - **Bounded keys**: past `max_keys`, the tenth of the keys updated longest ago (by trace time)
//!   are forgotten.

use std::collections::{HashMap, HashSet, VecDeque};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use super::baseline_config::{AnomalySeverity, BaselineConfig};
use super::reservoir::{Reservoir, RobustStats, MAD_TO_SIGMA};
use crate::trace::{TraceTree, TreeNode};

/// Namespace of the deterministic ids of [`DurationAnomaly`] rows.
pub const ANOMALY_NAMESPACE: Uuid = Uuid::from_u128(0xa70a_1e55_0d0e_4b5e_8f1a_6c2d_3b4e_2000);

/// What a baseline is kept for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BaselineKey {
    /// The service.
    pub service: String,
    /// The event kind's name.
    pub kind: String,
    /// See [`crate::trace::event_location`].
    pub location: String,
}

impl BaselineKey {
    fn composite(service: &str, kind: &str, location: &str) -> String {
        // Unit separators cannot appear in the parts' normal text, so keys never collide.
        format!("{service}\u{1f}{kind}\u{1f}{location}")
    }
}

/// A step slower than its baseline: one row per (trace, key), deterministic id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DurationAnomaly {
    /// Deterministic: (trace, key) under [`ANOMALY_NAMESPACE`].
    pub id: Uuid,
    /// The trace.
    pub trace_id: Uuid,
    /// The slowest deviating step.
    pub event_id: Uuid,
    /// The baseline's key.
    pub key: BaselineKey,
    /// The step's duration.
    pub actual_ns: u64,
    /// The baseline's median.
    pub expected_ns: u64,
    /// How many scales slower than expected.
    pub deviations: f64,
    /// Grade of `deviations`.
    pub severity: AnomalySeverity,
    /// Samples the baseline stands for.
    pub baseline_samples: u64,
    /// Steps of the trace under this key at or above the minor threshold.
    pub flagged_steps: u32,
}

/// One key's baseline as a checkpoint row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineRow {
    /// The key.
    pub key: BaselineKey,
    /// Its samples.
    pub reservoir: Reservoir,
    /// End of the last trace that updated it, ns since the epoch.
    pub last_trace_ns: i64,
}

/// Everything [`DurationBaselines`] needs to continue after a restart.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BaselineCheckpoint {
    /// The configuration.
    pub config: BaselineConfig,
    /// One row per key, sorted by key.
    pub rows: Vec<BaselineRow>,
    /// Recently learned traces, oldest first.
    pub recent_traces: Vec<Uuid>,
}

struct Entry {
    key: BaselineKey,
    reservoir: Reservoir,
    last_trace_ns: i64,
}

/// Streaming duration baselines for every (service, kind, location).
pub struct DurationBaselines {
    config: BaselineConfig,
    entries: HashMap<String, Entry>,
    recent: VecDeque<Uuid>,
    recent_set: HashSet<Uuid>,
}

/// The steps of one trace under one key: (node index, sample ns), in tree order.
type Group<'t> = ((&'t str, &'t str, &'t str), Vec<(usize, u64)>);

impl DurationBaselines {
    /// Empty baselines.
    pub fn new(config: BaselineConfig) -> Self {
        DurationBaselines {
            config,
            entries: HashMap::new(),
            recent: VecDeque::new(),
            recent_set: HashSet::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &BaselineConfig {
        &self.config
    }

    /// Number of keys with a baseline.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no key has a baseline.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The baseline of `key`, if any.
    pub fn stats(&self, key: &BaselineKey) -> Option<RobustStats> {
        let composite = BaselineKey::composite(&key.service, &key.kind, &key.location);
        self.entries.get(&composite).map(|e| e.reservoir.stats())
    }

    /// Judges the steps of `tree` against baselines that exclude this trace (module doc).
    /// Anomalies come sorted by deviations, largest first.
    pub fn judge(&self, tree: &TraceTree) -> Vec<DurationAnomaly> {
        self.judge_groups(tree, &groups(tree))
    }

    fn judge_groups(&self, tree: &TraceTree, groups: &[Group<'_>]) -> Vec<DurationAnomaly> {
        let learned = self.recent_set.contains(&tree.trace_id);
        let mut anomalies = Vec::new();
        for ((service, kind, location), steps) in groups {
            let composite = BaselineKey::composite(service, kind, location);
            let Some(entry) = self.entries.get(&composite) else {
                continue;
            };
            let stats = if learned {
                entry.reservoir.stats_excluding(trace_tag(tree.trace_id))
            } else {
                Some(entry.reservoir.stats())
            };
            let Some(stats) = stats.filter(|s| s.samples >= self.config.min_samples) else {
                continue;
            };
            if let Some(anomaly) = self.judge_key(tree, &entry.key, stats, steps) {
                anomalies.push(anomaly);
            }
        }
        anomalies.sort_by(|a, b| {
            b.deviations
                .total_cmp(&a.deviations)
                .then(a.key.cmp(&b.key))
        });
        anomalies
    }

    fn judge_key(
        &self,
        tree: &TraceTree,
        key: &BaselineKey,
        stats: RobustStats,
        steps: &[(usize, u64)],
    ) -> Option<DurationAnomaly> {
        let config = &self.config;
        let scale = (MAD_TO_SIGMA * stats.mad)
            .max(config.relative_floor * stats.median)
            .max(config.absolute_floor_ns);
        let mut flagged = 0u32;
        let mut worst: Option<(f64, usize, u64)> = None;
        for &(node, sample) in steps {
            let deviations = (sample as f64 - stats.median) / scale;
            if deviations < config.minor_at {
                continue;
            }
            flagged = flagged.saturating_add(1);
            if worst.is_none_or(|(d, _, _)| deviations > d) {
                worst = Some((deviations, node, sample));
            }
        }
        let (deviations, node, actual_ns) = worst?;
        let severity = config.grade(deviations)?;
        let name = format!(
            "{}/{}",
            tree.trace_id,
            BaselineKey::composite(&key.service, &key.kind, &key.location)
        );
        Some(DurationAnomaly {
            id: Uuid::new_v5(&ANOMALY_NAMESPACE, name.as_bytes()),
            trace_id: tree.trace_id,
            event_id: tree.nodes[node].id,
            key: key.clone(),
            actual_ns,
            expected_ns: stats.median.max(0.0).round() as u64,
            deviations,
            severity,
            baseline_samples: stats.samples,
            flagged_steps: flagged,
        })
    }

    /// Learns the steps of `tree`; false (and nothing learned) when this trace id was learned
    /// already.
    pub fn update(&mut self, tree: &TraceTree) -> bool {
        self.update_groups(tree, &groups(tree))
    }

    fn update_groups(&mut self, tree: &TraceTree, groups: &[Group<'_>]) -> bool {
        if !self.recent_set.insert(tree.trace_id) {
            return false;
        }
        self.recent.push_back(tree.trace_id);
        while self.recent.len() > self.config.remembered_traces {
            if let Some(old) = self.recent.pop_front() {
                self.recent_set.remove(&old);
            }
        }
        let tag = trace_tag(tree.trace_id);
        let limit = self.config.max_samples_per_trace.max(1);
        for ((service, kind, location), steps) in groups {
            let composite = BaselineKey::composite(service, kind, location);
            let (capacity, seed) = (self.config.capacity, self.config.seed ^ fnv1a(&composite));
            let entry = self.entries.entry(composite).or_insert_with(|| Entry {
                key: BaselineKey {
                    service: service.to_string(),
                    kind: kind.to_string(),
                    location: location.to_string(),
                },
                reservoir: Reservoir::new(capacity, seed),
                last_trace_ns: tree.end_ns,
            });
            // Evenly spread picks when a trace repeats the step more often than allowed.
            let picks = steps.len().min(limit);
            for pick in 0..picks {
                let (_, sample) = steps[pick * steps.len() / picks];
                entry.reservoir.insert(sample as f64, tag);
            }
            entry.reservoir.refresh();
            entry.last_trace_ns = entry.last_trace_ns.max(tree.end_ns);
        }
        self.evict_stale_keys();
        true
    }

    /// [`DurationBaselines::judge`], then [`DurationBaselines::update`]: what the trace stage
    /// does at trace completion.
    pub fn judge_and_update(&mut self, tree: &TraceTree) -> Vec<DurationAnomaly> {
        let groups = groups(tree);
        let anomalies = self.judge_groups(tree, &groups);
        self.update_groups(tree, &groups);
        anomalies
    }

    fn evict_stale_keys(&mut self) {
        if self.entries.len() <= self.config.max_keys {
            return;
        }
        // Evicting a tenth at once keeps the sort's cost amortised over many new keys.
        let excess = self.entries.len() - self.config.max_keys;
        let count = excess
            .max(self.config.max_keys / 10)
            .min(self.entries.len());
        let mut by_age: Vec<(i64, &String)> = self
            .entries
            .iter()
            .map(|(composite, entry)| (entry.last_trace_ns, composite))
            .collect();
        by_age.sort();
        let stale: Vec<String> = by_age
            .into_iter()
            .take(count)
            .map(|(_, c)| c.clone())
            .collect();
        for composite in stale {
            self.entries.remove(&composite);
        }
    }

    /// The state to persist, one row per key, sorted by key.
    pub fn checkpoint(&self) -> BaselineCheckpoint {
        let mut rows: Vec<BaselineRow> = self
            .entries
            .values()
            .map(|entry| BaselineRow {
                key: entry.key.clone(),
                reservoir: entry.reservoir.clone(),
                last_trace_ns: entry.last_trace_ns,
            })
            .collect();
        rows.sort_by(|a, b| a.key.cmp(&b.key));
        BaselineCheckpoint {
            config: self.config.clone(),
            rows,
            recent_traces: self.recent.iter().copied().collect(),
        }
    }

    /// Baselines continuing from a checkpoint.
    pub fn restore(checkpoint: BaselineCheckpoint) -> Self {
        let mut baselines = DurationBaselines::new(checkpoint.config);
        for row in checkpoint.rows {
            let composite =
                BaselineKey::composite(&row.key.service, &row.key.kind, &row.key.location);
            let entry = Entry {
                key: row.key,
                reservoir: row.reservoir,
                last_trace_ns: row.last_trace_ns,
            };
            baselines.entries.insert(composite, entry);
        }
        for trace in checkpoint.recent_traces {
            if baselines.recent_set.insert(trace) {
                baselines.recent.push_back(trace);
            }
        }
        baselines
    }
}

/// The event steps of a tree grouped by key, sorted by key so that updates draw random numbers
/// in a fixed order. A fresh tree shares one copy of each name among its nodes, so steps are
/// first grouped by the names' addresses (no string hashing), then groups with equal names
/// (from copies, e.g. in a deserialised tree) are merged.
fn groups(tree: &TraceTree) -> Vec<Group<'_>> {
    // A tuple, not an array: an array hashes as one byte slice, through the slower path for
    // long inputs, where a tuple hashes three words.
    // A kind is a static name (`TreeNode::kind`), none a prefix of another, so its address
    // identifies it too.
    let mut by_address: foldhash::HashMap<(usize, usize, usize), usize> = Default::default();
    let mut groups: Vec<Group<'_>> = Vec::new();
    for (v, node) in tree.nodes.iter().enumerate() {
        if node.placeholder.is_some() {
            continue;
        }
        let [service, kind, location] =
            [&*node.service, &*node.kind, &*node.location].map(|name| name.as_ptr() as usize);
        let address = (service, kind, location);
        let slot = *by_address.entry(address).or_insert_with(|| {
            groups.push(((&*node.service, &*node.kind, &*node.location), Vec::new()));
            groups.len() - 1
        });
        groups[slot].1.push((v, sample_ns(node)));
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    let mut merged: Vec<Group<'_>> = Vec::with_capacity(groups.len());
    for (key, steps) in groups {
        match merged.last_mut() {
            Some((last, last_steps)) if *last == key => last_steps.extend(steps),
            _ => merged.push((key, steps)),
        }
    }
    for (_, steps) in &mut merged {
        steps.sort_unstable_by_key(|&(v, _)| v);
    }
    merged
}

/// The duration a baseline learns for a step (module doc).
fn sample_ns(node: &TreeNode) -> u64 {
    if node.duration_measured {
        node.duration_ns
    } else {
        node.self_time_ns
    }
}

/// 32 bits identifying a trace inside a reservoir; a rare collision only hides a few samples.
fn trace_tag(trace: Uuid) -> u32 {
    let bits = trace.as_u128();
    (bits ^ (bits >> 32) ^ (bits >> 64) ^ (bits >> 96)) as u32
}

/// FNV-1a, to give every key its own fixed random stream.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
#[path = "baseline_tests.rs"]
mod tests;

//! The race detector: compares accesses and update spans per variable as they arrive, in any
//! order and across traces, and reports the pairs that the rules of the `rules` module call data
//! races and lost updates.
//!
//! Accesses are keyed by variable (environment, name). Each one is compared with the accesses of
//! the same variable still retained (see the `retention` module for what is kept and why dropping
//! the rest is sound), and every racing pair is reported once per arrival of its later-arriving
//! side. A write is also compared with the retained [`UpdateSpan`]s (read-modify-writes paired by
//! the trace stage) of its variable, and a span with the retained writes, so that lost updates
//! are found in both arrival orders; they are reported as pairs of kind `lost_update`: (the
//! span's write, the other write), with the span's read attached.
//!
//! The engine only decides which pairs to compare and keeps that cheap: accesses are interned
//! (`interning`), clocks are compact, dominated accesses are dropped, and when everything retained
//! happens before a new arrival the comparison is skipped (the FastTrack-style fast path of
//! `retention`). Every verdict is the rule's.

use std::sync::Arc;

use raceway_schemas::{Access, FindingKind, UpdateSpan};
use smallvec::SmallVec;
use uuid::Uuid;

use crate::config::RaceConfig;
use crate::pairs::RacePair;
pub use crate::retention::EvictedIds;
use crate::retention::{CanonicalPieces, ComponentIds, Retained, RetainedSpan, VariableAccesses};
use crate::rules::{is_data_race_between, is_lost_update_between};
use variables::Variables;

mod variables;

/// The `lost_update` pair of `span`'s write and `other`, a write that can fall inside the span.
fn lost_update_pair(span: &RetainedSpan, other: &Arc<Access>, names: &ComponentIds) -> RacePair {
    let (write, context) = span.whole(names, &other.environment, &other.variable);
    RacePair::lost_update(write, context, Arc::clone(other))
}

/// What observing one access or span produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    /// Pairs the new access forms with retained accesses (data races, oldest partner first),
    /// then with retained spans (lost updates), or the pairs a new span forms (lost updates).
    pub pairs: Vec<RacePair>,
    /// Event ids no longer retained after this step (dominated, evicted, or the new access itself
    /// when it was not kept), so the runtime knows which input records it no longer needs.
    pub evicted: EvictedIds,
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
    pieces: CanonicalPieces,
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

    /// Reclaims the ids of clock components no retained clock uses any more, once enough new
    /// ones were handed out (derived clocks bring new components with every trace).
    #[inline]
    fn compact_names(&mut self) {
        if self.names.needs_compaction() {
            self.compact_names_now();
        }
    }

    #[cold]
    fn compact_names_now(&mut self) {
        let mut live = vec![false; self.names.len()];
        for clock in self.variables.values().flat_map(VariableAccesses::clocks) {
            for id in clock.ids() {
                live[id as usize] = true;
            }
        }
        let new_ids = self.names.compact(&live);
        for variable in self.variables.values_mut() {
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
        let variable = self.variables.entry(&access.environment, &access.variable);
        if variable.contains((access.timestamp_ns, access.event_id)) {
            return Observation::default();
        }
        let near = variable.newest();
        let new = Retained::interned_near(&mut access, &mut self.names, &mut self.pieces, near);
        // The access keeps its names (the retained form does not take them): borrowed, not
        // cloned, which took and gave back two reference counts per access.
        let (environment, name) = (&access.environment, &access.variable);
        let fast = variable.all_before(&new.clock);
        let mut pairs = Vec::new();
        let mut new_whole = None;
        if !fast {
            let new_side = new.side();
            let racing = |kept: &&Retained| is_data_race_between(&kept.side(), &new_side, slack);
            let partners: SmallVec<[_; 4]> =
                variable.iter().filter(racing).map(Retained::age).collect();
            let breaks =
                |span: &&RetainedSpan| is_lost_update_between(&span.side(), &new_side, slack);
            let lost = new.who.access_type.is_write() && variable.spans().any(|s| breaks(&s));
            if !partners.is_empty() || lost {
                let whole = Arc::new(new.whole(&self.names, environment, name));
                for age in &partners {
                    if let Some(kept) = variable.whole(age, &self.names, environment, name) {
                        let pair = RacePair::new(kept, Arc::clone(&whole), FindingKind::DataRace);
                        pairs.push(pair);
                    }
                }
                if lost {
                    for span in variable.spans().filter(breaks) {
                        pairs.push(lost_update_pair(span, &whole, &self.names));
                    }
                }
                new_whole = Some(whole);
            }
        }
        let before = variable.len();
        let (evicted, capacity_evictions) = if too_old {
            (EvictedIds::from_elem(new.event_id, 1), 0)
        } else {
            let age = new.age();
            let outcome = variable.insert(new, capacity, fast);
            if let Some(whole) = new_whole {
                variable.keep_whole(&age, whole);
            }
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
            self.drop_variable(environment, name);
        }
        self.compact_names();
        Observation { pairs, evicted }
    }

    /// Compares an update span with the retained writes of its variable (lost updates), then
    /// retains it. A span whose write is already retained as a span is a redelivery and is
    /// ignored. The span's write must also be [`RaceDetector::observe`]d as an access, for data
    /// races and as the other side of other spans. The returned `evicted` is always empty:
    /// spans dropped later are reported by [`RaceDetector::take_evicted_spans`].
    pub fn observe_update(&mut self, span: UpdateSpan) -> Observation {
        let too_old = self.too_old(span.write.timestamp_ns);
        let (slack, capacity) = (
            self.config.cross_trace_slack_ns,
            self.config.max_accesses_per_variable,
        );
        let age = (span.write.timestamp_ns, span.write.event_id);
        let environment = Arc::clone(&span.write.environment);
        let name = Arc::clone(&span.write.variable);
        let variable = self.variables.entry(&environment, &name);
        if variable.contains_span(age) {
            return Observation::default();
        }
        let near = variable.newest();
        let new = RetainedSpan::interned(span, &mut self.names, &mut self.pieces, near);
        let fast = variable.all_before(&new.read_clock);
        let mut pairs = Vec::new();
        if !fast {
            let span_side = new.side();
            // Only writes can be lost against a span (the rule's first test): reads are passed
            // over before their side is built and the rule called.
            let lost = |kept: &&Retained| {
                kept.who.access_type.is_write()
                    && is_lost_update_between(&span_side, &kept.side(), slack)
            };
            let partners: SmallVec<[_; 4]> =
                variable.iter().filter(lost).map(Retained::age).collect();
            for age in &partners {
                if let Some(whole) = variable.whole(age, &self.names, &environment, &name) {
                    pairs.push(lost_update_pair(&new, &whole, &self.names));
                }
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
            evicted: EvictedIds::new(),
        }
    }

    fn drop_variable(&mut self, environment: &Arc<str>, variable: &Arc<str>) {
        self.variables.remove(environment, variable);
    }

    /// Applies `drop` to every variable, removing emptied ones; returns the access ids dropped.
    fn drop_everywhere(
        &mut self,
        mut drop: impl FnMut(&mut VariableAccesses) -> Vec<Uuid>,
    ) -> Vec<Uuid> {
        let mut gone = Vec::new();
        let mut retained = 0;
        let evicted_spans = &mut self.evicted_spans;
        self.variables.retain(|variable| {
            gone.extend(drop(variable));
            evicted_spans.extend(variable.take_dropped_spans());
            retained += variable.len();
            !variable.is_empty()
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
        self.forget_older_than(timestamp_ns)
    }

    /// Drops every retained access and span with a timestamp before `timestamp_ns` and returns
    /// the ids of the accesses dropped, like [`Self::evict_older_than`] but without its cut: an
    /// access older than `timestamp_ns` that arrives afterwards is compared and kept. For a
    /// bound on memory rather than a window: the inputs that arrive late (from a partition that
    /// fell behind the others) are a trace's own accesses, which must still meet each other.
    pub fn forget_older_than(&mut self, timestamp_ns: i64) -> Vec<Uuid> {
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

#[cfg(test)]
mod table_tests;
#[cfg(test)]
mod tests;

//! The race stage: runs the race detectors over the inputs the trace stage forwards and writes
//! the findings.
//!
//! Topic `raceway.accesses` carries three inputs: accesses and update spans (keyed by variable,
//! for data races and lost updates) and lock-order edges (keyed by the environment's lock order,
//! for lock-order inversions), as members of batch records (one per partition per completion
//! batch of the trace stage) or, written before batches, one per record; schema ids tell them
//! apart. One stage instance therefore sees every input of the variables and lock pairs it owns,
//! from every trace. A record stays held (uncommitted) while a detector retains any of its
//! inputs, so after a crash the new owner rebuilds the same window. A record that does not
//! decode, batch or not, is one dead letter with the reason.
//!
//! Bounds: the detectors forget inputs older than the race window (`RaceConfig::window_ns`,
//! measured back from the newest event time seen) and, past [`RaceStageConfig::max_retained`]
//! retained inputs, the oldest by event time until a tenth of the bound is free. Without the
//! second bound, a busy system keeps every input of the window (at 100,000 events/s, five
//! minutes are 30 million): memory grows with the load, and the held records keep the bus from
//! compacting `raceway.accesses`. An input forgotten early can cost a finding with a later
//! arrival, so each one is counted in `raceway_race_inputs_evicted_total`. Unlike the window,
//! the bound leaves later arrivals alone: an input older than what it forgot is still kept.
//! Partitions are read at different paces, so a trace's inputs can arrive after newer traces'
//! inputs pushed the bound past its event times; its own accesses, split over two polls, must
//! still meet (with the window's rule they were compared but not kept, and a trace's own race
//! was lost). Such an input is among the first forgotten the next time the bound is passed.
//!
//! Re-analysis: every input carries the number of events its trace had when it was derived. A
//! late event makes the trace stage analyse the trace again and send all its inputs again with a
//! higher count; the first such input makes this stage forget the trace (its retained inputs
//! and its findings, which are retracted in the store with count 0) and analyse the new inputs
//! from scratch. Inputs with a lower count than the newest seen are stale and skipped.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use raceway_analysis::{FindingAggregator, LockOrderDetector, RaceConfig, RaceDetector};
use raceway_schemas::avro::{RaceInput, RaceInputDecoder, RaceRecord};
use raceway_schemas::notice::Notice;
use raceway_schemas::RaceFinding;
use raceway_store::FindingStore;
use uuid::Uuid;

use super::notices::publish_notices;
use super::{stopped_cleanly, StageError, StageIo};

/// Settings of the race stage.
#[derive(Debug, Clone)]
pub struct RaceStageConfig {
    /// Consumer group of the race stage.
    pub group: String,
    /// Most records handled per poll.
    pub poll_max: usize,
    /// Bounds and windows of the detector.
    pub detector: RaceConfig,
    /// Most inputs (accesses, update spans, lock-order edges) retained at once (module doc).
    pub max_retained: usize,
}

impl Default for RaceStageConfig {
    fn default() -> Self {
        RaceStageConfig {
            group: "raceway-race".into(),
            poll_max: 5000,
            detector: RaceConfig::default(),
            max_retained: DEFAULT_MAX_RETAINED,
        }
    }
}

/// Default [`RaceStageConfig::max_retained`]: a few hundred MB of detector state.
pub const DEFAULT_MAX_RETAINED: usize = 500_000;

/// The race stage; [`RaceStage::run`] consumes until shutdown.
pub struct RaceStage {
    io: StageIo,
    store: Arc<dyn FindingStore>,
    config: RaceStageConfig,
    detector: RaceDetector,
    locks: LockOrderDetector,
    findings: FindingAggregator,
    /// One decoder for the stage's life: the names it shares (environments, variables, actors,
    /// locations, lock sets) then stay one copy each across polls, so the detector finds an
    /// arriving piece by its address (`raceway_analysis`'s interning). Its tables are bounded.
    decoder: RaceInputDecoder,
    /// Where each retained input came from, to release its record when it is evicted, and its
    /// event time, to find the oldest when the stage holds too many.
    retained: HashMap<Retained, (Position, i64)>,
    /// Where each retained lock-order edge came from, with its acquisition time: the lock-order
    /// detector evicts by age only (and by capacity, which is bounded by the same age window).
    retained_edges: HashMap<(Uuid, Uuid), RetainedEdge>,
    /// Per trace: the event count of its newest analysis seen, and its newest input's time
    /// (entries leave with the detector's window).
    trace_versions: HashMap<Uuid, (u64, i64)>,
    /// Newest event time seen: the detector's window ends here.
    newest_ns: i64,
}

impl RaceStage {
    /// Builds the stage around a subscribed [`StageIo`] (topic: accesses).
    pub fn new(io: StageIo, store: Arc<dyn FindingStore>, config: RaceStageConfig) -> Self {
        RaceStage {
            io,
            store,
            detector: RaceDetector::new(config.detector.clone()),
            locks: LockOrderDetector::new(config.detector.clone()),
            findings: FindingAggregator::default(),
            decoder: RaceInputDecoder::default(),
            config,
            retained: HashMap::new(),
            retained_edges: HashMap::new(),
            trace_versions: HashMap::new(),
            newest_ns: i64::MIN,
        }
    }

    /// Consumes accesses and writes findings until shutdown.
    pub async fn run(mut self) -> Result<(), StageError> {
        let result = self.consume().await;
        stopped_cleanly(result)
    }

    async fn consume(&mut self) -> Result<(), StageError> {
        while !self.io.stopping() {
            self.step().await?;
        }
        self.io.commit_at_stop().await;
        Ok(())
    }

    async fn step(&mut self) -> Result<(), StageError> {
        let records = self.io.poll(self.config.poll_max).await;
        let mut rejected = Vec::new();
        // Retracted findings (count 0) by id, and the ids of the findings a pair changed: a
        // race found as thousands of pairs changes its finding at almost every pair, so each
        // changed finding is copied once, after the batch, in its last version.
        let mut changed: BTreeMap<String, RaceFinding> = BTreeMap::new();
        let mut changed_ids: HashSet<Uuid> = HashSet::new();
        let detected_at_ns = now_ns();
        for record in records {
            // A batch record's members are handled one by one, each holding the record while
            // a detector retains it: the record is committed past only when none is retained.
            let members = match self.decoder.decode_all(&record.value) {
                Ok(decoded) => decoded,
                Err(err) => {
                    rejected.push((record, format!("not a race-stage input: {err}")));
                    continue;
                }
            };
            for RaceRecord {
                input,
                trace_events,
            } in members
            {
                if !self.is_current(&input, trace_events, &mut changed, detected_at_ns) {
                    continue;
                }
                let position = (record.topic.clone(), record.partition, record.offset);
                for found in self.observe(input, position) {
                    let id = match found {
                        Found::Pair(pair) => self.findings.add(&pair, detected_at_ns),
                        Found::Inversion(pair) => {
                            self.findings.add_inversion(&pair, detected_at_ns)
                        }
                    };
                    changed_ids.extend(id);
                }
            }
        }
        self.io.dead_letter(&rejected).await?;
        if self.newest_ns != i64::MIN {
            let horizon = self
                .newest_ns
                .saturating_sub(self.config.detector.window_ns);
            self.evict_older_than(horizon);
        }
        self.evict_beyond_bound();
        let spans = self.detector.take_evicted_spans();
        self.release(spans.into_iter().map(Retained::Span));
        self.io
            .metrics
            .retained_accesses
            .set((self.detector.retained_len() + self.locks.retained_len()) as i64);
        // A finding changed and then retracted in this batch is no longer in the aggregator
        // and stays retracted; one retracted and then found again is written in its new version.
        for id in changed_ids {
            if let Some(finding) = self.findings.get(id) {
                changed.insert(finding.id.clone(), finding.clone());
            }
        }
        self.write_findings(changed.into_values().collect()).await?;
        self.io.commit().await;
        Ok(())
    }

    /// Forgets every input with an event time before `horizon`, the end of the window: later
    /// arrivals older than it are compared but not kept.
    fn evict_older_than(&mut self, horizon: i64) {
        let evicted = self.detector.evict_older_than(horizon);
        self.forget_retained_before(evicted, horizon);
    }

    /// Forgets every input with an event time before `cut` (the bound), keeping later arrivals.
    fn forget_older_than(&mut self, cut: i64) {
        let forgotten = self.detector.forget_older_than(cut);
        self.forget_retained_before(forgotten, cut);
    }

    /// Releases the detector's `forgotten` accesses and drops the lock-order edges and trace
    /// versions older than `cut`.
    fn forget_retained_before(&mut self, forgotten: Vec<Uuid>, cut: i64) {
        self.release(forgotten.into_iter().map(Retained::Access));
        self.locks.evict_older_than(cut);
        self.release_edges(|edge| edge.timestamp_ns < cut);
        self.trace_versions
            .retain(|_, (_, newest_ns)| *newest_ns >= cut);
    }

    /// Past [`RaceStageConfig::max_retained`] inputs, forgets the oldest until a tenth of the
    /// bound is free (module doc): the window ends at the event time that leaves that many.
    fn evict_beyond_bound(&mut self) {
        let max = self.config.max_retained.max(1);
        let before = self.retained.len() + self.retained_edges.len();
        if before <= max {
            return;
        }
        let mut times: Vec<i64> = self
            .retained
            .values()
            .map(|(_, time)| *time)
            .chain(self.retained_edges.values().map(|edge| edge.timestamp_ns))
            .collect();
        let keep = max - max / 10;
        let (_, &mut newest_forgotten, _) = times.select_nth_unstable(before - keep - 1);
        self.forget_older_than(newest_forgotten.saturating_add(1));
        let spans = self.detector.take_evicted_spans();
        self.release(spans.into_iter().map(Retained::Span));
        let after = self.retained.len() + self.retained_edges.len();
        self.io
            .metrics
            .race_inputs_evicted
            .inc_by(before.saturating_sub(after) as u64);
        tracing::debug!(
            before,
            after,
            max,
            "race stage: oldest inputs forgotten past the bound"
        );
    }

    /// Applies the re-analysis rule (module doc) to an input of `trace_events` events: false for
    /// a stale input; for the first input of a newer analysis, forgets the trace first.
    fn is_current(
        &mut self,
        input: &RaceInput,
        trace_events: u64,
        changed: &mut BTreeMap<String, RaceFinding>,
        detected_at_ns: i64,
    ) -> bool {
        let (trace_id, timestamp_ns) = match input {
            RaceInput::Access(a) => (a.trace_id, a.timestamp_ns),
            RaceInput::Update(span) => (span.write.trace_id, span.write.timestamp_ns),
            RaceInput::LockEdge(edge) => (edge.trace_id, edge.acquired.timestamp_ns),
        };
        let known = self.trace_versions.get(&trace_id).copied();
        match known {
            Some((newest, _)) if trace_events < newest => return false,
            Some((newest, _)) if trace_events > newest => {
                self.forget_trace(trace_id, changed, detected_at_ns)
            }
            _ => {}
        }
        let entry = self
            .trace_versions
            .entry(trace_id)
            .or_insert((trace_events, timestamp_ns));
        *entry = (entry.0.max(trace_events), entry.1.max(timestamp_ns));
        true
    }

    /// Drops everything retained of `trace_id` and retracts its findings (count 0, see
    /// [`raceway_store::FindingStore::upsert_findings`]); the new analysis re-reports those that
    /// still hold, with the same ids.
    fn forget_trace(
        &mut self,
        trace_id: Uuid,
        changed: &mut BTreeMap<String, RaceFinding>,
        detected_at_ns: i64,
    ) {
        let involved: Vec<RaceFinding> = self
            .findings
            .findings()
            .filter(|f| {
                let trace = trace_id.to_string();
                f.first.trace_id == trace || f.second.trace_id == trace
            })
            .cloned()
            .collect();
        self.findings.forget_trace(trace_id);
        for mut finding in involved {
            finding.count = 0;
            finding.detected_at_ns = detected_at_ns;
            changed.insert(finding.id.clone(), finding);
        }
        let accesses = self.detector.forget_trace(trace_id);
        self.release(accesses.into_iter().map(Retained::Access));
        self.locks.forget_trace(trace_id);
        self.release_edges(|edge| edge.trace_id == trace_id);
        tracing::debug!(%trace_id, "trace re-analysed: its findings are recomputed");
    }

    fn release_edges(&mut self, drop: impl Fn(&RetainedEdge) -> bool) {
        let mut gone = Vec::new();
        self.retained_edges.retain(|_, edge| {
            let keep = !drop(edge);
            if !keep {
                gone.push(edge.position.clone());
            }
            keep
        });
        for (topic, partition, offset) in gone {
            self.io.offsets.release(&topic, partition, offset);
        }
    }

    /// Feeds one input to its detector, holds its record while the input is retained, and
    /// returns the pairs it forms.
    fn observe(&mut self, input: RaceInput, position: Position) -> Vec<Found> {
        match input {
            RaceInput::Access(access) => {
                let event_id = access.event_id;
                let id = Retained::Access(event_id);
                self.newest_ns = self.newest_ns.max(access.timestamp_ns);
                let (already, time) = (self.retained.contains_key(&id), access.timestamp_ns);
                let observation = self.detector.observe(access);
                if !already && !observation.evicted.contains(&event_id) {
                    self.hold(id, position, time);
                }
                self.release(observation.evicted.into_iter().map(Retained::Access));
                observation.pairs.into_iter().map(Found::Pair).collect()
            }
            RaceInput::Update(span) => {
                let id = Retained::Span(span.write.event_id);
                self.newest_ns = self.newest_ns.max(span.write.timestamp_ns);
                let (already, time) = (self.retained.contains_key(&id), span.write.timestamp_ns);
                let observation = self.detector.observe_update(span);
                // A span the detector did not keep shows up in take_evicted_spans, which the
                // step releases after this batch.
                if !already {
                    self.hold(id, position, time);
                }
                observation.pairs.into_iter().map(Found::Pair).collect()
            }
            RaceInput::LockEdge(edge) => {
                let id = (edge.held.event_id, edge.acquired.event_id);
                let timestamp_ns = edge.acquired.timestamp_ns;
                self.newest_ns = self.newest_ns.max(timestamp_ns);
                if !self.retained_edges.contains_key(&id) {
                    self.io.offsets.hold(&position.0, position.1, position.2);
                    let retained = RetainedEdge {
                        position,
                        timestamp_ns,
                        trace_id: edge.trace_id,
                    };
                    self.retained_edges.insert(id, retained);
                }
                self.locks
                    .observe(edge)
                    .into_iter()
                    .map(Found::Inversion)
                    .collect()
            }
        }
    }

    fn hold(&mut self, id: Retained, position: Position, time: i64) {
        self.io.offsets.hold(&position.0, position.1, position.2);
        self.retained.insert(id, (position, time));
    }

    fn release(&mut self, evicted: impl IntoIterator<Item = Retained>) {
        for id in evicted {
            if let Some(((topic, partition, offset), _)) = self.retained.remove(&id) {
                self.io.offsets.release(&topic, partition, offset);
            }
        }
    }

    async fn write_findings(&mut self, findings: Vec<RaceFinding>) -> Result<(), StageError> {
        if findings.is_empty() {
            return Ok(());
        }
        let store = &self.store;
        self.io
            .store_retrying("store findings", || store.upsert_findings(&findings))
            .await?;
        // Told to live readers only once stored, so what they are told can be read back.
        let notices = findings
            .iter()
            .map(|finding| Notice::Finding {
                finding: Box::new(finding.clone()),
            })
            .collect();
        publish_notices(&self.io, "publish findings", notices).await?;
        self.io
            .metrics
            .findings_written
            .inc_by(findings.len() as u64);
        Ok(())
    }
}

/// Where a record was read: topic, partition, offset.
type Position = (String, i32, i64);

/// An input the race detector retains: accesses and spans are both identified by an event id
/// (a span by its write's), so the kind tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Retained {
    Access(Uuid),
    Span(Uuid),
}

/// A lock-order edge the lock-order detector retains, with what releasing it needs.
struct RetainedEdge {
    position: Position,
    timestamp_ns: i64,
    trace_id: Uuid,
}

/// A pair one input formed.
enum Found {
    Pair(raceway_analysis::RacePair),
    Inversion(raceway_analysis::LockCycle),
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

//! The trace stage: assembles traces and forwards their race-stage inputs at completion.
//!
//! Events are handed to the [`EventWriter`] as they arrive, which writes them in large batches
//! off the consuming path (queryable about 100 ms later; a record's offset stays uncommitted
//! until its events are written), and held in memory per open trace ([`OpenTraces`]). A trace
//! completes after it has been idle for `idle_timeout` (processing time), or is older than
//! `max_age`, or has `max_events` events. At completion the stage analyses the events it holds;
//! it reads a trace back from the store only when memory may lack some of its events: evicted
//! by the `max_open_trace_events` bound, re-opened by a late event after it completed here, or
//! first seen in a partition taken over from another instance and holding more events in the
//! store than in memory (the only case that asks the store for a count: see
//! `trace_origins`), so nothing is lost either way.
//!
//! The stage looks for due traces after each poll, and a poll waits for records no later than
//! the instant the next open trace falls due ([`OpenTraces::next_due`]): a trace completes when
//! it has been idle `idle_timeout`, never before. Waiting the poll's full time instead made a
//! trace wait up to that long (100 ms) more whenever no records came, which every race's
//! latency and the end of every burst paid.

use crate::redaction::Redaction;
use crate::retry::ShutdownDuringRetry;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use raceway_analysis::race_inputs;
use raceway_schemas::avro::decode_event_batch;
use raceway_schemas::notice::Notice;
use raceway_schemas::Event;
use raceway_store::{AccessStore, AnalysisStore, EventStore, Store};
use tokio::time::Instant;
use uuid::Uuid;

use super::event_writer::{EventWriter, WriteBatching};
use super::input_batches::{InputBatches, MAX_RECORD_BYTES};
use super::notices::publish_notices;
use super::open_traces::{Completion, OpenTraces, Position};
use super::trace_analyses::{AnalysisConfig, TraceAnalyses};
use super::trace_origins::{Origin, TraceOrigins};
use super::{stopped_cleanly, StageError, StageIo};
use crate::metrics::ProcessorMetrics;

/// Most traces completed with one set of writes: each batch costs two round trips (the
/// analyses and accesses inserts, then the race inputs and notices produces: one notices record
/// per partition of the findings topic), whatever its size,
/// so short traces are completed thousands at a time.
const COMPLETION_BATCH: usize = 5_000;

/// Most consumed events over the traces of one completion batch: bounds the rows of one insert
/// and the race inputs produced at once when the traces are long.
const COMPLETION_BATCH_EVENTS: usize = 50_000;

/// How long the stage remembers the traces it completed (a late event re-opening one is read
/// back whole) and treats a partition it took over as possibly holding traces it saw only part
/// of; see `trace_origins`.
const REOPEN_HORIZON: Duration = Duration::from_secs(600);

/// Most completed trace ids remembered (about 50 bytes each).
const MAX_REMEMBERED_COMPLETIONS: usize = 500_000;

/// Settings of the trace stage.
#[derive(Debug, Clone)]
pub struct TraceStageConfig {
    /// Consumer group of the trace stage.
    pub group: String,
    /// Most records handled per poll.
    pub poll_max: usize,
    /// A trace with no new event for this long (processing time) is complete.
    pub idle_timeout: Duration,
    /// A trace open for this long is analysed even if events still arrive.
    pub max_age: Duration,
    /// A trace with this many events is analysed at once.
    pub max_events: usize,
    /// Most events held in memory over all open traces; beyond it the traces holding the most
    /// drop theirs and are read back from the store at completion.
    pub max_open_trace_events: usize,
    /// The trace analyses run at completion (baselines, models, retraining).
    pub analyses: AnalysisConfig,
    /// Values replaced by keyed hashes before anything is stored.
    pub redaction: Redaction,
    /// How consumed events are batched into store writes.
    pub writes: WriteBatching,
}

impl Default for TraceStageConfig {
    fn default() -> Self {
        TraceStageConfig {
            group: "raceway-trace".into(),
            poll_max: 1000,
            idle_timeout: Duration::from_millis(1000),
            max_age: Duration::from_secs(30),
            max_events: 100_000,
            max_open_trace_events: 500_000,
            analyses: AnalysisConfig::default(),
            redaction: Redaction::default(),
            writes: WriteBatching::default(),
        }
    }
}

/// The store roles the trace stage uses: it writes events and reads them back per trace, and
/// writes each completed trace's analysis and accesses.
#[derive(Clone)]
pub struct TraceStores {
    pub events: Arc<dyn EventStore>,
    pub accesses: Arc<dyn AccessStore>,
    pub analyses: Arc<dyn AnalysisStore>,
}

/// Every role from one store that has them all.
impl From<Arc<dyn Store>> for TraceStores {
    fn from(store: Arc<dyn Store>) -> Self {
        TraceStores {
            events: store.clone(),
            accesses: store.clone(),
            analyses: store,
        }
    }
}

/// The trace stage; [`TraceStage::run`] consumes until shutdown.
pub struct TraceStage {
    io: StageIo,
    stores: TraceStores,
    config: TraceStageConfig,
    open: OpenTraces,
    origins: TraceOrigins,
    analyses: TraceAnalyses,
    writer: EventWriter,
    /// Per submission to the writer not yet known written: the records it carried, held.
    unwritten: VecDeque<(u64, Vec<Position>)>,
    /// When the next open trace falls due: the poll waits for records no longer than that.
    next_due: Option<Instant>,
}

impl TraceStage {
    /// Builds the stage around a subscribed [`StageIo`] (topic: events).
    /// Starts its event writer (a task), so call it inside the runtime.
    pub fn new(io: StageIo, stores: impl Into<TraceStores>, config: TraceStageConfig) -> Self {
        let stores: TraceStores = stores.into();
        let writer = EventWriter::spawn(
            stores.events.clone(),
            io.metrics.clone(),
            io.shutdown.clone(),
            config.writes,
        );
        TraceStage {
            io,
            stores,
            writer,
            unwritten: VecDeque::new(),
            next_due: None,
            analyses: TraceAnalyses::new(config.analyses.clone()),
            open: OpenTraces::new(config.max_open_trace_events),
            origins: TraceOrigins::new(REOPEN_HORIZON, MAX_REMEMBERED_COMPLETIONS),
            config,
        }
    }

    /// Consumes, stores and completes traces until shutdown; open traces are left uncommitted
    /// so the next owner re-reads them.
    pub async fn run(mut self) -> Result<(), StageError> {
        let result = self.consume().await;
        stopped_cleanly(result)
    }

    async fn consume(&mut self) -> Result<(), StageError> {
        self.analyses
            .restore(&self.io, &self.stores.analyses)
            .await?;
        while !self.io.stopping() {
            self.step().await?;
        }
        self.writer.finish().await?;
        self.release_written();
        self.analyses
            .checkpoint(&self.io, &self.stores.analyses)
            .await?;
        self.io.commit_at_stop().await;
        Ok(())
    }

    async fn step(&mut self) -> Result<(), StageError> {
        let records = self
            .io
            .poll_until(self.config.poll_max, self.next_due)
            .await;
        // Each record's position and how many of `events` it carried.
        let mut positions: Vec<(Position, usize)> = Vec::with_capacity(records.len());
        let mut batches = Vec::with_capacity(records.len());
        let mut rejected = Vec::new();
        let now = Instant::now();
        for record in records {
            self.origins
                .read(&record.topic, record.partition, record.offset, now);
            match decode_event_batch(&record.value) {
                Ok(batch) => {
                    let position = (record.topic.clone(), record.partition, record.offset);
                    positions.push((position, batch.events.len()));
                    batches.push(batch.events);
                }
                Err(err) => rejected.push((record, format!("not an EventBatch: {err}"))),
            }
        }
        // Sized once: grown event by event, the poll's events were copied again at each doubling.
        let mut events = Vec::with_capacity(batches.iter().map(Vec::len).sum());
        for batch in batches {
            events.extend(batch);
        }
        self.io.dead_letter(&rejected).await?;
        self.config.redaction.apply(&mut events);
        // The writer takes the events and hands them back once written, for the open traces
        // to hold (see `open_traces`): completion waits for the writes anyway, and one copy of
        // each event is enough.
        let trace_ids: Vec<Uuid> = events.iter().map(|e| e.trace_id).collect();
        let write_seq = self.writer.submit(events).await?;
        let mut trace_ids = trace_ids.into_iter();
        let mut submitted = Vec::new();
        for (position, count) in positions {
            if count > 0 {
                self.io.offsets.hold(&position.0, position.1, position.2);
            }
            for trace_id in trace_ids.by_ref().take(count) {
                if self
                    .open
                    .note(trace_id, &position, write_seq, now, &self.origins)
                {
                    self.io.offsets.hold(&position.0, position.1, position.2);
                }
            }
            if count > 0 {
                submitted.push(position);
            }
        }
        if !submitted.is_empty() {
            self.unwritten.push_back((write_seq, submitted));
        }
        self.release_written();
        let evicted = self.open.enforce_bound();
        if evicted > 0 {
            tracing::debug!(
                evicted,
                "open traces over the held-events bound; read back at completion"
            );
        }
        self.complete_due_traces().await?;
        self.analyses
            .maintain(&self.io, &self.stores.analyses)
            .await?;
        self.io.metrics.open_traces.set(self.open.len() as i64);
        self.io
            .metrics
            .open_trace_events
            .set(self.open.held_events() as i64);
        self.io.set_pending(self.open.len() + self.unwritten.len());
        self.io.commit().await;
        Ok(())
    }

    /// Releases the records of every submission the writer has written, after the open traces
    /// took their events back.
    fn release_written(&mut self) {
        let written = self.writer.written();
        for event in self.writer.take_written().into_iter().flatten() {
            self.open.hold(event);
        }
        while let Some((seq, _)) = self.unwritten.front() {
            if *seq > written {
                break;
            }
            if let Some((_, positions)) = self.unwritten.pop_front() {
                for (topic, partition, offset) in positions {
                    self.io.offsets.release(&topic, partition, offset);
                }
            }
        }
    }

    /// Completes the traces due now, then notes when the next one falls due.
    async fn complete_due_traces(&mut self) -> Result<(), StageError> {
        let completion = Completion {
            idle_timeout: self.config.idle_timeout,
            max_age: self.config.max_age,
            max_events: self.config.max_events,
        };
        self.complete_due(completion).await?;
        self.next_due = self.open.next_due(completion);
        Ok(())
    }

    async fn complete_due(&mut self, completion: Completion) -> Result<(), StageError> {
        let found = Instant::now();
        let due = self.open.due(found, completion);
        let steps = CompletionSteps::of(&self.open, &due, &self.io.metrics);
        steps.reached("found due", found);
        let mut batch = Vec::new();
        let mut batch_events = 0;
        for trace_id in due {
            let events = self.open.consumed(trace_id);
            let full =
                batch.len() >= COMPLETION_BATCH || batch_events + events > COMPLETION_BATCH_EVENTS;
            if full && !batch.is_empty() {
                self.complete(&batch).await?;
                batch.clear();
                batch_events = 0;
            }
            batch.push(trace_id);
            batch_events += events;
        }
        if !batch.is_empty() {
            self.complete(&batch).await?;
        }
        Ok(())
    }

    /// The events of a batch of completing traces, taken out of the open traces, and the
    /// records they held: from memory, or read back (one read for the batch) for a trace whose
    /// events were evicted, that re-opened, or that was first seen in a partition taken over
    /// and has more events stored than held (one count for those traces, none for the rest).
    async fn take_events(
        &mut self,
        trace_ids: &[Uuid],
    ) -> Result<(BTreeMap<Uuid, Vec<Event>>, Vec<Position>), StageError> {
        let stores = &self.stores;
        let mut by_trace = BTreeMap::new();
        let mut records = Vec::new();
        let mut read_back = Vec::new();
        let mut taken_over = Vec::new();
        for trace_id in trace_ids {
            let Some(taken) = self.open.take(*trace_id) else {
                continue;
            };
            records.extend(taken.records);
            match (taken.events, taken.origin) {
                (Some(events), Origin::Here) => {
                    by_trace.insert(*trace_id, events);
                }
                (Some(events), Origin::TakenOver) => {
                    taken_over.push(*trace_id);
                    by_trace.insert(*trace_id, events);
                }
                (None, _) | (Some(_), Origin::Reopened) => read_back.push(*trace_id),
            }
        }
        if !taken_over.is_empty() {
            let stored = self
                .io
                .store_retrying("count trace events", || {
                    stores.events.traces_event_counts(&taken_over)
                })
                .await?;
            for trace_id in taken_over {
                let held = by_trace.get(&trace_id).map_or(0, Vec::len) as u64;
                if stored.get(&trace_id).is_some_and(|&count| count > held) {
                    by_trace.remove(&trace_id);
                    read_back.push(trace_id);
                }
            }
        }
        if !read_back.is_empty() {
            let events = self
                .io
                .store_retrying("load traces", || stores.events.traces_events(&read_back))
                .await?;
            for event in events {
                by_trace
                    .entry(event.trace_id)
                    .or_insert_with(Vec::new)
                    .push(event);
            }
            self.io
                .metrics
                .traces_read_back
                .inc_by(read_back.len() as u64);
        }
        Ok((by_trace, records))
    }

    /// Analyses a batch of traces, stores their analyses and accesses (for the audit trail) and
    /// forwards their accesses, update spans and lock-order edges; then their records may be
    /// committed. At most one count (for traces of a partition taken over), one read, two
    /// writes and two produces per batch, not per trace: per-trace round trips to ClickHouse
    /// were the trace stage's bottleneck.
    async fn complete(&mut self, trace_ids: &[Uuid]) -> Result<(), StageError> {
        // Their events written first: a read-back must find them all, and a finding's events
        // are queryable before it is.
        let steps = CompletionSteps::of(&self.open, trace_ids, &self.io.metrics);
        let write_seq = self.open.write_seq(trace_ids);
        self.writer.wait_written(write_seq).await?;
        steps.reached("events written", Instant::now());
        self.release_written();
        let (by_trace, held_records) = self.take_events(trace_ids).await?;
        let partitions = (self.io)
            .partitions_retrying(
                "look up the accesses topic's partitions",
                &self.io.topics.accesses,
            )
            .await?;
        let mut inputs_of_batch = InputBatches::new(partitions);
        let stores = &self.stores;
        let mut analyses = Vec::with_capacity(by_trace.len());
        let mut accesses = Vec::new();
        let mut notices = Vec::with_capacity(by_trace.len());
        let clock_entries = &self.io.metrics.clock_entries;
        for (trace_id, events) in &by_trace {
            analyses.push(self.analyses.analyze(events, &self.io.metrics));
            let inputs = race_inputs(events);
            inputs_of_batch.add_trace(*trace_id, &inputs, events.len() as u64, clock_entries);
            notices.push(completion_notice(*trace_id, events));
            tracing::debug!(%trace_id, events = events.len(), "trace complete");
            accesses.extend(inputs.accesses);
        }
        // Two paths run concurrently, so a batch waits for about two round trips instead of
        // four: the accesses are stored, then forwarded as race inputs (once the race stage can
        // report a finding on an access, the audit trail can show that access); the analyses
        // are stored, then, once the accesses are stored too, the completions are told (what
        // a live reader is told of can be read back). The race inputs do not wait for the
        // analyses' insert, the slower of the two.
        let io = &self.io;
        let forwarded = inputs_of_batch.inputs();
        let records = inputs_of_batch.into_records(MAX_RECORD_BYTES);
        let accesses_topic = io.topics.accesses.clone();
        let (accesses_stored, stored) = tokio::sync::oneshot::channel::<()>();
        let inputs = async {
            unless(
                accesses.is_empty(),
                io.store_retrying("store accesses", || {
                    stores.accesses.insert_accesses(&accesses)
                }),
            )
            .await?;
            // The receiver is gone only once the other path failed, which ends the batch.
            let _ = accesses_stored.send(());
            unless(
                records.is_empty(),
                io.produce_retrying("forward accesses", accesses_topic, records),
            )
            .await?;
            steps.reached("inputs forwarded", Instant::now());
            Ok::<(), ShutdownDuringRetry>(())
        };
        let completions = async {
            unless(
                analyses.is_empty(),
                io.store_retrying("store trace analysis", || {
                    stores.analyses.replace_trace_analyses(&analyses)
                }),
            )
            .await?;
            // The sender is dropped unsent only when the accesses' insert failed, and then
            // `try_join!` has already ended with that error.
            if stored.await.is_ok() {
                steps.reached("stored", Instant::now());
                publish_notices(io, "publish completions", notices).await?;
            }
            Ok::<(), ShutdownDuringRetry>(())
        };
        tokio::try_join!(inputs, completions)?;
        steps.reached("forwarded", Instant::now());
        self.io.metrics.accesses_forwarded.inc_by(forwarded);
        self.io
            .metrics
            .traces_completed
            .inc_by(trace_ids.len() as u64);
        for (topic, partition, offset) in held_records {
            self.io.offsets.release(&topic, partition, offset);
        }
        self.origins.completed(trace_ids, Instant::now());
        Ok(())
    }
}

/// When the latest event of each trace of a completion batch was consumed, to time the steps of
/// its completion from there (`raceway_trace_completion_seconds`, by step).
struct CompletionSteps {
    last_seen: Vec<Instant>,
    metric: prometheus::HistogramVec,
}

impl CompletionSteps {
    fn of(open: &OpenTraces, trace_ids: &[Uuid], metrics: &ProcessorMetrics) -> Self {
        CompletionSteps {
            last_seen: trace_ids
                .iter()
                .filter_map(|id| open.last_seen(*id))
                .collect(),
            metric: metrics.completion_seconds.clone(),
        }
    }

    /// Every trace of the batch reached `step` at `at`.
    fn reached(&self, step: &str, at: Instant) {
        let histogram = self.metric.with_label_values(&[step]);
        for last_seen in &self.last_seen {
            histogram.observe(at.duration_since(*last_seen).as_secs_f64());
        }
    }
}

/// Awaits `work` unless `nothing_to_do` (a future does nothing until awaited: an empty insert or
/// produce is never sent).
async fn unless<T>(
    nothing_to_do: bool,
    work: impl Future<Output = Result<T, ShutdownDuringRetry>>,
) -> Result<(), ShutdownDuringRetry> {
    if !nothing_to_do {
        work.await?;
    }
    Ok(())
}

/// The [`Notice::TraceCompleted`] of a trace, for live readers.
fn completion_notice(trace_id: Uuid, events: &[Event]) -> Notice {
    let sorted = |field: fn(&Event) -> &str| -> Vec<String> {
        let set: BTreeSet<&str> = events.iter().map(field).collect();
        set.into_iter().map(str::to_string).collect()
    };
    Notice::TraceCompleted {
        trace_id,
        event_count: events.len() as u64,
        services: sorted(|e| &e.metadata.service_name),
        environments: sorted(|e| &e.metadata.environment),
    }
}

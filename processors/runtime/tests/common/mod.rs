//! The embedded pipeline the trace stage's tests run: event batches on the embedded bus, the
//! trace stage, a SQLite store.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use raceway_analysis::anomalies::ModelConfig;
use raceway_bus::Topics;
use raceway_bus::{Bus, EmbeddedBus, Record};
use raceway_processors::metrics::ProcessorMetrics;
use raceway_processors::stages::trace::{TraceStage, TraceStageConfig};
use raceway_processors::stages::trace_analyses::AnalysisConfig;
use raceway_processors::stages::StageIo;
use raceway_schemas::avro::encode_event_batch;
use raceway_schemas::{Event, EventBatch, EventKind, FunctionCall, Metadata};
use raceway_store::{Lifecycle, SqliteStore, Store};
use tokio::sync::watch;
use uuid::Uuid;

pub const MS: u64 = 1_000_000;

pub fn step(trace: Uuid, at_ns: i64, service: &str, function: &str, duration_ns: u64) -> Event {
    Event {
        id: Uuid::new_v4(),
        trace_id: trace,
        parent_id: None,
        timestamp_ns: at_ns,
        kind: EventKind::FunctionCall(FunctionCall {
            function_name: function.into(),
            module: String::new(),
            args: "{}".into(),
            file: "app.rs".into(),
            line: 1,
        }),
        metadata: Metadata {
            thread_id: "t1".into(),
            service_name: service.into(),
            environment: "test".into(),
            duration_ns: Some(duration_ns),
            ..Metadata::default()
        },
        causality_vector: Vec::new(),
        lock_set: Vec::new(),
    }
}

/// One request: `api` handles it and calls `bank`, whose `transfer` takes `transfer_ns`.
pub fn request(at_ns: i64, transfer_ns: u64) -> EventBatch {
    let trace = Uuid::new_v4();
    let root = step(trace, at_ns, "api", "handle", transfer_ns + 10 * MS);
    let mut transfer = step(trace, at_ns + MS as i64, "bank", "transfer", transfer_ns);
    transfer.parent_id = Some(root.id);
    EventBatch {
        trace_id: trace,
        events: vec![root, transfer],
    }
}

pub fn record(batch: &EventBatch) -> Record {
    Record::new(
        batch.trace_id.to_string(),
        encode_event_batch(batch).expect("encode"),
    )
}

pub type StageTask = tokio::task::JoinHandle<Result<(), raceway_processors::stages::StageError>>;

pub struct Pipeline {
    pub bus: Arc<dyn Bus>,
    pub store: Arc<dyn Store>,
    pub topics: Topics,
    /// Shared by every stage the test starts.
    pub metrics: ProcessorMetrics,
}

/// Stops a stage started by [`Pipeline::start_stage`] and waits for its clean end.
pub async fn stop_stage((stop, task): (watch::Sender<bool>, StageTask)) {
    stop.send(true).expect("stop");
    task.await.expect("join").expect("clean stop");
}

impl Pipeline {
    /// An embedded bus and a SQLite store under `dir`.
    pub async fn open(dir: &std::path::Path) -> Pipeline {
        let bus = EmbeddedBus::open(&dir.join("bus.db"), 4).expect("bus");
        let topics = Topics::with_prefix("");
        bus.create_topics(&topics.all(), 0).await.expect("topics");
        let store = SqliteStore::open(&dir.join("store.db")).expect("store");
        store.migrate().await.expect("migrate");
        Pipeline {
            bus: Arc::new(bus),
            store: Arc::new(store),
            topics,
            metrics: ProcessorMetrics::register(&prometheus::Registry::new()).expect("metrics"),
        }
    }

    /// Starts a trace stage that completes traces idle for 200 ms; returns its shutdown switch
    /// and task.
    pub async fn start_stage(
        &self,
        retrain_interval: Duration,
    ) -> (watch::Sender<bool>, StageTask) {
        self.start_stage_idle(retrain_interval, Duration::from_millis(200))
            .await
    }

    /// Starts a trace stage that completes traces idle for `idle_timeout`.
    pub async fn start_stage_idle(
        &self,
        retrain_interval: Duration,
        idle_timeout: Duration,
    ) -> (watch::Sender<bool>, StageTask) {
        let max_held = TraceStageConfig::default().max_open_trace_events;
        self.start_stage_bounded(retrain_interval, idle_timeout, max_held)
            .await
    }

    /// Starts a trace stage that completes traces idle for `idle_timeout` and holds at most
    /// `max_held` events of open traces in memory.
    pub async fn start_stage_bounded(
        &self,
        retrain_interval: Duration,
        idle_timeout: Duration,
        max_held: usize,
    ) -> (watch::Sender<bool>, StageTask) {
        let (tx, rx) = watch::channel(false);
        let config = TraceStageConfig {
            idle_timeout,
            max_open_trace_events: max_held,
            // Traces complete by idleness only.
            max_age: Duration::from_secs(24 * 3600),
            analyses: AnalysisConfig {
                models: ModelConfig {
                    min_traces: 20,
                    ..ModelConfig::default()
                },
                retrain_interval,
                checkpoint_interval: Duration::from_millis(100),
                ..AnalysisConfig::default()
            },
            ..TraceStageConfig::default()
        };
        let io = StageIo::subscribe(
            self.bus.clone(),
            self.topics.clone(),
            self.metrics.clone(),
            &config.group,
            &self.topics.events,
            rx,
        )
        .await
        .expect("subscribe");
        let stage = TraceStage::new(io, self.store.clone(), config);
        (tx, tokio::spawn(stage.run()))
    }

    pub async fn send(&self, batches: &[EventBatch]) {
        let records: Vec<Record> = batches.iter().map(record).collect();
        self.bus
            .produce(&self.topics.events, records)
            .await
            .expect("produce");
    }

    /// Sends `batches` and waits until each trace is analysed.
    pub async fn analyse(&self, batches: &[EventBatch]) {
        self.send(batches).await;
        self.analysed(batches, 0).await;
    }

    /// Waits until every trace of `batches` has an analysis analysed at or after `since_ns`
    /// (for at most 30 s of real time, on a paused clock too).
    pub async fn analysed(&self, batches: &[EventBatch], since_ns: i64) {
        let deadline = Instant::now() + Duration::from_secs(30);
        for batch in batches {
            loop {
                let summary = self
                    .store
                    .trace_analysis(batch.trace_id)
                    .await
                    .expect("read");
                if summary.is_some_and(|s| s.analyzed_at_ns >= since_ns) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "trace {} not analysed",
                    batch.trace_id
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as i64
}

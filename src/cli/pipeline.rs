//! Building and starting the processor stages (shared by `up` and `process`).

use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use raceway_bus::{Bus, Topics};
use raceway_processors::metrics::ProcessorMetrics;
use raceway_processors::redaction::Redaction;
use raceway_processors::stages::race::{RaceStage, RaceStageConfig};
use raceway_processors::stages::trace::{TraceStage, TraceStageConfig};
use raceway_processors::stages::StageIo;
use raceway_store::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Tuning of the processor stages.
#[derive(Debug, Clone, Args)]
pub struct PipelineArgs {
    /// A trace with no new event for this long (milliseconds) is complete and analysed.
    #[arg(long, env = "RACEWAY_TRACE_IDLE_MS", default_value_t = 1000)]
    pub trace_idle_ms: u64,
    /// Most events of open traces the trace stage holds in memory (counted in
    /// `raceway_open_trace_events`); beyond it, the traces holding the most drop theirs and are
    /// read back from the store when they complete.
    #[arg(long, env = "RACEWAY_MAX_OPEN_TRACE_EVENTS", default_value_t = 500_000)]
    pub max_open_trace_events: usize,
    /// How far back in event time, from the newest event seen, the race stage keeps inputs to
    /// compare with later arrivals (`90s`, `5m`, `1h`): two accesses further apart than this are
    /// never paired.
    #[arg(long, env = "RACEWAY_RACE_WINDOW", default_value = "5m", value_parser = crate::cli::prune::parse_duration)]
    pub race_window: Duration,
    /// Most inputs (accesses, update spans, lock-order edges) the race stage retains; past it,
    /// the oldest are forgotten before the race window ends (counted in
    /// `raceway_race_inputs_evicted_total`).
    #[arg(long, env = "RACEWAY_MAX_RETAINED_INPUTS", default_value_t = raceway_processors::stages::race::DEFAULT_MAX_RETAINED)]
    pub max_retained_inputs: usize,
    /// Cross-trace pairs are compared when the traces' time spans overlap within this slack.
    #[arg(long, env = "RACEWAY_CROSS_TRACE_SLACK_MS", default_value_t = 100)]
    pub cross_trace_slack_ms: i64,
    /// How often (seconds) the trace models (isolation forest, k-means) are retrained from
    /// the stored traces.
    #[arg(long, env = "RACEWAY_MODEL_RETRAIN_SECS", default_value_t = 300)]
    pub model_retrain_secs: u64,
    /// Stored traces needed before the trace models are trained.
    #[arg(long, env = "RACEWAY_MODEL_MIN_TRACES", default_value_t = 50)]
    pub model_min_traces: usize,
    /// Variables (glob: `*`, `?`, `[...]`) whose values are replaced by a keyed hash before
    /// anything is stored; equal values keep equal hashes. Repeatable.
    #[arg(
        long = "redact-variables",
        env = "RACEWAY_REDACT_VARIABLES",
        value_delimiter = ',',
        value_name = "GLOB",
        requires = "redact_key"
    )]
    pub redact_variables: Vec<String>,
    /// Key of the hash of --redact-variables (keep it secret: with it, values can be guessed).
    #[arg(long, env = "RACEWAY_REDACT_KEY", hide_env_values = true)]
    pub redact_key: Option<String>,
}

impl PipelineArgs {
    /// The redaction of --redact-variables / --redact-key.
    pub fn redaction(&self) -> anyhow::Result<Redaction> {
        let key = self.redact_key.as_deref().unwrap_or_default();
        Ok(Redaction::new(&self.redact_variables, key.as_bytes())?)
    }
}

/// Everything a stage needs besides its own settings.
pub struct StageDeps {
    pub bus: Arc<dyn Bus>,
    pub store: Arc<dyn Store>,
    pub topics: Topics,
    pub metrics: ProcessorMetrics,
    pub group_prefix: String,
    pub shutdown: watch::Receiver<bool>,
}

/// Which stage(s) a process runs.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Stage {
    Trace,
    Race,
    All,
}

/// A running stage.
pub type StageTask = JoinHandle<anyhow::Result<()>>;

/// Joins the groups of `stage` (the trace stage first) and runs each stage in a task.
pub async fn spawn_stages(
    deps: &StageDeps,
    args: &PipelineArgs,
    stage: Stage,
) -> anyhow::Result<Vec<StageTask>> {
    let mut tasks = Vec::new();
    if matches!(stage, Stage::Trace | Stage::All) {
        let mut config = TraceStageConfig {
            group: format!("{}raceway-trace", deps.group_prefix),
            idle_timeout: Duration::from_millis(args.trace_idle_ms),
            redaction: args.redaction()?,
            max_open_trace_events: args.max_open_trace_events,
            ..TraceStageConfig::default()
        };
        config.analyses.retrain_interval = Duration::from_secs(args.model_retrain_secs.max(1));
        config.analyses.models.min_traces = args.model_min_traces;
        let io = subscribe(deps, &config.group, &deps.topics.events).await?;
        let stage = TraceStage::new(io, deps.store.clone(), config);
        tasks.push(tokio::spawn(async move { Ok(stage.run().await?) }));
    }
    if matches!(stage, Stage::Race | Stage::All) {
        let mut config = RaceStageConfig {
            group: format!("{}raceway-race", deps.group_prefix),
            max_retained: args.max_retained_inputs,
            ..RaceStageConfig::default()
        };
        config.detector.cross_trace_slack_ns = args.cross_trace_slack_ms.saturating_mul(1_000_000);
        config.detector.window_ns = i64::try_from(args.race_window.as_nanos()).unwrap_or(i64::MAX);
        let io = subscribe(deps, &config.group, &deps.topics.accesses).await?;
        let stage = RaceStage::new(io, deps.store.clone(), config);
        tasks.push(tokio::spawn(async move { Ok(stage.run().await?) }));
    }
    Ok(tasks)
}

async fn subscribe(deps: &StageDeps, group: &str, topic: &str) -> anyhow::Result<StageIo> {
    Ok(StageIo::subscribe(
        deps.bus.clone(),
        deps.topics.clone(),
        deps.metrics.clone(),
        group,
        topic,
        deps.shutdown.clone(),
    )
    .await?)
}

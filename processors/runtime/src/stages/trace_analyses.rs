//! The trace stage's analyses at trace completion, and the state behind them.
//!
//! At completion, [`TraceAnalyses::analyze`] runs the pure analyses of `raceway-analysis` over
//! the trace's stored events: tree, critical path and service calls; duration anomalies judged
//! against the streaming baselines (which exclude the trace being judged, then learn it once);
//! the trace's features, scored by the current trace models; its actors' step sequences, judged
//! by the models' Markov chains (`unusual_sequence` anomalies). The stage stores the result with
//! [`raceway_store::Store::replace_trace_analysis`], replacing any previous analysis of the
//! trace (late events re-open and re-analyse it); every row id is deterministic.
//!
//! State that is not window bounded is checkpointed to the store and reloaded at start
//! ([`TraceAnalyses::restore`]): the baselines every `checkpoint_interval` when they changed
//! (and at shutdown), the models at each retraining. [`TraceAnalyses::maintain`] retrains the
//! isolation forest, k-means and the sequence chains every `retrain_interval` from the training
//! inputs (features and sequence counts) of the most recently stored traces, once at least
//! `models.min_traces` exist, with the next version number.

use std::sync::Arc;
use std::time::Duration;

use prometheus::IntCounterVec;
use raceway_analysis::anomalies::{
    trace_sequences, AnomalySeverity, BaselineCheckpoint, BaselineConfig, DurationBaselines,
    ModelConfig, TraceFeatures, TraceModels, TrainingInputs,
};
use raceway_analysis::trace::analyze_trace;
use raceway_schemas::Event;
use raceway_store::{AnalysisStore, ModelRecord, TraceAnalysis};
use tokio::time::Instant;

use super::analysis_rows::{anomaly_row, call_row, cluster_row, sequence_row, summary};
use super::StageIo;
use crate::metrics::ProcessorMetrics;
use crate::retry::ShutdownDuringRetry;

/// Name of the duration baselines' checkpoint in the store.
pub const BASELINE_CHECKPOINT: &str = "trace_stage.duration_baselines";

/// Settings of the trace analyses.
#[derive(Debug, Clone)]
pub struct AnalysisConfig {
    /// Tuning of the duration baselines.
    pub baselines: BaselineConfig,
    /// Training of the trace models; `min_traces` is the least number of stored traces to
    /// train on.
    pub models: ModelConfig,
    /// How often the models are retrained.
    pub retrain_interval: Duration,
    /// The models are trained on at most this many of the most recently ended traces.
    pub training_window: u32,
    /// How often changed baselines are checkpointed.
    pub checkpoint_interval: Duration,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        AnalysisConfig {
            baselines: BaselineConfig::default(),
            models: ModelConfig::default(),
            retrain_interval: Duration::from_secs(300),
            training_window: 10_000,
            checkpoint_interval: Duration::from_secs(10),
        }
    }
}

/// The baselines, the current models and their clocks.
pub struct TraceAnalyses {
    config: AnalysisConfig,
    baselines: DurationBaselines,
    models: Option<TraceModels>,
    last_training: Option<Instant>,
    last_checkpoint: Instant,
    changed: bool,
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl TraceAnalyses {
    /// Empty baselines and no model; [`TraceAnalyses::restore`] loads the persisted ones.
    pub fn new(config: AnalysisConfig) -> Self {
        TraceAnalyses {
            baselines: DurationBaselines::new(config.baselines.clone()),
            config,
            models: None,
            last_training: None,
            last_checkpoint: Instant::now(),
            changed: false,
        }
    }

    /// The version of the current models, if any.
    pub fn model_version(&self) -> Option<u64> {
        self.models.as_ref().map(|m| m.version)
    }

    /// Reloads the checkpointed baselines (with this configuration) and the newest compatible
    /// models. A checkpoint or model that cannot be read is logged and ignored: the baselines
    /// learn again, the models are retrained.
    pub async fn restore(
        &mut self,
        io: &StageIo,
        store: &Arc<dyn AnalysisStore>,
    ) -> Result<(), ShutdownDuringRetry> {
        let checkpoint = io
            .store_retrying("load baselines", || {
                store.load_checkpoint(BASELINE_CHECKPOINT)
            })
            .await?;
        if let Some(text) = checkpoint {
            match serde_json::from_str::<BaselineCheckpoint>(&text) {
                Ok(checkpoint) => {
                    self.baselines = DurationBaselines::restore(BaselineCheckpoint {
                        config: self.config.baselines.clone(),
                        ..checkpoint
                    });
                    tracing::info!(keys = self.baselines.len(), "restored duration baselines");
                }
                Err(err) => {
                    tracing::warn!(error = %err, "unreadable baseline checkpoint; starting afresh")
                }
            }
        }
        let record = io
            .store_retrying("load trace models", || store.latest_model())
            .await?;
        if let Some(record) = record {
            let models = serde_json::from_str::<TraceModels>(&record.payload)
                .map_err(|e| e.to_string())
                .and_then(|m| m.check_compatible().map(|()| m).map_err(|e| e.to_string()));
            match models {
                Ok(models) => {
                    tracing::info!(version = models.version, "restored trace models");
                    io.metrics.model_version.set(version_gauge(models.version));
                    self.models = Some(models);
                }
                Err(err) => tracing::warn!(version = record.version, error = %err,
                    "stored trace models cannot be used; they will be retrained"),
            }
        }
        Ok(())
    }

    /// Analyses one completed trace (its events in any order, at least one): what
    /// [`Store::replace_trace_analysis`] stores. Learns the trace's durations; counts the
    /// anomalies in `metrics`.
    pub fn analyze(&mut self, events: &[Event], metrics: &ProcessorMetrics) -> TraceAnalysis {
        let report = analyze_trace(events);
        let anomalies = self.baselines.judge_and_update(&report.tree);
        count_by_grade(
            &metrics.duration_anomalies,
            anomalies.iter().map(|a| a.severity),
        );
        self.changed = true;
        let features = TraceFeatures::from_trace(&report.tree, &report.critical_path);
        let score = self.models.as_ref().and_then(|models| {
            models
                .score(&features)
                .map_err(|err| {
                    tracing::warn!(trace_id = %features.trace_id, error = %err,
                        "cannot score the trace")
                })
                .ok()
        });
        let sequences = trace_sequences(&report.tree);
        let unusual = self
            .models
            .as_ref()
            .map(|models| models.unusual_sequences(report.tree.trace_id, &sequences))
            .unwrap_or_default();
        count_by_grade(
            &metrics.sequence_anomalies,
            unusual.iter().map(|a| a.severity),
        );
        let inputs = TrainingInputs::new(features, &sequences);
        let start_ns = report.tree.start_ns;
        let rows = anomalies.iter().map(|a| anomaly_row(a, start_ns));
        TraceAnalysis {
            summary: summary(&report, events.len(), &inputs, score.as_ref(), now_ns()),
            calls: report.calls.iter().map(call_row).collect(),
            anomalies: rows
                .chain(unusual.iter().map(|a| sequence_row(a, start_ns)))
                .collect(),
        }
    }

    /// Checkpoints the baselines and retrains the models when they are due.
    pub async fn maintain(
        &mut self,
        io: &StageIo,
        store: &Arc<dyn AnalysisStore>,
    ) -> Result<(), ShutdownDuringRetry> {
        if self.changed && self.last_checkpoint.elapsed() >= self.config.checkpoint_interval {
            self.checkpoint(io, store).await?;
        }
        if self
            .last_training
            .is_none_or(|at| at.elapsed() >= self.config.retrain_interval)
        {
            self.last_training = Some(Instant::now());
            self.retrain(io, store).await?;
        }
        Ok(())
    }

    /// Writes the baselines to the store if they changed since the last checkpoint.
    pub async fn checkpoint(
        &mut self,
        io: &StageIo,
        store: &Arc<dyn AnalysisStore>,
    ) -> Result<(), ShutdownDuringRetry> {
        self.last_checkpoint = Instant::now();
        if !self.changed {
            return Ok(());
        }
        let payload = match serde_json::to_string(&self.baselines.checkpoint()) {
            Ok(payload) => payload,
            Err(err) => {
                tracing::error!(error = %err, "cannot serialise the baselines");
                return Ok(());
            }
        };
        io.store_retrying("checkpoint baselines", || {
            store.save_checkpoint(BASELINE_CHECKPOINT, &payload)
        })
        .await?;
        self.changed = false;
        tracing::debug!(
            keys = self.baselines.len(),
            "checkpointed duration baselines"
        );
        Ok(())
    }

    /// Trains the next version of the models on the most recent stored traces, persists it and
    /// scores with it from now on. Too few traces, or a failed training, leaves the current
    /// models in place.
    async fn retrain(
        &mut self,
        io: &StageIo,
        store: &Arc<dyn AnalysisStore>,
    ) -> Result<(), ShutdownDuringRetry> {
        let window = self.config.training_window;
        let rows = io
            .store_retrying("read trace features", || {
                store.recent_trace_features(window)
            })
            .await?;
        // Oldest first, so the same stored traces always train the same model.
        let inputs: Vec<TrainingInputs> = rows
            .iter()
            .rev()
            .filter_map(|(trace_id, text)| {
                serde_json::from_str(text)
                    .map_err(
                        |err| tracing::warn!(%trace_id, error = %err, "unreadable training inputs"),
                    )
                    .ok()
            })
            .collect();
        if inputs.len() < self.config.models.min_traces.max(2) {
            tracing::debug!(
                traces = inputs.len(),
                "too few traces to train the trace models"
            );
            return Ok(());
        }
        let stored = io
            .store_retrying("load trace models", || store.latest_model())
            .await?;
        let version = stored
            .map(|m| m.version)
            .max(self.model_version())
            .unwrap_or(0)
            + 1;
        let config = self.config.models.clone();
        let trained = tokio::task::spawn_blocking(move || {
            let features: Vec<TraceFeatures> = inputs.iter().map(|i| i.features.clone()).collect();
            let sequences = inputs.iter().flat_map(|i| &i.sequences);
            TraceModels::train(&features, sequences, &config, version, now_ns())
        })
        .await;
        let models = match trained {
            Ok(Ok(models)) => models,
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "training the trace models failed");
                return Ok(());
            }
            Err(err) => {
                tracing::error!(error = %err, "the training task failed");
                return Ok(());
            }
        };
        let payload = match serde_json::to_string(&models) {
            Ok(payload) => payload,
            Err(err) => {
                tracing::error!(error = %err, "cannot serialise the trace models");
                return Ok(());
            }
        };
        let record = ModelRecord {
            version: models.version,
            trained_at_ns: models.trained_at_ns,
            trained_on: models.trained_on as u64,
            clusters: models.clusters().iter().map(cluster_row).collect(),
            payload,
        };
        io.store_retrying("save trace models", || store.save_model(&record))
            .await?;
        tracing::info!(
            version = models.version,
            traces = models.trained_on,
            sequence_keys = models.sequences.as_ref().map_or(0, |s| s.keys.len()),
            "trained trace models"
        );
        io.metrics.model_version.set(version_gauge(models.version));
        self.models = Some(models);
        Ok(())
    }
}

/// Counts anomalies of these severities in `counter`, labelled by grade.
fn count_by_grade(counter: &IntCounterVec, severities: impl Iterator<Item = AnomalySeverity>) {
    for severity in severities {
        let grade = super::analysis_rows::grade(severity);
        counter.with_label_values(&[grade.as_str()]).inc();
    }
}

fn version_gauge(version: u64) -> i64 {
    i64::try_from(version).unwrap_or(i64::MAX)
}

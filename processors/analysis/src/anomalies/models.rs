//! [`TraceModels`]: the isolation forest and the k-means model of trace features, and the
//! Markov chains of step sequences, as one versioned, serialisable bundle.
//!
//! The runtime stores each completed trace's [`TrainingInputs`] (its features and sequence
//! counts), retrains the bundle periodically from the stored ones ([`TraceModels::train`] with
//! the next version number), persists it with serde, reloads it at start after
//! [`TraceModels::check_compatible`] (a model of another format or feature list is retrained,
//! never misread), and judges each completed trace with [`TraceModels::score`] and
//! [`TraceModels::unusual_sequences`]. Training is deterministic: the same traces, in the same
//! order, with the same seed give the same model.

use linfa::traits::Fit;
use linfa::DatasetBase;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::clustering::{ClusterSummary, KMeansConfig, TraceClusters};
use super::error::ModelError;
use super::features::{feature_matrix, TraceFeatures, FEATURE_NAMES};
use super::isolation_forest::{IsolationForest, IsolationForestParams};
use super::sequence_model::{SequenceAnomaly, SequenceConfig, SequenceModels};
use super::sequences::{ActorSequence, SequenceCounts};

/// Format of the persisted bundle; bumped whenever its meaning changes (2: sequence models).
pub const MODEL_FORMAT: u32 = 2;

/// What the models learn from one trace, stored with the trace's analysis: its features and,
/// beside them in the same JSON object, its sequences' transition counts. Inputs stored before
/// the sequence models existed read with no sequences.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TrainingInputs {
    /// The trace's features.
    #[serde(flatten)]
    pub features: TraceFeatures,
    /// Each actor's sequence, counted.
    #[serde(default)]
    pub sequences: Vec<SequenceCounts>,
}

impl TrainingInputs {
    /// The inputs of a trace with `features` and `sequences`.
    pub fn new(features: TraceFeatures, sequences: &[ActorSequence]) -> Self {
        TrainingInputs {
            features,
            sequences: sequences.iter().map(ActorSequence::counts).collect(),
        }
    }
}

/// How the models are trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Traces needed before training.
    pub min_traces: usize,
    /// Trees of the isolation forest.
    pub trees: usize,
    /// Rows drawn per tree.
    pub sample_size: usize,
    /// The k-means settings (its seed is derived from `seed`).
    pub kmeans: KMeansConfig,
    /// Seed of both models.
    pub seed: u64,
    /// The sequence models' settings.
    #[serde(default)]
    pub sequences: SequenceConfig,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            min_traces: 50,
            trees: 100,
            sample_size: 256,
            kmeans: KMeansConfig::default(),
            seed: 0x7ace,
            sequences: SequenceConfig::default(),
        }
    }
}

/// The scores of one trace under a model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceScore {
    /// The trace.
    pub trace_id: Uuid,
    /// The model version that scored it.
    pub model_version: u64,
    /// Isolation-forest score in (0, 1]: near 1 is unusual, 0.5 or less ordinary.
    pub isolation_score: f64,
    /// The nearest k-means cluster.
    pub cluster: usize,
    /// Distance to that cluster's centroid (standardised units).
    pub centroid_distance: f64,
    /// `centroid_distance` over the cluster's mean member distance.
    pub relative_distance: f64,
}

/// The trace models, versioned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceModels {
    /// [`MODEL_FORMAT`] when it was written.
    pub format: u32,
    /// Version number given at training; newer models replace older ones.
    pub version: u64,
    /// When it was trained, ns since the epoch.
    pub trained_at_ns: i64,
    /// How many traces it was trained on.
    pub trained_on: usize,
    /// The features it expects, in order.
    pub feature_names: Vec<String>,
    /// The settings it was trained with.
    pub config: ModelConfig,
    /// The isolation forest.
    pub forest: IsolationForest,
    /// The k-means model.
    pub clusters: TraceClusters,
    /// The Markov chains of step sequences (absent from bundles of format 1, which
    /// [`TraceModels::check_compatible`] refuses).
    #[serde(default)]
    pub sequences: Option<SequenceModels>,
}

impl TraceModels {
    /// Trains the feature models on `traces` and the sequence models on `sequences` (every
    /// sequence of those traces).
    pub fn train<'a>(
        traces: &[TraceFeatures],
        sequences: impl IntoIterator<Item = &'a SequenceCounts>,
        config: &ModelConfig,
        version: u64,
        trained_at_ns: i64,
    ) -> Result<Self, ModelError> {
        let needed = config.min_traces.max(2);
        if traces.len() < needed {
            return Err(ModelError::NotEnoughSamples {
                needed,
                got: traces.len(),
            });
        }
        let x = feature_matrix(traces);
        let forest = IsolationForestParams::new()
            .n_trees(config.trees)
            .sample_size(config.sample_size)
            .seed(config.seed)
            .fit(&DatasetBase::from(x))?;
        let kmeans = KMeansConfig {
            // Distinct from the forest's stream, still fixed by the one seed.
            seed: config.seed.rotate_left(17) ^ config.kmeans.seed,
            ..config.kmeans.clone()
        };
        let clusters = TraceClusters::fit(traces, &kmeans)?;
        let sequences = SequenceModels::train(sequences, &config.sequences);
        Ok(TraceModels {
            format: MODEL_FORMAT,
            version,
            trained_at_ns,
            trained_on: traces.len(),
            feature_names: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
            config: config.clone(),
            forest,
            clusters,
            sequences: Some(sequences),
        })
    }

    /// Checks that a reloaded model was written by this version of the code.
    pub fn check_compatible(&self) -> Result<(), ModelError> {
        if self.format != MODEL_FORMAT {
            return Err(ModelError::Incompatible(format!(
                "format {} is not {MODEL_FORMAT}",
                self.format
            )));
        }
        if !self
            .feature_names
            .iter()
            .map(String::as_str)
            .eq(FEATURE_NAMES)
        {
            return Err(ModelError::Incompatible(format!(
                "features {:?} are not {FEATURE_NAMES:?}",
                self.feature_names
            )));
        }
        if self.sequences.is_none() {
            return Err(ModelError::Incompatible("no sequence models".into()));
        }
        if self.forest.n_features() != FEATURE_NAMES.len() {
            return Err(ModelError::Incompatible("forest width differs".into()));
        }
        Ok(())
    }

    /// Scores one trace.
    pub fn score(&self, features: &TraceFeatures) -> Result<TraceScore, ModelError> {
        let isolation_score = self.forest.score(&features.to_vector())?;
        let assignment = self.clusters.assign(features)?;
        Ok(TraceScore {
            trace_id: features.trace_id,
            model_version: self.version,
            isolation_score,
            cluster: assignment.cluster,
            centroid_distance: assignment.distance,
            relative_distance: assignment.relative_distance,
        })
    }

    /// The unusual sequences among a trace's actor `sequences`.
    pub fn unusual_sequences(
        &self,
        trace_id: Uuid,
        sequences: &[ActorSequence],
    ) -> Vec<SequenceAnomaly> {
        self.sequences
            .as_ref()
            .map(|models| models.judge(trace_id, sequences))
            .unwrap_or_default()
    }

    /// The clusters as `GET /api/clusters` lists them.
    pub fn clusters(&self) -> &[ClusterSummary] {
        &self.clusters.clusters
    }
}

#[cfg(test)]
#[path = "models_tests.rs"]
mod tests;

//! Anomalies: operations slower than their baseline, and traces unlike the others.
//!
//! - [`baseline`]: [`DurationBaselines`], streaming robust baselines of step durations per
//!   (service, kind, location), judged before they learn from a trace, checkpointed as rows.
//! - [`baseline_config`]: [`BaselineConfig`], the baselines' tuning and severity grades.
//! - [`reservoir`]: [`Reservoir`], the bounded sample behind each baseline (median and MAD).
//! - [`features`]: [`TraceFeatures`], the shape of one trace as numbers.
//! - [`isolation_forest`]: an isolation forest in the linfa style (`Fit` / `Predict` over
//!   ndarray), seeded; linfa ships none.
//! - [`clustering`]: k-means over trace features with `linfa-clustering`.
//! - [`sequences`]: each actor's steps as symbols ([`ActorSequence`]), per (service, entry
//!   point).
//! - [`sequence_model`]: [`SequenceModels`], smoothed Markov chains of those steps and the
//!   `unusual_sequence` anomalies they find.
//! - [`models`]: [`TraceModels`], the versioned, serialisable bundle of the models that the
//!   runtime retrains periodically, persists and reloads.
//!
//! Everything is deterministic for a given seed and input order, and every persisted state is a
//! plain serde value.

pub mod baseline;
pub mod baseline_config;
pub mod clustering;
pub mod error;
pub mod features;
pub mod isolation_forest;
pub mod models;
pub mod reservoir;
pub mod sequence_model;
pub mod sequences;

pub use baseline::{
    AnomalySeverity, BaselineCheckpoint, BaselineConfig, BaselineKey, BaselineRow, DurationAnomaly,
    DurationBaselines, ANOMALY_NAMESPACE,
};
pub use clustering::{
    ClusterAssignment, ClusterSummary, FeatureScaler, KMeansConfig, TraceClusters,
};
pub use error::ModelError;
pub use features::{feature_matrix, TraceFeatures, FEATURE_COUNT, FEATURE_NAMES};
pub use isolation_forest::{IsolationForest, IsolationForestParams, IsolationForestValidParams};
pub use models::{ModelConfig, TraceModels, TraceScore, TrainingInputs, MODEL_FORMAT};
pub use reservoir::{Reservoir, RobustStats};
pub use sequence_model::{
    ImprobableTransition, KeyModel, SequenceAnomaly, SequenceConfig, SequenceModels,
};
pub use sequences::{
    trace_sequences, ActorSequence, SequenceCounts, SequenceKey, SequenceStep, TransitionCount,
    SEQUENCE_END,
};

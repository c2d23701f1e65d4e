//! [`ModelError`]: why a model cannot be trained, used or reloaded.

use thiserror::Error;

/// Why a model cannot be trained, used or reloaded.
#[derive(Debug, Error)]
pub enum ModelError {
    /// Too few samples to train on.
    #[error("need at least {needed} traces to train, got {got}")]
    NotEnoughSamples {
        /// The minimum.
        needed: usize,
        /// What was given.
        got: usize,
    },
    /// A hyperparameter out of range.
    #[error("invalid parameter: {0}")]
    InvalidParams(String),
    /// A NaN or infinite feature value.
    #[error("feature {feature} of sample {row} is not a finite number")]
    NonFinite {
        /// The sample.
        row: usize,
        /// The feature's column.
        feature: usize,
    },
    /// Samples with the wrong number of features.
    #[error("expected {expected} features, got {got}")]
    FeatureCount {
        /// What the model was trained on.
        expected: usize,
        /// What was given.
        got: usize,
    },
    /// A persisted model from an incompatible version: retrain instead of loading it.
    #[error("stored model is incompatible: {0}")]
    Incompatible(String),
    /// An error reported by linfa.
    #[error(transparent)]
    Linfa(#[from] linfa::Error),
    /// An error reported by linfa's k-means.
    #[error(transparent)]
    KMeans(#[from] linfa_clustering::KMeansError),
}

//! Tuning of the duration baselines and the grading of deviations.

use serde::{Deserialize, Serialize};

/// Tuning of [`DurationBaselines`]; the defaults suit production.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineConfig {
    /// Samples kept per key.
    pub capacity: u32,
    /// Samples a key needs before it judges.
    pub min_samples: u64,
    /// Samples one trace may add per key.
    pub max_samples_per_trace: usize,
    /// Smallest scale, as a share of the median.
    pub relative_floor: f64,
    /// Smallest scale, ns.
    pub absolute_floor_ns: f64,
    /// Deviations from which a step is a minor anomaly.
    pub minor_at: f64,
    /// Deviations from which a step is a warning.
    pub warning_at: f64,
    /// Deviations above which a step is critical.
    pub critical_above: f64,
    /// Keys kept at most.
    pub max_keys: usize,
    /// Trace ids remembered as learned (so a re-analysed trace is not learned twice).
    pub remembered_traces: usize,
    /// Seed of the reservoirs' replacement choices.
    pub seed: u64,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        BaselineConfig {
            capacity: 128,
            min_samples: 20,
            max_samples_per_trace: 16,
            relative_floor: 0.1,
            absolute_floor_ns: 50_000.0,
            minor_at: 2.0,
            warning_at: 3.0,
            critical_above: 5.0,
            max_keys: 50_000,
            remembered_traces: 4_096,
            seed: 0x5eed,
        }
    }
}

/// How far off a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalySeverity {
    /// 2 to 3 deviations.
    Minor,
    /// 3 to 5 deviations.
    Warning,
    /// Above 5 deviations.
    Critical,
}

impl BaselineConfig {
    /// The grade of a step `deviations` scales slower than expected; `None` below minor.
    pub fn grade(&self, deviations: f64) -> Option<AnomalySeverity> {
        if deviations > self.critical_above {
            Some(AnomalySeverity::Critical)
        } else if deviations >= self.warning_at {
            Some(AnomalySeverity::Warning)
        } else if deviations >= self.minor_at {
            Some(AnomalySeverity::Minor)
        } else {
            None
        }
    }
}

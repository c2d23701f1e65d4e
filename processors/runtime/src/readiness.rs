//! Readiness of a process's stages, for `/ready`: a stage is ready once it has joined its
//! consumer group, holds partitions, and is caught up (its lag is at most a bound).
//!
//! Liveness (`/health`) says the process runs; readiness says it is doing its share of the work,
//! so a load balancer or an operator waiting on a rollout can tell a joining or lagging
//! processor from a working one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use prometheus::IntGaugeVec;
use serde_json::{json, Value};

/// Lag (records over all assigned partitions) above which a stage is not caught up.
pub const DEFAULT_MAX_READY_LAG: i64 = 10_000;

/// What a stage last reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct StageStatus {
    assigned_partitions: usize,
    lag: i64,
    reported: bool,
}

impl StageStatus {
    /// Why the stage is not ready, or None when it is.
    fn not_ready_reason(&self, max_lag: i64) -> Option<&'static str> {
        if !self.reported {
            Some("joining its consumer group")
        } else if self.assigned_partitions == 0 {
            Some("no partitions assigned")
        } else if self.lag > max_lag {
            Some("catching up")
        } else {
            None
        }
    }
}

/// The readiness of every stage of the process; cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct Readiness {
    stages: Arc<Mutex<BTreeMap<String, StageStatus>>>,
    max_lag: i64,
    /// `raceway_stage_ready{stage}`: 1 when ready, else 0 (the same answer as `/ready`, for
    /// Prometheus, which cannot read `/ready`).
    gauge: Option<IntGaugeVec>,
}

impl Default for Readiness {
    fn default() -> Self {
        Readiness::new(DEFAULT_MAX_READY_LAG)
    }
}

impl Readiness {
    /// Readiness with a lag bound.
    pub fn new(max_lag: i64) -> Self {
        Readiness {
            stages: Arc::default(),
            max_lag,
            gauge: None,
        }
    }

    /// The same, also exporting each stage's readiness to `gauge` (label `stage`).
    pub fn with_gauge(mut self, gauge: IntGaugeVec) -> Self {
        self.gauge = Some(gauge);
        self
    }

    /// The exported gauge, if any (to register it).
    pub fn gauge(&self) -> Option<IntGaugeVec> {
        self.gauge.clone()
    }

    fn export(&self, stage: &str, status: &StageStatus) {
        if let Some(gauge) = &self.gauge {
            let ready = status.not_ready_reason(self.max_lag).is_none();
            gauge.with_label_values(&[stage]).set(i64::from(ready));
        }
    }

    fn stages(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, StageStatus>> {
        // A panic while holding this lock cannot leave the map inconsistent (plain inserts).
        self.stages.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Declares a stage (not ready until it reports).
    pub fn register(&self, stage: &str) {
        let status = self.stages().entry(stage.to_string()).or_default().clone();
        self.export(stage, &status);
    }

    /// A stage's latest assignment and lag.
    pub fn report(&self, stage: &str, assigned_partitions: usize, lag: i64) {
        let status = StageStatus {
            assigned_partitions,
            lag,
            reported: true,
        };
        self.export(stage, &status);
        self.stages().insert(stage.to_string(), status);
    }

    /// Whether every stage is ready, and a JSON body saying why per stage.
    pub fn status(&self) -> (bool, Value) {
        let stages = self.stages();
        let mut all_ready = !stages.is_empty();
        let mut body = serde_json::Map::new();
        for (name, status) in stages.iter() {
            let reason = status.not_ready_reason(self.max_lag);
            all_ready &= reason.is_none();
            body.insert(
                name.clone(),
                json!({
                    "ready": reason.is_none(),
                    "reason": reason,
                    "assigned_partitions": status.assigned_partitions,
                    "lag": status.lag,
                }),
            );
        }
        (all_ready, json!({ "ready": all_ready, "stages": body }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_every_stage_is_assigned_and_caught_up() {
        let readiness = Readiness::new(100);
        assert!(!readiness.status().0, "no stage: not ready");
        readiness.register("trace");
        readiness.register("race");
        let (ready, body) = readiness.status();
        assert!(!ready);
        assert_eq!(
            body["stages"]["trace"]["reason"],
            "joining its consumer group"
        );
        readiness.report("trace", 4, 0);
        readiness.report("race", 0, 0);
        let (ready, body) = readiness.status();
        assert!(!ready);
        assert_eq!(body["stages"]["trace"]["ready"], true);
        assert_eq!(body["stages"]["race"]["reason"], "no partitions assigned");
        readiness.report("race", 2, 101);
        assert_eq!(
            readiness.status().1["stages"]["race"]["reason"],
            "catching up"
        );
        readiness.report("race", 2, 100);
        let (ready, body) = readiness.status();
        assert!(ready, "{body}");
        assert_eq!(body["ready"], true);
    }
}

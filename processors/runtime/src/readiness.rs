//! Readiness of a process's stages, for `/ready`: a stage is ready once it has joined its
//! consumer group, holds partitions, and is caught up (its lag is at most a bound); the process
//! is drained once every stage has consumed everything and holds no unfinished work.
//!
//! Liveness (`/health`) says the process runs; readiness says it is doing its share of the work,
//! so a load balancer or an operator waiting on a rollout can tell a joining or lagging
//! processor from a working one.
//!
//! Drained answers "has everything produced so far been processed?", which tests and operators
//! otherwise guess with sleeps. A stage is drained when its last lag check found no lag, it has
//! done no work (polled a record, produced one) since that check, and it has no pending work
//! (open traces). The process is drained when every stage is, and every lag check came after
//! every stage's last work: a check made before the trace stage forwarded its last accesses
//! would miss them on the race stage. `drained_since` (Unix ms) is the earliest of those lag
//! checks: every record produced before it has been processed. A caller that produced records
//! at time T waits for `drained` with `drained_since > T`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

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
    /// Unix ms of the last lag check.
    lag_checked_ms: i64,
    /// Unix ms of the last record polled or produced.
    last_work_ms: i64,
    /// Work held back for later (open traces).
    pending: usize,
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

    fn is_drained(&self) -> bool {
        self.reported
            && self.lag == 0
            && self.pending == 0
            && self.lag_checked_ms > self.last_work_ms
    }
}

/// Wall-clock Unix milliseconds: comparable across processes on one machine, unlike `Instant`.
fn unix_ms() -> i64 {
    unix_ms_of(SystemTime::now())
}

fn unix_ms_of(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
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

    /// A stage's latest assignment and lag, checked now.
    pub fn report(&self, stage: &str, assigned_partitions: usize, lag: i64) {
        self.report_measured(stage, assigned_partitions, lag, SystemTime::now());
    }

    /// A stage's latest assignment and lag, from a measure begun at `measured_at`: the check
    /// counts for the drained signal only against work done before that moment.
    pub fn report_measured(
        &self,
        stage: &str,
        assigned_partitions: usize,
        lag: i64,
        measured_at: SystemTime,
    ) {
        let mut stages = self.stages();
        let status = stages.entry(stage.to_string()).or_default();
        status.assigned_partitions = assigned_partitions;
        status.lag = lag;
        status.reported = true;
        status.lag_checked_ms = unix_ms_of(measured_at);
        let status = status.clone();
        drop(stages);
        self.export(stage, &status);
    }

    /// The stage polled or produced records now.
    pub fn worked(&self, stage: &str) {
        self.stages()
            .entry(stage.to_string())
            .or_default()
            .last_work_ms = unix_ms();
    }

    /// How much work the stage holds back for later (the trace stage: its open traces).
    pub fn pending(&self, stage: &str, pending: usize) {
        self.stages().entry(stage.to_string()).or_default().pending = pending;
    }

    /// Whether every stage is ready, and a JSON body saying why per stage and whether the
    /// process is drained (see the module docs).
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
                    "pending": status.pending,
                    "drained": status.is_drained(),
                }),
            );
        }
        let drained_since = drained_since(stages.values());
        (
            all_ready,
            json!({
                "ready": all_ready,
                "drained": drained_since.is_some(),
                "drained_since": drained_since,
                "stages": body,
            }),
        )
    }
}

/// The earliest lag check of the stages if they are drained together, else `None`.
fn drained_since<'a>(stages: impl Iterator<Item = &'a StageStatus> + Clone) -> Option<i64> {
    let earliest_check = stages.clone().map(|s| s.lag_checked_ms).min()?;
    let latest_work = stages.clone().map(|s| s.last_work_ms).max()?;
    let each_drained = stages.clone().all(StageStatus::is_drained);
    (each_drained && earliest_check > latest_work).then_some(earliest_check)
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

    fn status(lag_checked_ms: i64, last_work_ms: i64, lag: i64, pending: usize) -> StageStatus {
        StageStatus {
            assigned_partitions: 4,
            lag,
            reported: true,
            lag_checked_ms,
            last_work_ms,
            pending,
        }
    }

    #[test]
    fn drained_needs_every_check_after_every_stages_last_work() {
        let trace = status(10, 5, 0, 0);
        let race = status(12, 3, 0, 0);
        assert_eq!(drained_since([&trace, &race].into_iter()), Some(10));
        // The trace stage forwarded accesses after the race stage's check: not yet.
        let late_forward = status(20, 15, 0, 0);
        assert_eq!(drained_since([&late_forward, &race].into_iter()), None);
        // Lag, open traces, work after the check, or no report at all: not drained.
        assert!(!status(10, 5, 1, 0).is_drained());
        assert!(!status(10, 5, 0, 2).is_drained());
        assert!(!status(10, 10, 0, 0).is_drained());
        assert!(!StageStatus::default().is_drained());
        assert_eq!(drained_since(std::iter::empty()), None);
    }

    #[test]
    fn status_reports_drained_after_a_check_that_follows_the_work() {
        let readiness = Readiness::new(100);
        readiness.register("trace");
        readiness.worked("trace");
        readiness.pending("trace", 1);
        let (_, body) = readiness.status();
        assert_eq!(body["drained"], false, "{body}");
        assert_eq!(body["stages"]["trace"]["pending"], 1);
        readiness.pending("trace", 0);
        readiness.report("trace", 4, 0);
        // The work happened in an earlier millisecond than the check.
        let worked_at = {
            let mut stages = readiness.stages();
            let trace = stages.get_mut("trace").expect("registered");
            trace.last_work_ms = trace.lag_checked_ms - 1;
            trace.last_work_ms
        };
        let (_, body) = readiness.status();
        assert_eq!(body["drained"], true, "{body}");
        assert!(body["drained_since"].as_i64() > Some(worked_at), "{body}");
    }

    #[test]
    fn a_lag_measure_begun_before_the_work_is_no_check_of_it() {
        let readiness = Readiness::new(100);
        readiness.register("trace");
        let begun = SystemTime::now() - std::time::Duration::from_secs(1);
        readiness.worked("trace");
        // Reported now, but measured before the work: the records polled since are not in it.
        readiness.report_measured("trace", 4, 0, begun);
        assert_eq!(readiness.status().1["drained"], false);
        // A measure never completed (the epoch) is no check either.
        readiness.report_measured("trace", 4, 0, UNIX_EPOCH);
        assert_eq!(readiness.status().1["drained"], false);
        readiness.report_measured(
            "trace",
            4,
            0,
            SystemTime::now() + std::time::Duration::from_millis(5),
        );
        assert_eq!(readiness.status().1["drained"], true);
    }
}

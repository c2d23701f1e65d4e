//! The race stage: runs the race detector over the accesses of each variable and writes the
//! findings.
//!
//! Accesses are partitioned by variable, so one stage instance sees every access of the
//! variables it owns, from every trace. An access's record stays held (uncommitted) while the
//! detector retains the access, so after a crash the new owner rebuilds the same window.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use raceway_analysis::{FindingAggregator, RaceConfig, RaceDetector};
use raceway_schemas::avro::decode_access;
use raceway_schemas::RaceFinding;
use raceway_store::Store;
use uuid::Uuid;

use super::{StageError, StageIo};

/// Settings of the race stage.
#[derive(Debug, Clone)]
pub struct RaceStageConfig {
    /// Consumer group of the race stage.
    pub group: String,
    /// Most records handled per poll.
    pub poll_max: usize,
    /// Bounds and windows of the detector.
    pub detector: RaceConfig,
}

impl Default for RaceStageConfig {
    fn default() -> Self {
        RaceStageConfig {
            group: "raceway-race".into(),
            poll_max: 5000,
            detector: RaceConfig::default(),
        }
    }
}

/// The race stage; [`RaceStage::run`] consumes until shutdown.
pub struct RaceStage {
    io: StageIo,
    store: Arc<dyn Store>,
    config: RaceStageConfig,
    detector: RaceDetector,
    findings: FindingAggregator,
    /// Where each retained access came from, to release its record when it is evicted.
    retained: HashMap<Uuid, (String, i32, i64)>,
    /// Newest event time seen: the detector's window ends here.
    newest_ns: i64,
}

impl RaceStage {
    /// Builds the stage around a subscribed [`StageIo`] (topic: accesses).
    pub fn new(io: StageIo, store: Arc<dyn Store>, config: RaceStageConfig) -> Self {
        RaceStage {
            io,
            store,
            detector: RaceDetector::new(config.detector.clone()),
            findings: FindingAggregator::default(),
            config,
            retained: HashMap::new(),
            newest_ns: i64::MIN,
        }
    }

    /// Consumes accesses and writes findings until shutdown.
    pub async fn run(mut self) -> Result<(), StageError> {
        while !self.io.stopping() {
            self.step().await?;
        }
        self.io.commit().await;
        Ok(())
    }

    async fn step(&mut self) -> Result<(), StageError> {
        let records = self.io.poll(self.config.poll_max).await;
        let mut rejected = Vec::new();
        let mut changed: BTreeMap<String, RaceFinding> = BTreeMap::new();
        let detected_at_ns = now_ns();
        for record in records {
            let access = match decode_access(&record.value) {
                Ok(access) => access,
                Err(err) => {
                    rejected.push((record, format!("not an Access: {err}")));
                    continue;
                }
            };
            let event_id = access.event_id;
            self.newest_ns = self.newest_ns.max(access.timestamp_ns);
            let already_retained = self.retained.contains_key(&event_id);
            let observation = self.detector.observe(access);
            for pair in &observation.pairs {
                if let Some(finding) = self.findings.record(pair, detected_at_ns) {
                    changed.insert(finding.id.clone(), finding);
                }
            }
            if !already_retained && !observation.evicted.contains(&event_id) {
                self.io
                    .offsets
                    .hold(&record.topic, record.partition, record.offset);
                self.retained.insert(
                    event_id,
                    (record.topic.clone(), record.partition, record.offset),
                );
            }
            self.release(&observation.evicted);
        }
        self.io.dead_letter(&rejected).await?;
        if self.newest_ns != i64::MIN {
            let horizon = self
                .newest_ns
                .saturating_sub(self.config.detector.window_ns);
            let evicted = self.detector.evict_older_than(horizon);
            self.release(&evicted);
        }
        self.io
            .metrics
            .retained_accesses
            .set(self.detector.retained_len() as i64);
        self.write_findings(changed.into_values().collect()).await?;
        self.io.commit().await;
        Ok(())
    }

    fn release(&mut self, evicted: &[Uuid]) {
        for event_id in evicted {
            if let Some((topic, partition, offset)) = self.retained.remove(event_id) {
                self.io.offsets.release(&topic, partition, offset);
            }
        }
    }

    async fn write_findings(&mut self, findings: Vec<RaceFinding>) -> Result<(), StageError> {
        if findings.is_empty() {
            return Ok(());
        }
        let store = &self.store;
        self.io
            .store_retrying("store findings", || store.upsert_findings(&findings))
            .await?;
        self.io
            .metrics
            .findings_written
            .inc_by(findings.len() as u64);
        Ok(())
    }
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

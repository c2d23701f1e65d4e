//! What both stages do around their analysis: poll, dead-letter, retry, commit.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use raceway_store::StoreError;
use tokio::sync::watch;

use crate::bus::{Bus, BusConsumer, BusError, ConsumedRecord, Record};
use crate::dead_letter::dead_letter_record;
use crate::metrics::ProcessorMetrics;
use crate::offsets::OffsetTracker;
use crate::retry::{retry_until_ok, ShutdownDuringRetry};
use crate::topics::Topics;

/// Why a stage stopped other than by a clean shutdown.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("cannot join the consumer group: {0}")]
    Subscribe(#[source] BusError),
    #[error(transparent)]
    Shutdown(#[from] ShutdownDuringRetry),
}

/// A stage's connection to the bus: its consumer, the offsets it may commit, and shutdown.
pub struct StageIo {
    pub bus: Arc<dyn Bus>,
    pub topics: Topics,
    pub metrics: ProcessorMetrics,
    pub offsets: OffsetTracker,
    pub shutdown: watch::Receiver<bool>,
    consumer: Box<dyn BusConsumer>,
}

/// How long one poll waits for records; also how often stages look at their timers.
const POLL_WAIT: Duration = Duration::from_millis(100);

impl StageIo {
    /// Joins `group` on `topic`.
    pub async fn subscribe(
        bus: Arc<dyn Bus>,
        topics: Topics,
        metrics: ProcessorMetrics,
        group: &str,
        topic: &str,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Self, StageError> {
        let consumer = bus
            .subscribe(group, &[topic.to_string()])
            .await
            .map_err(StageError::Subscribe)?;
        Ok(StageIo {
            bus,
            topics,
            metrics,
            offsets: OffsetTracker::default(),
            shutdown,
            consumer,
        })
    }

    /// True once shutdown was requested.
    pub fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Polls up to `max` records (none on a poll error, which is logged and retried by the
    /// next call). Every record is marked consumed and counted.
    pub async fn poll(&mut self, max: usize) -> Vec<ConsumedRecord> {
        match self.consumer.poll(max, POLL_WAIT).await {
            Ok(records) => {
                for record in &records {
                    self.offsets
                        .consumed(&record.topic, record.partition, record.offset);
                    self.metrics
                        .records_consumed
                        .with_label_values(&[&record.topic])
                        .inc();
                }
                records
            }
            Err(err) => {
                tracing::warn!(error = %err, "poll failed; retrying");
                tokio::time::sleep(POLL_WAIT).await;
                Vec::new()
            }
        }
    }

    /// Sends undecodable records to the dead-letter topic, retrying until durable.
    pub async fn dead_letter(
        &mut self,
        rejected: &[(ConsumedRecord, String)],
    ) -> Result<(), ShutdownDuringRetry> {
        if rejected.is_empty() {
            return Ok(());
        }
        let records: Vec<Record> = rejected
            .iter()
            .map(|(record, reason)| {
                tracing::warn!(topic = %record.topic, partition = record.partition,
                    offset = record.offset, reason = %reason, "dead-lettering record");
                self.metrics
                    .dead_letters
                    .with_label_values(&[&record.topic])
                    .inc();
                dead_letter_record(record, reason)
            })
            .collect();
        self.produce_retrying(
            "produce dead letters",
            self.topics.dead_letter.clone(),
            records,
        )
        .await
    }

    /// Produces `records` to `topic`, retrying until durable.
    pub async fn produce_retrying(
        &self,
        operation: &'static str,
        topic: String,
        records: Vec<Record>,
    ) -> Result<(), ShutdownDuringRetry> {
        let bus = self.bus.clone();
        retry_until_ok(operation, &self.shutdown, || {
            let bus = bus.clone();
            let topic = topic.clone();
            let records = records.clone();
            async move { bus.produce(&topic, records).await }
        })
        .await
    }

    /// Runs a store call until it succeeds, counting failures. While the store is down the
    /// stage sits here and consumes nothing more: that is the backpressure.
    pub async fn store_retrying<T, F, Fut>(
        &self,
        operation: &'static str,
        mut attempt: F,
    ) -> Result<T, ShutdownDuringRetry>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let failures = &self.metrics.store_failures;
        retry_until_ok(operation, &self.shutdown, || {
            let call = attempt();
            async move {
                let result = call.await;
                if result.is_err() {
                    failures.inc();
                }
                result
            }
        })
        .await
    }

    /// Commits every position that moved. A failed commit is logged and offered again later:
    /// the records are re-read after a crash, which the stages tolerate (idempotent writes).
    pub async fn commit(&mut self) {
        let positions = self.offsets.positions_to_commit();
        if positions.is_empty() {
            return;
        }
        if let Err(err) = self.consumer.commit(&positions).await {
            tracing::warn!(error = %err, "offset commit failed; will retry");
            self.offsets.commit_failed(&positions);
        }
    }
}

//! What both stages do around their analysis: poll, dead-letter, retry, commit.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    /// The consumer group: names the stage in metrics and readiness.
    group: String,
    /// When the lag was last asked for; `None` before the first time.
    lag_checked: Option<Instant>,
    /// When the current batch was polled, for the batch histogram.
    batch_started: Option<Instant>,
}

/// How often the consumer lag (a broker round trip) is refreshed.
const LAG_EVERY: Duration = Duration::from_secs(2);

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
        metrics.readiness.register(group);
        Ok(StageIo {
            bus,
            topics,
            metrics,
            offsets: OffsetTracker::default(),
            shutdown,
            consumer,
            group: group.to_string(),
            lag_checked: None,
            batch_started: None,
        })
    }

    /// True once shutdown was requested.
    pub fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Polls up to `max` records (none on a poll error, which is logged and retried by the
    /// next call). Every record is marked consumed and counted. Every few seconds, also
    /// refreshes the lag gauges and the stage's readiness.
    pub async fn poll(&mut self, max: usize) -> Vec<ConsumedRecord> {
        if self.lag_checked.is_none_or(|at| at.elapsed() >= LAG_EVERY) {
            self.refresh_lag().await;
        }
        let polled = self.consumer.poll(max, POLL_WAIT).await;
        self.batch_started = Some(Instant::now());
        match polled {
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

    async fn refresh_lag(&mut self) {
        self.lag_checked = Some(Instant::now());
        match self.consumer.lag().await {
            Ok(lags) => {
                let mut total = 0;
                for lag in &lags {
                    let partition = lag.partition.to_string();
                    self.metrics
                        .consumer_lag
                        .with_label_values(&[lag.topic.as_str(), partition.as_str()])
                        .set(lag.lag);
                    total += lag.lag;
                }
                self.metrics
                    .readiness
                    .report(&self.group, lags.len(), total);
            }
            Err(err) => tracing::debug!(error = %err, "cannot read the consumer lag yet"),
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
        let count = records.len() as u64;
        retry_until_ok(operation, &self.shutdown, || {
            let bus = bus.clone();
            let topic = topic.clone();
            let records = records.clone();
            async move { bus.produce(&topic, records).await }
        })
        .await?;
        self.metrics
            .records_produced
            .with_label_values(&[topic.as_str()])
            .inc_by(count);
        Ok(())
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
        let started = Instant::now();
        let result = retry_until_ok(operation, &self.shutdown, || {
            let call = attempt();
            async move {
                let result = call.await;
                if result.is_err() {
                    failures.inc();
                }
                result
            }
        })
        .await?;
        self.metrics
            .store_seconds
            .with_label_values(&[operation])
            .observe(started.elapsed().as_secs_f64());
        Ok(result)
    }

    /// Commits every position that moved. A failed commit is logged and offered again later:
    /// the records are re-read after a crash, which the stages tolerate (idempotent writes).
    pub async fn commit(&mut self) {
        if let Some(started) = self.batch_started.take() {
            self.metrics
                .batch_seconds
                .with_label_values(&[self.group.as_str()])
                .observe(started.elapsed().as_secs_f64());
        }
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

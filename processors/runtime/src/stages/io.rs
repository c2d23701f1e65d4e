//! What both stages do around their analysis: poll, dead-letter, retry, commit.
//!
//! A step's commit is sent without waiting for the broker ([`BusConsumer::start_commit`]), so
//! the round trip to the group coordinator overlaps the next poll instead of holding it. What a
//! commit covers is already durable downstream (written, produced) when it is sent; a commit
//! lost in a crash only means that more records are read again, which the stages tolerate
//! (idempotent writes). The last commit, at shutdown, is awaited.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use raceway_bus::{Bus, BusConsumer, BusError, ConsumedRecord, Record, Topics};
use raceway_store::StoreError;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::dead_letter::dead_letter_record;
use crate::metrics::ProcessorMetrics;
use crate::offsets::OffsetTracker;
use crate::retry::{retry_until_ok, ShutdownDuringRetry};

/// Why a stage stopped other than by a clean shutdown.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("cannot join the consumer group: {0}")]
    Subscribe(#[source] BusError),
    #[error(transparent)]
    Shutdown(#[from] ShutdownDuringRetry),
}

/// The outcome of a stage stopped by shutdown: a shutdown that interrupted a retry (the store or
/// the bus was failing) is still a clean stop, since nothing uncommitted is lost: the next owner
/// of the partitions reads those records again.
pub fn stopped_cleanly(result: Result<(), StageError>) -> Result<(), StageError> {
    match result {
        Err(StageError::Shutdown(interrupted)) => {
            tracing::warn!(error = %interrupted,
                "stopped during an outage; uncommitted records will be read again");
            Ok(())
        }
        other => other,
    }
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
    /// Whether the last poll returned nothing.
    idle: bool,
}

/// How often the consumer lag (a broker round trip) is refreshed while records flow.
const LAG_EVERY: Duration = Duration::from_secs(2);

/// How often it is refreshed while the stage is idle, so that `/ready` reports a drained
/// pipeline soon after the last record.
const IDLE_LAG_EVERY: Duration = Duration::from_millis(250);

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
            idle: false,
        })
    }

    /// True once shutdown was requested.
    pub fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Polls up to `max` records (none on a poll error, which is logged and retried by the
    /// next call). Every record is marked consumed and counted. Every few seconds (more often
    /// while idle), also refreshes the lag gauges and the stage's readiness.
    pub async fn poll(&mut self, max: usize) -> Vec<ConsumedRecord> {
        self.poll_until(max, None).await
    }

    /// [`StageIo::poll`], but waiting for records no later than `wake_at` (a timer of the
    /// stage), when that comes before the usual wait ends. Only the wait for records already
    /// fetched is shortened: the consumer fetches from the broker on its own schedule.
    pub async fn poll_until(
        &mut self,
        max: usize,
        wake_at: Option<Instant>,
    ) -> Vec<ConsumedRecord> {
        let every = if self.idle { IDLE_LAG_EVERY } else { LAG_EVERY };
        if self.lag_checked.is_none_or(|at| at.elapsed() >= every) {
            self.refresh_lag().await;
        }
        let poll_started = Instant::now();
        let wait = wake_at.map_or(POLL_WAIT, |at| {
            POLL_WAIT.min(at.saturating_duration_since(poll_started))
        });
        let polled = self.consumer.poll(max, wait).await;
        self.bus_call_took("poll", poll_started);
        self.batch_started = Some(Instant::now());
        self.idle = matches!(&polled, Ok(records) if records.is_empty());
        if matches!(&polled, Ok(records) if !records.is_empty()) {
            self.metrics.readiness.worked(&self.group);
        }
        match polled {
            Ok(records) => {
                let now_ms = epoch_ms();
                for record in &records {
                    self.offsets
                        .consumed(&record.topic, record.partition, record.offset);
                    self.metrics
                        .records_consumed
                        .with_label_values(&[&record.topic])
                        .inc();
                    if let Some(produced_ms) = record.produced_ms {
                        let waited = (now_ms - produced_ms).max(0) as f64 / 1000.0;
                        self.metrics
                            .record_wait_seconds
                            .with_label_values(&[&record.topic])
                            .observe(waited);
                    }
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

    /// Work the stage holds back for later (open traces), for the drained signal of `/ready`.
    pub fn set_pending(&self, pending: usize) {
        self.metrics.readiness.pending(&self.group, pending);
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
                let measured_at = self.consumer.lag_measured_at();
                self.metrics
                    .readiness
                    .report_measured(&self.group, lags.len(), total, measured_at);
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
        let started = Instant::now();
        retry_until_ok(operation, &self.shutdown, || {
            let bus = bus.clone();
            let topic = topic.clone();
            let records = records.clone();
            async move { bus.produce(&topic, records).await }
        })
        .await?;
        self.bus_call_took(operation, started);
        self.metrics.readiness.worked(&self.group);
        self.metrics
            .records_produced
            .with_label_values(&[topic.as_str()])
            .inc_by(count);
        Ok(())
    }

    /// The partition count of `topic`, from the bus's metadata, asked again until it answers:
    /// records grouped per partition need the topic's own count (see `input_batches`).
    pub async fn partitions_retrying(
        &self,
        operation: &'static str,
        topic: &str,
    ) -> Result<i32, ShutdownDuringRetry> {
        retry_until_ok(operation, &self.shutdown, || self.bus.partitions(topic)).await
    }

    /// Runs a store call until it succeeds, counting failures. While the store is down the
    /// stage sits here and consumes nothing more: that is the backpressure.
    pub async fn store_retrying<T, F, Fut>(
        &self,
        operation: &'static str,
        attempt: F,
    ) -> Result<T, ShutdownDuringRetry>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        store_retrying(&self.metrics, &self.shutdown, operation, attempt).await
    }

    /// Ends a step: sends a commit of every position that moved, without waiting for it
    /// (module doc). A commit the bus refuses at once is logged and offered again later.
    pub async fn commit(&mut self) {
        if let Some(started) = self.batch_started.take() {
            self.metrics
                .batch_seconds
                .with_label_values(&[self.group.as_str()])
                .observe(started.elapsed().as_secs_f64());
        }
        self.send_commit(false).await;
    }

    /// The last commit, at shutdown: waits until it is durable.
    pub async fn commit_at_stop(&mut self) {
        self.send_commit(true).await;
    }

    async fn send_commit(&mut self, wait: bool) {
        let positions = self.offsets.positions_to_commit();
        if positions.is_empty() {
            return;
        }
        let started = Instant::now();
        let committed = if wait {
            self.consumer.commit(&positions).await
        } else {
            self.consumer.start_commit(&positions).await
        };
        self.bus_call_took("commit offsets", started);
        if let Err(err) = committed {
            tracing::warn!(error = %err, "offset commit failed; will retry");
            self.offsets.commit_failed(&positions);
        }
    }

    /// Times a bus call of `operation` begun at `started`.
    fn bus_call_took(&self, operation: &str, started: Instant) {
        self.metrics
            .bus_seconds
            .with_label_values(&[self.group.as_str(), operation])
            .observe(started.elapsed().as_secs_f64());
    }
}

/// Now in milliseconds since the Unix epoch, the unit of a record's bus timestamp.
fn epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64)
}

/// Runs a store call until it succeeds (or shutdown interrupts its retries), counting failures
/// and timing the successful call under `operation`.
pub async fn store_retrying<T, F, Fut>(
    metrics: &ProcessorMetrics,
    shutdown: &watch::Receiver<bool>,
    operation: &'static str,
    mut attempt: F,
) -> Result<T, ShutdownDuringRetry>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let failures = &metrics.store_failures;
    let started = Instant::now();
    let result = retry_until_ok(operation, shutdown, || {
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
    metrics
        .store_seconds
        .with_label_values(&[operation])
        .observe(started.elapsed().as_secs_f64());
    Ok(result)
}

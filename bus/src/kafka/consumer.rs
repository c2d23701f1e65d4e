//! The Kafka consumer: a member of a consumer group, committing offsets explicitly.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures::{FutureExt, StreamExt};
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::KafkaResult;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tokio::time::Instant;

use super::{forward_log, KafkaBus};
use crate::{BusConsumer, BusError, ConsumedRecord, PartitionLag, Polled};

/// Consumer context: logs partition assignment and revocation, and keeps the ledger of
/// asynchronous commits.
struct GroupContext {
    group: String,
    commits: Mutex<CommitLedger>,
}

/// What the asynchronous commits sent and which of them failed (see
/// [`BusConsumer::start_commit`]).
#[derive(Default)]
struct CommitLedger {
    /// Per (topic, partition), the offset sent last.
    sent: HashMap<(String, i32), i64>,
    /// Offsets whose commit the broker refused, to send again.
    failed: Vec<(String, i32, i64)>,
}

impl CommitLedger {
    /// `offsets` with the failed commits that are still the latest of their partition added
    /// (an older failed offset is superseded by whatever was sent after it); records them all
    /// as sent.
    fn next_commit(&mut self, offsets: &[(String, i32, i64)]) -> Vec<(String, i32, i64)> {
        let mut out = offsets.to_vec();
        for (topic, partition, offset) in std::mem::take(&mut self.failed) {
            let key = (topic, partition);
            let is_latest = self.sent.get(&key) == Some(&offset);
            let is_resent = out.iter().any(|(t, p, _)| *t == key.0 && *p == key.1);
            if is_latest && !is_resent {
                out.push((key.0, key.1, offset));
            }
        }
        for (topic, partition, offset) in &out {
            self.sent.insert((topic.clone(), *partition), *offset);
        }
        out
    }
}

fn lock(ledger: &Mutex<CommitLedger>) -> MutexGuard<'_, CommitLedger> {
    ledger.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ClientContext for GroupContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        forward_log(level, fac, message);
    }
}

fn describe(list: &TopicPartitionList) -> String {
    let parts: Vec<String> = list
        .elements()
        .iter()
        .map(|e| format!("{}/{}", e.topic(), e.partition()))
        .collect();
    parts.join(", ")
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(list) => tracing::info!(
                group = %self.group, partitions = %describe(list), "partitions revoked"
            ),
            Rebalance::Assign(_) => {}
            Rebalance::Error(e) => {
                tracing::warn!(group = %self.group, error = %e, "rebalance failed")
            }
        }
    }

    /// An asynchronous commit's outcome: a refused one is sent again with the next commit.
    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        let Err(err) = result else {
            return;
        };
        tracing::warn!(group = %self.group, error = %err, partitions = %describe(offsets),
            "offset commit failed; sent again with the next commit");
        let mut ledger = lock(&self.commits);
        for element in offsets.elements() {
            if let Offset::Offset(offset) = element.offset() {
                let failed = (element.topic().to_string(), element.partition(), offset);
                ledger.failed.push(failed);
            }
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(list) = rebalance {
            tracing::info!(
                group = %self.group, partitions = %describe(list), "partitions assigned"
            );
        }
    }
}

/// A measure of the lag running on a blocking thread.
type LagRefresh = tokio::task::JoinHandle<Result<Vec<PartitionLag>, BusError>>;

/// A member of a Kafka consumer group.
pub(super) struct KafkaConsumer {
    consumer: Arc<StreamConsumer<GroupContext>>,
    bus: KafkaBus,
    /// The lag measure in progress, off the caller's path (see [`KafkaConsumer::lag`]), and
    /// when it began.
    lag_refresh: Option<(SystemTime, LagRefresh)>,
    /// When the measure in `last_lag` began (`UNIX_EPOCH` before the first).
    last_lag_at: SystemTime,
    /// The latest lag measured.
    last_lag: Vec<PartitionLag>,
}

impl KafkaConsumer {
    /// Creates a consumer in `group` subscribed to `topics` (which must exist). The group join
    /// itself happens in the background while the consumer is polled.
    pub(super) fn join(bus: KafkaBus, group: &str, topics: &[String]) -> Result<Self, BusError> {
        crate::check_subscription(group, topics)?;
        let consumer: StreamConsumer<GroupContext> = KafkaBus::base_config(bus.bootstrap())
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            // Defaults (45 s / 3 s) make joins and rebalances take 10-15 s on tansu.
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "500")
            .set("fetch.wait.max.ms", "100")
            // Incremental (cooperative) rebalancing: a member joining or dying moves only the
            // partitions that must move, so the others keep their in-memory windows. It is also
            // what makes tansu 0.6 hand a killed member's partitions to the survivors: with the
            // eager assignors, the survivor got back only its old share after the eviction.
            .set("partition.assignment.strategy", "cooperative-sticky")
            .create_with_context(GroupContext {
                group: group.to_string(),
                commits: Mutex::default(),
            })
            .map_err(|e| bus.classify("consumer creation", None, &e))?;
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&names)
            .map_err(|e| bus.classify("subscription", None, &e))?;
        tracing::info!(group, topics = %names.join(", "), "joining Kafka consumer group");
        Ok(KafkaConsumer {
            consumer: Arc::new(consumer),
            bus,
            lag_refresh: None,
            last_lag_at: SystemTime::UNIX_EPOCH,
            last_lag: Vec::new(),
        })
    }
}

fn to_record(message: &BorrowedMessage<'_>) -> ConsumedRecord {
    ConsumedRecord {
        topic: message.topic().to_string(),
        partition: message.partition(),
        offset: message.offset(),
        key: message.key().map(<[u8]>::to_vec),
        value: message.payload().map(<[u8]>::to_vec).unwrap_or_default(),
        produced_ms: message.timestamp().to_millis(),
    }
}

/// Waits up to `timeout` for records of `consumer`; returns at most `max` (see
/// [`BusConsumer::poll`]). Shared by the group member and the tail.
pub(super) async fn poll_stream<C: ConsumerContext + 'static>(
    consumer: &StreamConsumer<C>,
    bus: &KafkaBus,
    max: usize,
    timeout: Duration,
) -> Polled {
    if max == 0 {
        return Ok(Vec::new());
    }
    let deadline = Instant::now() + timeout;
    let mut stream = consumer.stream();
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) | Ok(None) => return Ok(out),
            Ok(Some(Ok(message))) => {
                out.push(to_record(&message));
                break;
            }
            Ok(Some(Err(e))) => {
                let error = bus.classify("consume", None, &e);
                if !error.is_retryable() {
                    return Err(error);
                }
                // librdkafka reconnects and resumes by itself (like Java's poll, which
                // does not throw on a broker restart): report and keep waiting.
                tracing::warn!(%error, "Kafka consumer: transient error, still polling");
                let pause = Instant::now() + Duration::from_millis(100);
                tokio::time::sleep_until(pause.min(deadline)).await;
            }
        }
    }
    // Take whatever else is already fetched, without waiting.
    while out.len() < max {
        match stream.next().now_or_never() {
            Some(Some(Ok(message))) => out.push(to_record(&message)),
            Some(Some(Err(e))) => {
                tracing::warn!(error = %e, "Kafka consumer error after a batch");
                break;
            }
            Some(None) | None => break,
        }
    }
    Ok(out)
}

#[async_trait]
impl BusConsumer for KafkaConsumer {
    async fn poll(&mut self, max: usize, timeout: Duration) -> Polled {
        poll_stream(&self.consumer, &self.bus, max, timeout).await
    }

    async fn commit(&mut self, offsets: &[(String, i32, i64)]) -> Result<(), BusError> {
        if offsets.is_empty() {
            return Ok(());
        }
        let list = self.commit_list(offsets)?;
        let consumer = self.consumer.clone();
        tokio::task::spawn_blocking(move || consumer.commit(&list, CommitMode::Sync))
            .await
            .map_err(|e| BusError::Internal(format!("commit worker failed: {e}")))?
            .map_err(|e| self.bus.classify("offset commit", None, &e))
    }

    /// Hands the commit to librdkafka's group thread and returns: the round trip to the group
    /// coordinator (tens to hundreds of milliseconds on a loaded broker, once per step of each
    /// stage) overlaps the stage's next poll instead of holding it. librdkafka sends a
    /// consumer's commits in order; the outcome arrives in [`GroupContext::commit_callback`]
    /// while the consumer is polled.
    async fn start_commit(&mut self, offsets: &[(String, i32, i64)]) -> Result<(), BusError> {
        if offsets.is_empty() {
            return Ok(());
        }
        let list = self.commit_list(offsets)?;
        self.consumer
            .commit(&list, CommitMode::Async)
            .map_err(|e| self.bus.classify("offset commit", None, &e))
    }

    /// The lag of the latest measure that completed; each call starts the next measure when
    /// none is running. A measure is a broker round trip per assigned partition plus one for
    /// the committed offsets: awaited in line, it held the stage's next poll for all of them
    /// (hundreds of milliseconds per call on a loaded broker, several times a second while the
    /// stage is idle), so it runs on a blocking thread while the stage goes on polling, and its
    /// result is reported one call later.
    async fn lag(&mut self) -> Result<Vec<PartitionLag>, BusError> {
        let finished = match self.lag_refresh.take() {
            Some((began, running)) if !running.is_finished() => {
                self.lag_refresh = Some((began, running));
                return Ok(self.last_lag.clone());
            }
            Some((began, done)) => Some((
                began,
                done.await
                    .map_err(|e| BusError::Internal(format!("lag worker failed: {e}")))?,
            )),
            None => None,
        };
        self.lag_refresh = Some((SystemTime::now(), self.measure_lag()));
        match finished {
            Some((began, Ok(lags))) => {
                self.last_lag.clone_from(&lags);
                self.last_lag_at = began;
                Ok(lags)
            }
            Some((_, Err(err))) => Err(err),
            None => Ok(self.last_lag.clone()),
        }
    }
    fn lag_measured_at(&self) -> SystemTime {
        self.last_lag_at
    }
}

impl KafkaConsumer {
    /// The list to commit: `offsets` and the failed commits to send again (see
    /// [`CommitLedger::next_commit`]).
    fn commit_list(&self, offsets: &[(String, i32, i64)]) -> Result<TopicPartitionList, BusError> {
        let offsets = lock(&self.consumer.context().commits).next_commit(offsets);
        let mut list = TopicPartitionList::new();
        for (topic, partition, offset) in &offsets {
            list.add_partition_offset(topic, *partition, Offset::Offset(*offset))
                .map_err(|e| {
                    BusError::InvalidArgument(format!("offset for {topic}/{partition}: {e}"))
                })?;
        }
        Ok(list)
    }

    /// Measures the lag of every assigned partition on a blocking thread.
    fn measure_lag(&self) -> LagRefresh {
        const ASK: Duration = Duration::from_secs(2);
        let consumer = self.consumer.clone();
        let bus = self.bus.clone();
        tokio::task::spawn_blocking(move || {
            let failed = |e| bus.classify("consumer lag", None, &e);
            let assignment = consumer.assignment().map_err(failed)?;
            if assignment.count() == 0 {
                return Ok(Vec::new());
            }
            // The position is where the next poll reads; before the first record of a
            // partition arrives it is unknown, and the committed offset stands in for it.
            let positions = consumer.position().map_err(failed)?;
            let committed = consumer.committed(ASK).map_err(failed)?;
            let mut lags = Vec::new();
            for element in assignment.elements() {
                let (topic, partition) = (element.topic(), element.partition());
                let (low, high) = consumer
                    .fetch_watermarks(topic, partition, ASK)
                    .map_err(failed)?;
                let offset_in = |list: &TopicPartitionList| {
                    list.find_partition(topic, partition)
                        .and_then(|e| match e.offset() {
                            Offset::Offset(o) => Some(o),
                            _ => None,
                        })
                };
                let position = offset_in(&positions)
                    .or_else(|| offset_in(&committed))
                    .unwrap_or(low);
                lags.push(PartitionLag {
                    topic: topic.to_string(),
                    partition,
                    lag: (high - position).max(0),
                });
            }
            Ok(lags)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::CommitLedger;

    fn offset(topic: &str, partition: i32, offset: i64) -> (String, i32, i64) {
        (topic.to_string(), partition, offset)
    }

    /// A refused commit is sent again with the next one, unless its partition was sent a later
    /// offset meanwhile or the next commit names the partition itself.
    #[test]
    fn failed_commits_are_sent_again_only_while_they_are_the_latest() {
        let mut ledger = CommitLedger::default();
        let sent = ledger.next_commit(&[offset("t", 0, 5), offset("t", 1, 7), offset("t", 2, 3)]);
        assert_eq!(sent.len(), 3);
        ledger.failed = sent;
        let superseded = ledger.next_commit(&[offset("t", 1, 9)]);
        assert_eq!(
            superseded,
            vec![offset("t", 1, 9), offset("t", 0, 5), offset("t", 2, 3)]
        );
        // A late failure report for offsets sent before the latest is dropped.
        ledger.failed = vec![offset("t", 1, 7)];
        assert_eq!(ledger.next_commit(&[]), Vec::new());
        assert!(ledger.failed.is_empty());
    }
}

//! The message bus: Kafka in production, an embedded SQLite-backed log in `raceway up`.
//!
//! This crate holds the [`Bus`] trait, the records it moves, the topic names ([`Topics`]) and
//! Kafka's partitioner ([`partition_for`]). The implementations sit behind features so that a
//! crate that only produces or consumes (the ingest gateway, the stages) builds neither rdkafka
//! nor SQLite: `kafka` gives [`KafkaBus`], `embedded` gives [`EmbeddedBus`]; the binary picks.
//!
//! Both implementations offer the same model: named topics with a fixed number of partitions,
//! keyed records placed by Kafka's murmur2 partitioner ([`partition_for`]), per-partition offsets
//! contiguous from 0, and consumer groups whose committed offsets (the offset of the next record
//! to read) survive a restart. Producing returns only once the records are durable.

#[cfg(feature = "embedded")]
mod embedded;
#[cfg(feature = "kafka")]
mod kafka;
mod murmur2;
mod partition_groups;
mod topics;

#[cfg(feature = "embedded")]
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

#[cfg(feature = "embedded")]
pub use self::embedded::EmbeddedBus;
#[cfg(feature = "kafka")]
pub use self::kafka::KafkaBus;
pub use self::murmur2::{murmur2, partition_for};
pub use self::partition_groups::PartitionGroups;
pub use self::topics::{Topics, DEFAULT_PARTITIONS};

/// A record to produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Partitioning key (trace id for events, variable for accesses).
    pub key: Vec<u8>,
    /// Payload.
    pub value: Vec<u8>,
}

impl Record {
    /// A record with this key and value.
    pub fn new(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Record {
        Record {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// A consumed record and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumedRecord {
    /// Topic it was read from.
    pub topic: String,
    /// Partition it was read from.
    pub partition: i32,
    /// Its offset in that partition; commit `offset + 1` once it is processed.
    pub offset: i64,
    /// Its key, if it had one.
    pub key: Option<Vec<u8>>,
    /// Its payload (empty for a Kafka record with a null value).
    pub value: Vec<u8>,
    /// When it was produced (milliseconds since the Unix epoch), if the bus keeps a timestamp
    /// (Kafka's record timestamp; the embedded log keeps none).
    pub produced_ms: Option<i64>,
}

/// What a poll returns: the records read (possibly none), or why it failed.
pub type Polled = Result<Vec<ConsumedRecord>, BusError>;

/// How far a consumer is behind the end of one of its partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    /// Topic of the partition.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// Records between the consumer's position and the end of the partition.
    pub lag: i64,
}

/// A message bus: topics, durable produce, consumer groups.
#[async_trait]
pub trait Bus: Send + Sync {
    /// Creates the topics if missing (idempotent), with this many partitions.
    ///
    /// `partitions <= 0` means the bus default ([`DEFAULT_PARTITIONS`] on Kafka, the count given
    /// to `EmbeddedBus::open` on the embedded bus). An existing topic keeps its partition count
    /// (a mismatch is logged as a warning).
    async fn create_topics(&self, topics: &[String], partitions: i32) -> Result<(), BusError>;

    /// Produces records; returns only when all are durable (Kafka acks=all; embedded: SQLite
    /// transaction committed). Keys are hashed with murmur2 like Java's default partitioner.
    ///
    /// Producing to a topic that does not exist fails with [`BusError::UnknownTopic`]. On an
    /// error some of the records may nevertheless have been stored: retrying the whole call is
    /// at-least-once, never lossy.
    async fn produce(&self, topic: &str, records: Vec<Record>) -> Result<(), BusError>;

    /// The partition count of `topic`, as [`Bus::produce`] uses it to place a key (see
    /// [`partition_for`]); [`BusError::UnknownTopic`] when it does not exist.
    async fn partitions(&self, topic: &str) -> Result<i32, BusError>;

    /// Joins consumer group `group` on `topics`.
    ///
    /// The consumer starts at the group's committed offsets, or at the earliest record of a
    /// partition the group never committed. Every topic must exist.
    async fn subscribe(
        &self,
        group: &str,
        topics: &[String],
    ) -> Result<Box<dyn BusConsumer>, BusError>;

    /// Reads `topics` from now on, outside any consumer group: every partition is assigned
    /// directly at its end (the offset the next record will get), nothing is ever committed.
    ///
    /// For live readers that want only what is produced after they start, and must start at
    /// once: joining a group takes seconds (10-15 s on the local broker), and a group would
    /// share the partitions between instances that each need all of them. Every topic must
    /// exist.
    async fn tail(&self, topics: &[String]) -> Result<Box<dyn BusTail>, BusError>;
}

/// A reader of partitions from their ends at opening, outside any group (see [`Bus::tail`]).
/// Records produced before [`Bus::tail`] returned are never read; later ones are.
#[async_trait]
pub trait BusTail: Send + Sync {
    /// Waits up to `timeout` for records; returns at most `max` (possibly none), in offset
    /// order within a partition.
    async fn poll(&mut self, max: usize, timeout: Duration) -> Polled;
}

/// A member of a consumer group.
#[async_trait]
pub trait BusConsumer: Send + Sync {
    /// Waits up to `timeout` for records; returns at most `max` (possibly none).
    ///
    /// Returns as soon as some records are available (it does not wait to fill `max`). Within a
    /// partition records come in offset order; the consumer's position moves past the returned
    /// records whether or not they are committed. Transient broker trouble (a broker restart)
    /// is logged and waited out rather than returned, as Java's `poll` does; errors returned
    /// are the ones that need attention (e.g. a deleted topic).
    async fn poll(&mut self, max: usize, timeout: Duration) -> Polled;

    /// Commits, per (topic, partition), the offset of the NEXT record to read; returns once the
    /// commit is durable.
    async fn commit(&mut self, offsets: &[(String, i32, i64)]) -> Result<(), BusError>;

    /// Sends a commit like [`BusConsumer::commit`] without waiting for it to be durable, so the
    /// caller's next poll overlaps the round trip. Commits are applied in the order sent. A
    /// commit that fails at the broker is logged and sent again with the next call (if no
    /// later offset was sent for its partition meanwhile); one still in flight at a crash is
    /// lost, and its records are read again: at-least-once, as after any failed commit. The
    /// default waits (the embedded bus's commit is a local transaction, not a round trip).
    async fn start_commit(&mut self, offsets: &[(String, i32, i64)]) -> Result<(), BusError> {
        self.commit(offsets).await
    }

    /// The lag of every partition currently assigned to this consumer (empty before the group
    /// join completes). Asks the broker, so call it every few seconds, not per record. The Kafka
    /// consumer measures it off the caller's path: a call returns the latest measure completed
    /// (one call old) and starts the next.
    async fn lag(&mut self) -> Result<Vec<PartitionLag>, BusError>;

    /// When the measure the last [`BusConsumer::lag`] call returned began. Records polled
    /// after that moment are not in it, so whoever reads "no lag" as "nothing left" must date
    /// the check by this, not by the call: a measure begun before the latest records arrived
    /// would otherwise say they were processed. `UNIX_EPOCH` when none has completed yet. The
    /// default, for a bus that measures in line (the call itself), is now.
    fn lag_measured_at(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Rejects a subscription without a group name or without topics (both buses).
#[cfg(any(feature = "kafka", feature = "embedded"))]
pub(crate) fn check_subscription(group: &str, topics: &[String]) -> Result<(), BusError> {
    if group.trim().is_empty() {
        return Err(BusError::InvalidArgument(
            "empty consumer group name".into(),
        ));
    }
    if topics.is_empty() {
        return Err(BusError::InvalidArgument(format!(
            "consumer group {group} subscribed to no topic"
        )));
    }
    Ok(())
}

/// Why a bus operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// No broker answered.
    #[error("Kafka broker at {bootstrap} is unreachable: {detail}")]
    Unreachable {
        /// The bootstrap servers tried.
        bootstrap: String,
        /// What the client reported.
        detail: String,
    },
    /// The topic has not been created.
    #[error("topic {topic} does not exist: run `raceway migrate`")]
    UnknownTopic {
        /// The missing topic.
        topic: String,
    },
    /// A record exceeds the bus's maximum message size.
    #[error("record of {size} bytes for topic {topic} is too large: {detail}")]
    RecordTooLarge {
        /// Target topic.
        topic: String,
        /// Key plus value size in bytes.
        size: usize,
        /// What the bus reported.
        detail: String,
    },
    /// The operation did not finish in time.
    #[error("{operation} timed out: {detail}")]
    Timeout {
        /// What was attempted.
        operation: String,
        /// Details.
        detail: String,
    },
    /// The Kafka client or broker reported an error.
    #[error("Kafka {operation} failed: {message}")]
    Kafka {
        /// What was attempted.
        operation: String,
        /// The client's error.
        message: String,
        /// Whether trying again later may succeed.
        retryable: bool,
    },
    /// The embedded bus's SQLite log failed.
    #[cfg(feature = "embedded")]
    #[error("embedded bus log {path} failed: {source}")]
    Storage {
        /// The SQLite file.
        path: PathBuf,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// The embedded bus allows one live consumer per group in a process.
    #[error(
        "consumer group {group} already has a consumer in this process \
         (the embedded bus allows one consumer per group)"
    )]
    GroupBusy {
        /// The group.
        group: String,
    },
    /// The caller passed something the bus cannot accept.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A bug or an unexpected state (e.g. a worker thread panicked).
    #[error("internal bus error: {0}")]
    Internal(String),
}

impl BusError {
    /// Whether the same call may succeed later (broker down, timeouts, leadership changes,
    /// SQLite busy): callers answer 503 or back off and retry. Errors that need a human (missing
    /// topic, record too large, bad arguments) are not retryable.
    pub fn is_retryable(&self) -> bool {
        match self {
            BusError::Unreachable { .. } | BusError::Timeout { .. } => true,
            BusError::Kafka { retryable, .. } => *retryable,
            #[cfg(feature = "embedded")]
            BusError::Storage { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            BusError::UnknownTopic { .. }
            | BusError::RecordTooLarge { .. }
            | BusError::GroupBusy { .. }
            | BusError::InvalidArgument(_)
            | BusError::Internal(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_retryability() {
        let e = BusError::Unreachable {
            bootstrap: "127.0.0.1:9092".into(),
            detail: "connection refused".into(),
        };
        assert_eq!(
            e.to_string(),
            "Kafka broker at 127.0.0.1:9092 is unreachable: connection refused"
        );
        assert!(e.is_retryable());
        let e = BusError::UnknownTopic {
            topic: "raceway.events".into(),
        };
        assert_eq!(
            e.to_string(),
            "topic raceway.events does not exist: run `raceway migrate`"
        );
        assert!(!e.is_retryable());
        assert!(!BusError::InvalidArgument("x".into()).is_retryable());
    }

    #[cfg(feature = "embedded")]
    #[test]
    fn sqlite_busy_is_retryable() {
        let busy = BusError::Storage {
            path: "/tmp/x".into(),
            source: rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                None,
            ),
        };
        assert!(busy.is_retryable());
    }
}

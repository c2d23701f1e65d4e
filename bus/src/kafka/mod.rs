//! The bus on a Kafka-protocol broker (Apache Kafka, tansu, ...) through rdkafka.

mod consumer;
mod tail;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use tokio::time::Instant;

use self::consumer::KafkaConsumer;
use self::tail::KafkaTail;
use crate::{Bus, BusConsumer, BusError, BusTail, Record, DEFAULT_PARTITIONS};

/// How long metadata look-ups (topic existence, broker reachability) may take.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a produced record may take to be acknowledged before the produce fails.
const DELIVERY_TIMEOUT_MS: &str = "30000";
/// Largest produce request (and so record) this producer sends.
const MAX_MESSAGE_BYTES: &str = "10485760";
/// Replication factor of created topics: -1 = the broker's `default.replication.factor`.
const REPLICATION: i32 = -1;

/// The bus on a Kafka-protocol broker. Cloning is cheap; clones share the clients.
#[derive(Clone)]
pub struct KafkaBus {
    inner: Arc<Inner>,
}

struct Inner {
    bootstrap: String,
    producer: FutureProducer<LogContext>,
    admin: AdminClient<LogContext>,
    /// Topics known to exist -> partition count.
    known_topics: Mutex<HashMap<String, i32>>,
}

/// A topic as the broker's metadata shows it.
enum TopicState {
    /// Exists with this many partitions.
    Exists(i32),
    /// Does not exist.
    Missing,
    /// Exists but reports an error (e.g. no leader yet).
    NotReady(String),
}

/// Forwards librdkafka's log lines to `tracing`.
#[derive(Clone, Default)]
pub(super) struct LogContext;

impl rdkafka::consumer::ConsumerContext for LogContext {}

pub(super) fn forward_log(level: RDKafkaLogLevel, fac: &str, message: &str) {
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => tracing::error!(target: "librdkafka", fac, "{message}"),
        RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", fac, "{message}"),
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            tracing::info!(target: "librdkafka", fac, "{message}")
        }
        RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", fac, "{message}"),
    }
}

impl ClientContext for LogContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        forward_log(level, fac, message);
    }
}

/// The error code inside an rdkafka error, including admin-operation errors.
pub(super) fn code_of(err: &KafkaError) -> Option<RDKafkaErrorCode> {
    match err {
        KafkaError::AdminOp(code) => Some(*code),
        other => other.rdkafka_error_code(),
    }
}

/// Codes that mean "no broker is talking to us".
fn is_unreachable(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::AllBrokersDown
            | RDKafkaErrorCode::BrokerTransportFailure
            | RDKafkaErrorCode::Resolve
    )
}

/// Codes after which the same request may succeed later.
fn is_retriable(code: RDKafkaErrorCode) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        code,
        C::QueueFull
            | C::MessageTimedOut
            | C::OperationTimedOut
            | C::RequestTimedOut
            | C::TimedOutQueue
            | C::LeaderNotAvailable
            | C::NotLeaderForPartition
            | C::BrokerNotAvailable
            | C::ReplicaNotAvailable
            | C::NetworkException
            | C::CoordinatorLoadInProgress
            | C::CoordinatorNotAvailable
            | C::NotCoordinator
            | C::NotEnoughReplicas
            | C::NotEnoughReplicasAfterAppend
            | C::RebalanceInProgress
            | C::KafkaStorageError
            | C::FencedLeaderEpoch
            | C::UnknownLeaderEpoch
            | C::OffsetNotAvailable
            | C::PreferredLeaderNotAvailable
            | C::ThrottlingQuotaExceeded
            | C::WaitingForCoordinator
            | C::InProgress
            | C::Retry
            | C::AllBrokersDown
            | C::BrokerTransportFailure
            | C::Resolve
    )
}

/// Maps an rdkafka error to a [`BusError`] naming the broker and, where relevant, the topic.
fn classify(bootstrap: &str, operation: &str, topic: Option<&str>, err: &KafkaError) -> BusError {
    let code = code_of(err);
    match code {
        Some(c) if is_unreachable(c) => BusError::Unreachable {
            bootstrap: bootstrap.to_string(),
            detail: err.to_string(),
        },
        Some(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic)
            if topic.is_some() =>
        {
            BusError::UnknownTopic {
                topic: topic.unwrap_or_default().to_string(),
            }
        }
        Some(
            RDKafkaErrorCode::MessageTimedOut
            | RDKafkaErrorCode::OperationTimedOut
            | RDKafkaErrorCode::RequestTimedOut
            | RDKafkaErrorCode::TimedOutQueue,
        ) => BusError::Timeout {
            operation: format!("Kafka {operation} (broker {bootstrap})"),
            detail: err.to_string(),
        },
        _ => BusError::Kafka {
            operation: operation.to_string(),
            message: err.to_string(),
            retryable: code.is_some_and(is_retriable),
        },
    }
}

impl KafkaBus {
    /// Creates the clients for the brokers at `bootstrap` (`host:port[,host:port...]`).
    ///
    /// Does not contact the broker: an unreachable broker shows up as
    /// [`BusError::Unreachable`] from the first operation, or from [`KafkaBus::ping`].
    pub fn new(bootstrap: &str) -> Result<Self, BusError> {
        Self::with_producer_settings(bootstrap, &[])
    }

    /// [`KafkaBus::new`] with librdkafka producer properties set over this bus's own (e.g.
    /// `linger.ms`, `compression.type`, `batch.size`), to measure a broker under other settings.
    /// Setting `acks` to anything but `all` weakens what a successful produce promises.
    pub fn with_producer_settings(
        bootstrap: &str,
        settings: &[(&str, &str)],
    ) -> Result<Self, BusError> {
        if bootstrap.trim().is_empty() {
            return Err(BusError::InvalidArgument(
                "empty Kafka bootstrap address".into(),
            ));
        }
        let creation = |what: &str, e: KafkaError| BusError::Kafka {
            operation: format!("{what} creation"),
            message: e.to_string(),
            retryable: false,
        };
        let mut producer_config = Self::base_config(bootstrap);
        producer_config
            .set("acks", "all")
            .set("partitioner", "murmur2_random")
            .set("enable.idempotence", "false")
            .set("linger.ms", "5")
            .set("message.max.bytes", MAX_MESSAGE_BYTES)
            .set("message.timeout.ms", DELIVERY_TIMEOUT_MS);
        for (name, value) in settings {
            producer_config.set(*name, *value);
        }
        let producer: FutureProducer<LogContext> = producer_config
            .create_with_context(LogContext)
            .map_err(|e| creation("producer", e))?;
        let admin: AdminClient<LogContext> = Self::base_config(bootstrap)
            .create_with_context(LogContext)
            .map_err(|e| creation("admin client", e))?;
        Ok(KafkaBus {
            inner: Arc::new(Inner {
                bootstrap: bootstrap.to_string(),
                producer,
                admin,
                known_topics: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub(super) fn base_config(bootstrap: &str) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", bootstrap)
            .set("client.id", "raceway")
            .set("allow.auto.create.topics", "false")
            .set_log_level(RDKafkaLogLevel::Warning);
        config
    }

    /// The bootstrap servers this bus talks to.
    pub fn bootstrap(&self) -> &str {
        &self.inner.bootstrap
    }

    /// Checks that a broker answers a metadata request within `timeout`.
    pub async fn ping(&self, timeout: Duration) -> Result<(), BusError> {
        let producer = self.inner.producer.clone();
        let bootstrap = self.inner.bootstrap.clone();
        let brokers = tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_metadata(None, timeout)
                .map(|md| md.brokers().len())
        })
        .await
        .map_err(|e| BusError::Internal(format!("metadata worker failed: {e}")))?
        .map_err(|e| BusError::Unreachable {
            bootstrap: bootstrap.clone(),
            detail: e.to_string(),
        })?;
        if brokers == 0 {
            return Err(BusError::Unreachable {
                bootstrap,
                detail: "metadata lists no broker".into(),
            });
        }
        Ok(())
    }

    /// What the broker's metadata says about each topic.
    async fn lookup(&self, topics: Vec<String>) -> Result<Vec<(String, TopicState)>, BusError> {
        let producer = self.inner.producer.clone();
        let bootstrap = self.inner.bootstrap.clone();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::with_capacity(topics.len());
            for topic in topics {
                let md = producer
                    .client()
                    .fetch_metadata(Some(&topic), METADATA_TIMEOUT)
                    .map_err(|e| match code_of(&e) {
                        Some(c) if is_unreachable(c) || is_retriable(c) => BusError::Unreachable {
                            bootstrap: bootstrap.clone(),
                            detail: e.to_string(),
                        },
                        _ => classify(&bootstrap, "metadata request", None, &e),
                    })?;
                let state = match md.topics().iter().find(|t| t.name() == topic) {
                    None => TopicState::Missing,
                    Some(t) => match t.error().map(RDKafkaErrorCode::from) {
                        Some(
                            RDKafkaErrorCode::UnknownTopicOrPartition
                            | RDKafkaErrorCode::UnknownTopic,
                        ) => TopicState::Missing,
                        Some(code) => TopicState::NotReady(code.to_string()),
                        None if t.partitions().is_empty() => TopicState::Missing,
                        None => TopicState::Exists(
                            i32::try_from(t.partitions().len()).unwrap_or(i32::MAX),
                        ),
                    },
                };
                out.push((topic, state));
            }
            Ok(out)
        })
        .await
        .map_err(|e| BusError::Internal(format!("metadata worker failed: {e}")))?
    }

    /// The topics known to exist, with their partition counts. A panic while holding the lock
    /// cannot leave the map inconsistent (plain inserts and removals).
    fn known_topics(&self) -> MutexGuard<'_, HashMap<String, i32>> {
        self.inner
            .known_topics
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Fails with [`BusError::UnknownTopic`] unless every topic exists.
    async fn require_topics(&self, topics: &[String]) -> Result<(), BusError> {
        let missing: Vec<String> = {
            let known = self.known_topics();
            topics
                .iter()
                .filter(|t| !known.contains_key(*t))
                .cloned()
                .collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let found = self.lookup(missing).await?;
        let mut known = self.known_topics();
        for (topic, state) in found {
            match state {
                TopicState::Exists(n) => {
                    known.insert(topic, n);
                }
                TopicState::Missing => return Err(BusError::UnknownTopic { topic }),
                TopicState::NotReady(detail) => {
                    return Err(BusError::Kafka {
                        operation: format!("metadata request for topic {topic}"),
                        message: detail,
                        retryable: true,
                    })
                }
            }
        }
        Ok(())
    }

    fn forget_topic(&self, topic: &str) {
        self.known_topics().remove(topic);
    }

    pub(super) fn classify(
        &self,
        operation: &str,
        topic: Option<&str>,
        err: &KafkaError,
    ) -> BusError {
        classify(&self.inner.bootstrap, operation, topic, err)
    }
}

#[async_trait]
impl Bus for KafkaBus {
    async fn create_topics(&self, topics: &[String], partitions: i32) -> Result<(), BusError> {
        let wanted = if partitions <= 0 {
            DEFAULT_PARTITIONS
        } else {
            partitions
        };
        if topics.is_empty() {
            return Ok(());
        }
        let new_topics: Vec<NewTopic<'_>> = topics
            .iter()
            .map(|t| NewTopic::new(t, wanted, TopicReplication::Fixed(REPLICATION)))
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = self
            .inner
            .admin
            .create_topics(new_topics.iter(), &options)
            .await
            .map_err(|e| self.classify("topic creation", None, &e))?;
        for result in results {
            match result {
                Ok(topic) => tracing::info!(%topic, partitions = wanted, "created Kafka topic"),
                Err((topic, RDKafkaErrorCode::TopicAlreadyExists)) => {
                    tracing::debug!(%topic, "Kafka topic already exists")
                }
                Err((topic, code)) => {
                    return Err(BusError::Kafka {
                        operation: format!("creation of topic {topic}"),
                        message: code.to_string(),
                        retryable: is_retriable(code),
                    })
                }
            }
        }
        // Wait until the metadata shows every topic, so a produce right after succeeds.
        let deadline = Instant::now() + METADATA_TIMEOUT;
        let mut pending: Vec<String> = topics.to_vec();
        loop {
            let found = self.lookup(pending.clone()).await?;
            pending.clear();
            {
                let mut known = self.known_topics();
                for (topic, state) in found {
                    match state {
                        TopicState::Exists(n) => {
                            if n != wanted {
                                tracing::warn!(
                                    %topic, existing = n, requested = wanted,
                                    "Kafka topic exists with a different partition count; keeping it"
                                );
                            }
                            known.insert(topic, n);
                        }
                        TopicState::Missing | TopicState::NotReady(_) => pending.push(topic),
                    }
                }
            }
            if pending.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(BusError::Timeout {
                    operation: format!("creation of topics {}", pending.join(", ")),
                    detail: "created, but not yet visible in the broker's metadata".into(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn produce(&self, topic: &str, records: Vec<Record>) -> Result<(), BusError> {
        self.require_topics(&[topic.to_string()]).await?;
        let producer = &self.inner.producer;
        let mut deliveries = Vec::with_capacity(records.len());
        for record in &records {
            let mut pending = FutureRecord::to(topic)
                .key(&record.key[..])
                .payload(&record.value[..]);
            loop {
                match producer.send_result(pending) {
                    Ok(delivery) => {
                        deliveries.push((delivery, record.key.len() + record.value.len()));
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        // librdkafka's queue drains in the background: wait a little.
                        pending = back;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err((e, _)) => return Err(self.produce_error(topic, &e, record)),
                }
            }
        }
        let mut first_error = None;
        let mut failed = 0usize;
        for (delivery, size) in deliveries {
            let error = match delivery.await {
                Ok(Ok(_)) => continue,
                Ok(Err((e, _))) => self.produce_error_sized(topic, &e, size),
                Err(_) => BusError::Internal("Kafka producer dropped a delivery".into()),
            };
            failed += 1;
            first_error.get_or_insert(error);
        }
        match first_error {
            None => Ok(()),
            Some(error) => {
                tracing::warn!(topic, failed, total = records.len(), %error, "produce failed");
                Err(error)
            }
        }
    }

    async fn partitions(&self, topic: &str) -> Result<i32, BusError> {
        self.require_topics(&[topic.to_string()]).await?;
        self.known_topics()
            .get(topic)
            .copied()
            .ok_or_else(|| BusError::UnknownTopic {
                topic: topic.to_string(),
            })
    }

    async fn subscribe(
        &self,
        group: &str,
        topics: &[String],
    ) -> Result<Box<dyn BusConsumer>, BusError> {
        // An empty group or topic list fails in `join`; no topic has nothing to look up.
        self.require_topics(topics).await?;
        let consumer = KafkaConsumer::join(self.clone(), group, topics)?;
        Ok(Box::new(consumer))
    }

    async fn tail(&self, topics: &[String]) -> Result<Box<dyn BusTail>, BusError> {
        self.require_topics(topics).await?;
        let layout = {
            let known = self
                .inner
                .known_topics
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            topics
                .iter()
                .map(|t| (t.clone(), known.get(t).copied().unwrap_or(0)))
                .collect()
        };
        Ok(Box::new(KafkaTail::open(self.clone(), layout).await?))
    }
}

impl KafkaBus {
    fn produce_error(&self, topic: &str, err: &KafkaError, record: &Record) -> BusError {
        self.produce_error_sized(topic, err, record.key.len() + record.value.len())
    }

    fn produce_error_sized(&self, topic: &str, err: &KafkaError, size: usize) -> BusError {
        match code_of(err) {
            Some(
                RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::InvalidMessageSize
                | RDKafkaErrorCode::MessageBatchTooLarge,
            ) => BusError::RecordTooLarge {
                topic: topic.to_string(),
                size,
                detail: err.to_string(),
            },
            _ => {
                let error = self.classify("produce", Some(topic), err);
                if matches!(error, BusError::UnknownTopic { .. }) {
                    self.forget_topic(topic);
                }
                error
            }
        }
    }
}

//! [`KafkaSink`]: Avro `raceway.EventBatch` records straight to `raceway.events`, exactly as the
//! ingest gateway produces them (key = trace id, `murmur2_random` partitioner, `acks=all`).

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use raceway_schemas::avro::encode_event_batch_split;
use raceway_schemas::EventBatch;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::Sink;
use crate::error::SdkError;
use crate::setters::setters;

/// Settings of a [`KafkaSink`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaSinkConfig {
    /// Bootstrap servers, `host:port[,host:port...]`.
    pub bootstrap: String,
    /// Topic of event batches (`raceway.events`, with the deployment's topic prefix if any).
    pub topic: String,
    /// Largest record produced; bigger batches are split (as the gateway does).
    pub max_record_bytes: usize,
    /// How long one record may wait for the broker before it counts as undeliverable.
    pub delivery_timeout: Duration,
    /// After a failed delivery, batches are dropped (and counted) without trying for this long,
    /// so an unreachable broker costs one timeout per period, not one per batch.
    pub retry_after_failure: Duration,
}

impl KafkaSinkConfig {
    /// Defaults for the brokers at `bootstrap`: topic `raceway.events`, 1 MB records, 10 s
    /// delivery timeout, 5 s pause after a failure.
    pub fn new(bootstrap: impl Into<String>) -> KafkaSinkConfig {
        KafkaSinkConfig {
            bootstrap: bootstrap.into(),
            topic: "raceway.events".to_string(),
            max_record_bytes: 1_000_000,
            delivery_timeout: Duration::from_secs(10),
            retry_after_failure: Duration::from_secs(5),
        }
    }
}

setters!(KafkaSinkConfig {
    delivery_timeout: Duration,
    retry_after_failure: Duration,
} into {
    topic: String,
});

/// Produces each batch as Confluent-framed Avro `raceway.EventBatch` records, key = trace id,
/// to `raceway.events` (the same records as the ingest gateway's).
///
/// Never blocks the application: it runs on the tracer's delivery thread, librdkafka's own
/// queue refuses records instead of waiting when full, and while the broker is unreachable
/// batches are dropped and counted ([`crate::Tracer::stats`]) instead of piling up.
pub struct KafkaSink {
    producer: FutureProducer,
    config: KafkaSinkConfig,
    /// Until when batches are dropped without trying, after a failed delivery.
    paused_until: Mutex<Option<Instant>>,
}

impl KafkaSink {
    /// A sink with the defaults of [`KafkaSinkConfig::new`] for the brokers at `bootstrap`.
    pub fn new(bootstrap: &str) -> Result<KafkaSink, SdkError> {
        KafkaSink::with_config(KafkaSinkConfig::new(bootstrap))
    }

    /// A sink with explicit settings. Does not contact the broker.
    pub fn with_config(config: KafkaSinkConfig) -> Result<KafkaSink, SdkError> {
        let timeout_ms = config.delivery_timeout.as_millis().max(1).to_string();
        let producer = ClientConfig::new()
            .set("bootstrap.servers", &config.bootstrap)
            .set("client.id", "raceway-sdk")
            .set("acks", "all")
            .set("partitioner", "murmur2_random")
            .set("enable.idempotence", "false")
            .set("linger.ms", "5")
            .set("message.timeout.ms", &timeout_ms)
            .set(
                "message.max.bytes",
                (config.max_record_bytes + 4096).to_string(),
            )
            .set_log_level(RDKafkaLogLevel::Error)
            .create()?;
        Ok(KafkaSink {
            producer,
            config,
            paused_until: Mutex::new(None),
        })
    }

    /// The settings the sink was created with.
    pub fn config(&self) -> &KafkaSinkConfig {
        &self.config
    }

    fn paused(&self) -> bool {
        let paused = self
            .paused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        paused.is_some_and(|until| Instant::now() < until)
    }

    fn pause(&self) {
        let until = Instant::now() + self.config.retry_after_failure;
        *self
            .paused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(until);
    }

    async fn produce(&self, batch: EventBatch) -> Result<(), SdkError> {
        let key = batch.trace_id.to_string();
        let records = encode_event_batch_split(batch, self.config.max_record_bytes)?;
        let mut deliveries = Vec::with_capacity(records.len());
        for value in &records {
            let record = FutureRecord::to(&self.config.topic)
                .key(&key)
                .payload(value);
            // `send_result` never waits: a full librdkafka queue is an error right away.
            let delivery = self.producer.send_result(record).map_err(|(e, _)| e)?;
            deliveries.push(delivery);
        }
        for delivery in deliveries {
            match delivery.await {
                Ok(Ok(_)) => {}
                Ok(Err((error, _))) => return Err(error.into()),
                Err(_) => return Err(SdkError::ShutDown),
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Sink for KafkaSink {
    async fn deliver(&self, batch: EventBatch) -> Result<(), SdkError> {
        if self.paused() {
            return Err(SdkError::BrokerUnavailable);
        }
        let result = self.produce(batch).await;
        if let Err(error) = &result {
            if !matches!(error, SdkError::Encode(_)) {
                tracing::warn!(
                    topic = %self.config.topic,
                    %error,
                    pause = ?self.config.retry_after_failure,
                    "raceway: Kafka delivery failed, dropping batches for a while"
                );
                self.pause();
            }
        }
        result
    }
}

//! The transfers topic: messages with the trace context in their headers, in process or on
//! Kafka.

use async_trait::async_trait;
use raceway_sdk::propagation::messages::{MessageHeaders, Received};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, Mutex};

use crate::BankError;

/// Name of the transfers topic (before any deployment prefix).
pub const TRANSFERS_TOPIC: &str = "bank.transfers";

/// One transfer to apply to a balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// The account.
    pub account: String,
    /// Added to its balance.
    pub delta: i64,
    /// Why.
    pub reason: String,
}

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its key (the account).
    pub key: Option<String>,
    /// The JSON of a [`Transfer`].
    pub payload: Vec<u8>,
    /// Its headers, with the trace context.
    pub headers: MessageHeaders,
    /// Kafka partition, if any.
    pub partition: Option<i32>,
    /// Kafka offset, if any.
    pub offset: Option<i64>,
}

impl Message {
    /// The transfer it carries.
    pub fn transfer(&self) -> Result<Transfer, BankError> {
        Ok(serde_json::from_slice(&self.payload)?)
    }

    /// Where it came from, for [`raceway_sdk::propagation::messages::receive`].
    pub fn received<'a>(&'a self, topic: &'a str) -> Received<'a> {
        Received {
            topic,
            partition: self.partition,
            offset: self.offset,
            key: self.key.as_deref(),
        }
    }

    /// The headers as (name, value) pairs.
    pub fn header_pairs(&self) -> Vec<(&str, &[u8])> {
        self.headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_slice()))
            .collect()
    }
}

/// A topic of transfers.
#[async_trait]
pub trait TransferQueue: Send + Sync {
    /// Publishes `transfer` (keyed by its account) with `headers`.
    async fn publish(&self, transfer: &Transfer, headers: MessageHeaders) -> Result<(), BankError>;

    /// The next message; `None` when the topic is closed.
    async fn next(&self) -> Result<Option<Message>, BankError>;

    /// Waits until a consumer receiving through [`TransferQueue::next`] gets messages
    /// published from now on without delay (a Kafka consumer has joined its group); at most
    /// `timeout`.
    async fn ready(&self, timeout: std::time::Duration) -> Result<(), BankError> {
        let _ = timeout;
        Ok(())
    }
}

/// The transfers topic as an in-process queue (the embedded demo).
pub struct InProcessQueue {
    sender: mpsc::UnboundedSender<Message>,
    receiver: Mutex<mpsc::UnboundedReceiver<Message>>,
}

impl InProcessQueue {
    /// An empty queue.
    pub fn new() -> InProcessQueue {
        let (sender, receiver) = mpsc::unbounded_channel();
        InProcessQueue {
            sender,
            receiver: Mutex::new(receiver),
        }
    }
}

impl Default for InProcessQueue {
    fn default() -> InProcessQueue {
        InProcessQueue::new()
    }
}

#[async_trait]
impl TransferQueue for InProcessQueue {
    async fn publish(&self, transfer: &Transfer, headers: MessageHeaders) -> Result<(), BankError> {
        let message = Message {
            key: Some(transfer.account.clone()),
            payload: serde_json::to_vec(transfer)?,
            headers,
            partition: None,
            offset: None,
        };
        self.sender
            .send(message)
            .map_err(|_| BankError::Queue("the worker is gone".to_string()))
    }

    async fn next(&self) -> Result<Option<Message>, BankError> {
        Ok(self.receiver.lock().await.recv().await)
    }
}

#[cfg(feature = "kafka")]
pub use kafka::KafkaQueue;

#[cfg(feature = "kafka")]
mod kafka {
    use std::time::Duration;

    use async_trait::async_trait;
    use raceway_sdk::propagation::messages::kafka::{header_pairs, to_owned_headers};
    use raceway_sdk::propagation::messages::MessageHeaders;
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{Consumer, StreamConsumer};
    use rdkafka::message::Message as _;
    use rdkafka::producer::{FutureProducer, FutureRecord};

    use super::{Message, Transfer, TransferQueue};
    use crate::BankError;

    /// The transfers topic on Kafka; headers travel as Kafka record headers.
    pub struct KafkaQueue {
        topic: String,
        producer: FutureProducer,
        consumer: StreamConsumer,
    }

    impl KafkaQueue {
        /// Creates `topic` if missing (one partition) and joins consumer group `group` on it.
        pub async fn new(
            bootstrap: &str,
            topic: &str,
            group: &str,
        ) -> Result<KafkaQueue, BankError> {
            let kafka = |e: rdkafka::error::KafkaError| BankError::Queue(e.to_string());
            let mut config = ClientConfig::new();
            config.set("bootstrap.servers", bootstrap);
            let admin: AdminClient<DefaultClientContext> = config.create().map_err(kafka)?;
            let created = admin
                .create_topics(
                    &[NewTopic::new(topic, 1, TopicReplication::Fixed(1))],
                    &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
                )
                .await
                .map_err(kafka)?;
            for result in created {
                if let Err((name, code)) = result {
                    if code != rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists {
                        return Err(BankError::Queue(format!("cannot create {name}: {code}")));
                    }
                }
            }
            let producer: FutureProducer = config
                .clone()
                .set("acks", "all")
                .set("message.timeout.ms", "10000")
                .create()
                .map_err(kafka)?;
            let consumer: StreamConsumer = config
                .clone()
                .set("group.id", group)
                .set("auto.offset.reset", "earliest")
                .set("enable.auto.commit", "true")
                // Transfers are few and latency matters more than batching here.
                .set("fetch.wait.max.ms", "10")
                .create()
                .map_err(kafka)?;
            consumer.subscribe(&[topic]).map_err(kafka)?;
            Ok(KafkaQueue {
                topic: topic.to_string(),
                producer,
                consumer,
            })
        }
    }

    #[async_trait]
    impl TransferQueue for KafkaQueue {
        async fn ready(&self, timeout: Duration) -> Result<(), BankError> {
            let deadline = tokio::time::Instant::now() + timeout;
            loop {
                let assigned = self
                    .consumer
                    .assignment()
                    .map(|partitions| partitions.count() > 0)
                    .unwrap_or(false);
                if assigned {
                    return Ok(());
                }
                if tokio::time::Instant::now() > deadline {
                    return Err(BankError::Queue(format!(
                        "no partition of {} assigned within {timeout:?}",
                        self.topic
                    )));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }

        async fn publish(
            &self,
            transfer: &Transfer,
            headers: MessageHeaders,
        ) -> Result<(), BankError> {
            let payload = serde_json::to_vec(transfer)?;
            let record = FutureRecord::to(&self.topic)
                .key(&transfer.account)
                .payload(&payload)
                .headers(to_owned_headers(&headers));
            self.producer
                .send(record, Duration::from_secs(10))
                .await
                .map(|_| ())
                .map_err(|(e, _)| BankError::Queue(e.to_string()))
        }

        async fn next(&self) -> Result<Option<Message>, BankError> {
            let message = self
                .consumer
                .recv()
                .await
                .map_err(|e| BankError::Queue(e.to_string()))?;
            let headers = header_pairs(message.headers())
                .into_iter()
                .map(|(name, value)| (name.to_string(), value.to_vec()))
                .collect();
            Ok(Some(Message {
                key: message
                    .key()
                    .map(|key| String::from_utf8_lossy(key).into_owned()),
                payload: message.payload().unwrap_or_default().to_vec(),
                headers,
                partition: Some(message.partition()),
                offset: Some(message.offset()),
            }))
        }
    }
}

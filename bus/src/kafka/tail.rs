//! The Kafka tail: a consumer outside any group, assigned every partition of its topics at the
//! partition's end (high watermark) when it opens, never committing.
//!
//! No `group.id` and `assign` instead of `subscribe`: nothing joins a group (a join takes
//! 10-15 s on the local broker), no other reader's partitions move, and every instance reads
//! all partitions. The ends are looked up explicitly rather than left to `Offset::End`, so that
//! once `open` returns, every record produced afterwards is read.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::consumer::poll_stream;
use super::{KafkaBus, LogContext};
use crate::{BusError, BusTail, Polled};

/// How long looking up one partition's end may take.
const WATERMARK_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads every partition of its topics from their ends at opening.
pub(super) struct KafkaTail {
    consumer: Arc<StreamConsumer<LogContext>>,
    bus: KafkaBus,
}

impl KafkaTail {
    /// A tail of `layout` (topic, partition count).
    pub(super) async fn open(bus: KafkaBus, layout: Vec<(String, i32)>) -> Result<Self, BusError> {
        // librdkafka refuses `assign` without a `group.id` ("Unknown group"). A fresh id per
        // tail is never joined (no subscribe) and never committed to: it only satisfies that
        // check, so no group coordinator is involved and no offsets are written.
        let opened_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let group = format!("raceway-live-tail-{}-{opened_ns}", std::process::id());
        let consumer: StreamConsumer<LogContext> = KafkaBus::base_config(bus.bootstrap())
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("fetch.wait.max.ms", "100")
            .create_with_context(LogContext)
            .map_err(|e| bus.classify("tail consumer creation", None, &e))?;
        let consumer = Arc::new(consumer);
        let worker = consumer.clone();
        let assignment = tokio::task::spawn_blocking(move || {
            let mut list = TopicPartitionList::new();
            for (topic, partitions) in &layout {
                for part in 0..*partitions {
                    let (_, high) = worker.fetch_watermarks(topic, part, WATERMARK_TIMEOUT)?;
                    list.add_partition_offset(topic, part, Offset::Offset(high))?;
                }
            }
            worker.assign(&list)?;
            Ok::<_, rdkafka::error::KafkaError>(list.count())
        })
        .await
        .map_err(|e| BusError::Internal(format!("tail assignment worker failed: {e}")))?;
        let partitions = assignment.map_err(|e| bus.classify("tail assignment", None, &e))?;
        tracing::info!(partitions, "Kafka tail assigned at the partitions' ends");
        Ok(KafkaTail { consumer, bus })
    }
}

#[async_trait]
impl BusTail for KafkaTail {
    async fn poll(&mut self, max: usize, timeout: Duration) -> Polled {
        poll_stream(&self.consumer, &self.bus, max, timeout).await
    }
}

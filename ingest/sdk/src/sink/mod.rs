//! Where batches go: the [`Sink`] trait and its implementations.
//!
//! - [`MemorySink`]: keeps every batch in memory (tests, in-process analysis).
//! - [`HttpSink`] (feature `http`, on by default): posts the Raceway JSON format to the ingest
//!   gateway's `POST /events`.
//!
//! - [`KafkaSink`] (feature `kafka`): Avro `raceway.EventBatch` records straight to
//!   `raceway.events`, key = trace id, split to the broker's message size, as the gateway does.

use std::sync::Arc;

use async_trait::async_trait;
use raceway_schemas::EventBatch;

use crate::error::SdkError;

#[cfg(feature = "http")]
mod http;
#[cfg(feature = "kafka")]
mod kafka;
mod memory;

#[cfg(feature = "http")]
pub use http::{HttpSink, RetryPolicy};
#[cfg(feature = "kafka")]
pub use kafka::{KafkaSink, KafkaSinkConfig};
pub use memory::MemorySink;

/// Receives batches of events of one trace from the tracer's delivery thread.
///
/// `deliver` is called for one batch at a time, on the tracer's own delivery runtime. A sink
/// retries transient failures itself; an error it returns drops the batch, and the tracer counts
/// its events as undeliverable.
#[async_trait]
pub trait Sink: Send + Sync {
    /// Delivers one batch (all events of one trace, in recording order).
    async fn deliver(&self, batch: EventBatch) -> Result<(), SdkError>;
}

#[async_trait]
impl<S: Sink + ?Sized> Sink for Arc<S> {
    async fn deliver(&self, batch: EventBatch) -> Result<(), SdkError> {
        (**self).deliver(batch).await
    }
}

#[async_trait]
impl<S: Sink + ?Sized> Sink for Box<S> {
    async fn deliver(&self, batch: EventBatch) -> Result<(), SdkError> {
        (**self).deliver(batch).await
    }
}

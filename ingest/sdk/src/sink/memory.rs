//! [`MemorySink`]: batches kept in memory.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use raceway_schemas::{Event, EventBatch};

use super::Sink;
use crate::error::SdkError;

/// A sink that keeps every delivered batch in memory, in delivery order.
///
/// Clones share the same batches: keep a clone to read what the tracer delivered, for tests or
/// for analysing a process's own events in-process.
#[derive(Debug, Clone, Default)]
pub struct MemorySink {
    batches: Arc<Mutex<Vec<EventBatch>>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> MemorySink {
        MemorySink::default()
    }

    /// A copy of the batches delivered so far.
    pub fn batches(&self) -> Vec<EventBatch> {
        self.lock().clone()
    }

    /// A copy of every event delivered so far, batch after batch.
    pub fn events(&self) -> Vec<Event> {
        self.lock()
            .iter()
            .flat_map(|batch| batch.events.iter().cloned())
            .collect()
    }

    /// Takes the batches delivered so far, leaving the sink empty.
    pub fn take(&self) -> Vec<EventBatch> {
        std::mem::take(&mut *self.lock())
    }

    /// Number of events delivered so far.
    pub fn event_count(&self) -> usize {
        self.lock().iter().map(|batch| batch.events.len()).sum()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<EventBatch>> {
        self.batches.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Sink for MemorySink {
    async fn deliver(&self, batch: EventBatch) -> Result<(), SdkError> {
        self.lock().push(batch);
        Ok(())
    }
}

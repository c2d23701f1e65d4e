//! Splitting a batch into records that fit the broker's message size, shared by every producer
//! of `raceway.events` (the ingest gateway and the SDK's Kafka sink).

use uuid::Uuid;

use super::{encode_event_batch, encode_partition_batch};
use crate::error::SchemaError;
use crate::model::EventBatch;

/// Why a batch could not be split into records that fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// One event alone is larger than the limit: no split can help.
    #[error("event {event_id} alone encodes to {size} bytes, over the {limit}-byte record limit")]
    EventTooLarge {
        /// The oversized event.
        event_id: Uuid,
        /// Its encoded size, in bytes (framed batch of one).
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The batch cannot be encoded at all.
    #[error("cannot encode events as Avro: {0}")]
    Encode(#[from] SchemaError),
}

/// Encodes `batch` as Confluent-framed `raceway.EventBatch` records of at most `max_bytes`
/// each, halving the batch until every part fits. Events keep their order across the records.
pub fn encode_event_batch_split(
    batch: EventBatch,
    max_bytes: usize,
) -> Result<Vec<Vec<u8>>, SplitError> {
    split_with(batch, max_bytes, encode_event_batch)
}

/// [`encode_event_batch_split`] for a batch of several traces of one partition (see
/// [`encode_partition_batch`]).
pub fn encode_partition_batch_split(
    batch: EventBatch,
    max_bytes: usize,
) -> Result<Vec<Vec<u8>>, SplitError> {
    split_with(batch, max_bytes, encode_partition_batch)
}

fn split_with(
    batch: EventBatch,
    max_bytes: usize,
    encode: fn(&EventBatch) -> Result<Vec<u8>, SchemaError>,
) -> Result<Vec<Vec<u8>>, SplitError> {
    let mut records = Vec::new();
    encode_fitting(batch, max_bytes, encode, &mut records)?;
    Ok(records)
}

fn encode_fitting(
    batch: EventBatch,
    max_bytes: usize,
    encode: fn(&EventBatch) -> Result<Vec<u8>, SchemaError>,
    out: &mut Vec<Vec<u8>>,
) -> Result<(), SplitError> {
    let value = encode(&batch)?;
    if value.len() <= max_bytes {
        out.push(value);
        return Ok(());
    }
    let EventBatch {
        trace_id,
        mut events,
    } = batch;
    if events.len() <= 1 {
        return Err(SplitError::EventTooLarge {
            event_id: events.first().map(|e| e.id).unwrap_or(trace_id),
            size: value.len(),
            limit: max_bytes,
        });
    }
    let second_half = events.split_off(events.len() / 2);
    encode_fitting(EventBatch { trace_id, events }, max_bytes, encode, out)?;
    encode_fitting(
        EventBatch {
            trace_id,
            events: second_half,
        },
        max_bytes,
        encode,
        out,
    )
}

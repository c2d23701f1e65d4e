//! Groups events per trace into Avro `EventBatch` records small enough for the broker.

use std::collections::BTreeMap;

use raceway_processors::bus::Record;
use raceway_schemas::avro::encode_event_batch;
use raceway_schemas::{Event, EventBatch, SchemaError};
use uuid::Uuid;

/// Why events could not be turned into records.
#[derive(Debug, thiserror::Error)]
pub enum BatchingError {
    #[error("event {event_id} alone encodes to {size} bytes, over the {limit}-byte record limit")]
    EventTooLarge {
        event_id: Uuid,
        size: usize,
        limit: usize,
    },
    #[error("cannot encode events as Avro: {0}")]
    Encode(#[from] SchemaError),
}

/// One record per trace (key = trace id), split in halves until each record fits `max_bytes`.
pub fn batch_records(events: Vec<Event>, max_bytes: usize) -> Result<Vec<Record>, BatchingError> {
    let mut per_trace: BTreeMap<Uuid, Vec<Event>> = BTreeMap::new();
    for event in events {
        per_trace.entry(event.trace_id).or_default().push(event);
    }
    let mut records = Vec::new();
    for (trace_id, events) in per_trace {
        encode_fitting(trace_id, events, max_bytes, &mut records)?;
    }
    Ok(records)
}

fn encode_fitting(
    trace_id: Uuid,
    events: Vec<Event>,
    max_bytes: usize,
    out: &mut Vec<Record>,
) -> Result<(), BatchingError> {
    let batch = EventBatch { trace_id, events };
    let value = encode_event_batch(&batch)?;
    if value.len() <= max_bytes {
        out.push(Record {
            key: trace_id.to_string().into_bytes(),
            value,
        });
        return Ok(());
    }
    let mut events = batch.events;
    if events.len() == 1 {
        return Err(BatchingError::EventTooLarge {
            event_id: events[0].id,
            size: value.len(),
            limit: max_bytes,
        });
    }
    let second_half = events.split_off(events.len() / 2);
    encode_fitting(trace_id, events, max_bytes, out)?;
    encode_fitting(trace_id, second_half, max_bytes, out)
}

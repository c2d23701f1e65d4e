//! Groups events per trace into Avro `EventBatch` records small enough for the broker.

use std::collections::BTreeMap;

use raceway_bus::Record;
use raceway_schemas::avro::encode_event_batch_split;
pub use raceway_schemas::avro::SplitError as BatchingError;
use raceway_schemas::{Event, EventBatch};
use uuid::Uuid;

/// One record per trace (key = trace id), split in halves until each record fits `max_bytes`.
pub fn batch_records(events: Vec<Event>, max_bytes: usize) -> Result<Vec<Record>, BatchingError> {
    let mut per_trace: BTreeMap<Uuid, Vec<Event>> = BTreeMap::new();
    for event in events {
        per_trace.entry(event.trace_id).or_default().push(event);
    }
    let mut records = Vec::new();
    for (trace_id, events) in per_trace {
        let key = trace_id.to_string().into_bytes();
        for value in encode_event_batch_split(EventBatch { trace_id, events }, max_bytes)? {
            records.push(Record {
                key: key.clone(),
                value,
            });
        }
    }
    Ok(records)
}

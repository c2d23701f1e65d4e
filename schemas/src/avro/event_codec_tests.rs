//! The direct event codec (`event_read.rs`, `event_write.rs`) held to the schema-driven one
//! (`event.rs` through `binary.rs`, itself checked against apache-avro and fastavro): the same
//! bytes for the same batch, and the same verdict on every truncated or corrupted record.

use super::common::{all_kinds, all_kinds_batch, event as sample_event, trace_id};
use super::{binary, event, event_read, event_write, verdicts, EVENT_BATCH};
use crate::error::SchemaError;
use crate::model::EventBatch;

fn schema_driven_bytes(batch: &EventBatch) -> Vec<u8> {
    let value = event::batch_to_value(batch).unwrap();
    let mut out = Vec::new();
    binary::encode(
        &value,
        EVENT_BATCH.schema,
        &EVENT_BATCH.names,
        &None,
        &mut out,
    )
    .unwrap();
    out
}

fn schema_driven_decode(datum: &[u8]) -> Result<EventBatch, SchemaError> {
    let value = binary::decode(
        datum,
        EVENT_BATCH.schema,
        &EVENT_BATCH.names,
        "raceway.EventBatch",
    )?;
    event::batch_from_value(value)
}

fn direct_bytes(batch: &EventBatch) -> Vec<u8> {
    let mut out = Vec::new();
    event_write::batch(batch, &mut out).unwrap();
    out
}

/// Every kind twice: once with every optional field, tag and clock entry set, once with none.
fn every_kind_full_and_empty() -> EventBatch {
    let events = all_kinds()
        .into_iter()
        .enumerate()
        .flat_map(|(i, kind)| {
            let n = 2 * i as u128;
            [sample_event(n, kind.clone()), sample_event(n + 1, kind)]
        })
        .collect();
    EventBatch {
        trace_id: trace_id(),
        events,
    }
}

#[test]
fn direct_encoding_writes_the_schema_driven_bytes() {
    let empty = EventBatch {
        trace_id: trace_id(),
        events: vec![],
    };
    for batch in [all_kinds_batch(), every_kind_full_and_empty(), empty] {
        let bytes = direct_bytes(&batch);
        assert_eq!(bytes, schema_driven_bytes(&batch));
        assert_eq!(event_read::batch(&bytes).unwrap(), batch);
    }
}

fn assert_same_verdict(datum: &[u8]) {
    verdicts::assert_same_verdict(datum, event_read::batch, schema_driven_decode);
}

#[test]
fn direct_decoding_refuses_every_truncation_like_the_schema_driven_one() {
    let datum = direct_bytes(&every_kind_full_and_empty());
    verdicts::truncations(&datum, assert_same_verdict);
    for len in 0..datum.len() {
        assert!(event_read::batch(&datum[..len]).is_err(), "prefix {len}");
    }
}

#[test]
fn direct_decoding_gives_the_schema_driven_verdict_on_corrupt_records() {
    verdicts::corruptions(
        &direct_bytes(&every_kind_full_and_empty()),
        assert_same_verdict,
    );
}

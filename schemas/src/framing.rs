//! Confluent wire framing: magic byte 0, the schema id as 4 bytes big-endian, then the Avro datum.
//!
//! There is no schema registry here (DESIGN.md "Event model"): the ids are fixed constants, so a
//! record framed by any producer of this version is readable by any consumer of this version, and
//! the framing stays compatible with a registry-aware consumer if one is added later.

use crate::error::SchemaError;

/// Confluent's magic byte: the first byte of every framed record.
pub const MAGIC_BYTE: u8 = 0;
/// Length of the frame header: magic byte plus 4-byte schema id.
pub const HEADER_LEN: usize = 5;
/// Schema id of `raceway.EventBatch` records (topic `raceway.events`).
pub const EVENT_BATCH_SCHEMA_ID: u32 = 1001;
/// Schema id of `raceway.Access` records (topic `raceway.accesses`): clocks as component names
/// once per record, then indices.
pub const ACCESS_SCHEMA_ID: u32 = 1006;
/// Schema id of the first `raceway.Access` version (clocks as (name, counter) pairs): still
/// decoded, so records a previous version wrote are read after an upgrade, no longer written.
pub const ACCESS_V1_SCHEMA_ID: u32 = 1002;
/// Schema id of `raceway.UpdateSpan` records (topic `raceway.accesses`, next to the accesses),
/// over `raceway.Access` of [`ACCESS_SCHEMA_ID`].
pub const UPDATE_SPAN_SCHEMA_ID: u32 = 1007;
/// Schema id of the first `raceway.UpdateSpan` version (over the first `raceway.Access`):
/// decoded, no longer written.
pub const UPDATE_SPAN_V1_SCHEMA_ID: u32 = 1003;
/// Schema id of `raceway.LockOrderEdge` records (topic `raceway.accesses`, keyed by lock pair).
pub const LOCK_ORDER_EDGE_SCHEMA_ID: u32 = 1005;
/// Schema id of the first `raceway.LockOrderEdge` version (without lock types): still decoded,
/// so records a previous version wrote are read after an upgrade, no longer written.
pub const LOCK_ORDER_EDGE_V1_SCHEMA_ID: u32 = 1004;
/// Schema id of `raceway.RaceInputBatch` records (topic `raceway.accesses`): the accesses,
/// update spans and lock-order edges of one completion batch that go to one partition, keyed by
/// the first member's key.
pub const RACE_INPUT_BATCH_SCHEMA_ID: u32 = 1008;

/// Frames an Avro datum: magic byte 0, `schema_id` big-endian, then `datum`.
pub fn frame(schema_id: u32, datum: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + datum.len());
    out.push(MAGIC_BYTE);
    out.extend_from_slice(&schema_id.to_be_bytes());
    out.extend_from_slice(datum);
    out
}

/// Splits a framed record into its schema id and the Avro datum that follows the header.
///
/// Fails when the record is shorter than the header or does not start with the magic byte; the
/// caller checks the schema id, since only it knows which ids it can read.
pub fn unframe(bytes: &[u8]) -> Result<(u32, &[u8]), SchemaError> {
    let Some((header, datum)) = bytes.split_first_chunk::<HEADER_LEN>() else {
        return Err(SchemaError::TooShort { len: bytes.len() });
    };
    let [magic, id @ ..] = *header;
    if magic != MAGIC_BYTE {
        return Err(SchemaError::BadMagic { found: magic });
    }
    Ok((u32::from_be_bytes(id), datum))
}

/// Unframes a record and checks that it carries `expected` as schema id.
pub(crate) fn unframe_expecting(bytes: &[u8], expected: u32) -> Result<&[u8], SchemaError> {
    let (found, datum) = unframe(bytes)?;
    if found != expected {
        return Err(SchemaError::UnknownSchemaId { found, expected });
    }
    Ok(datum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_then_unframe_gives_back_id_and_datum() {
        let framed = frame(EVENT_BATCH_SCHEMA_ID, b"abc");
        assert_eq!(framed, [0, 0, 0, 0x03, 0xe9, b'a', b'b', b'c']);
        assert_eq!(unframe(&framed).unwrap(), (1001, &b"abc"[..]));
        assert_eq!(unframe(&frame(7, b"")).unwrap(), (7, &b""[..]));
    }

    #[test]
    fn short_records_and_bad_magic_are_errors() {
        for len in 0..HEADER_LEN {
            let err = unframe(&vec![0; len]).unwrap_err();
            assert_eq!(err, SchemaError::TooShort { len });
            assert!(err.to_string().contains("too short"), "{err}");
        }
        let err = unframe(b"{\"events\": []}").unwrap_err();
        assert_eq!(err, SchemaError::BadMagic { found: b'{' });
        assert!(err.to_string().contains("0x7b"), "{err}");
    }

    #[test]
    fn unexpected_schema_id_names_both_ids() {
        let err = unframe_expecting(&frame(7, b"x"), EVENT_BATCH_SCHEMA_ID).unwrap_err();
        assert_eq!(err.to_string(), "unknown schema id 7 (expected 1001)");
        assert_eq!(
            unframe_expecting(&frame(ACCESS_SCHEMA_ID, b"x"), ACCESS_SCHEMA_ID).unwrap(),
            b"x"
        );
    }
}

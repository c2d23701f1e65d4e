//! The error of the Avro codecs and the Confluent framing.
//!
//! Messages name what was wrong and where (byte offset or field path), so an operator looking at a
//! dead-lettered record can tell a truncated record from one written with another schema.

use thiserror::Error;

/// Why a record could not be framed, unframed, encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SchemaError {
    /// The record is shorter than the 5-byte Confluent header.
    #[error(
        "record is {len} bytes, too short for Confluent framing (magic byte 0 + 4-byte schema id, \
         then the Avro datum)"
    )]
    TooShort {
        /// Length of the record in bytes.
        len: usize,
    },
    /// The first byte is not the Confluent magic byte 0.
    #[error(
        "bad magic byte {found:#04x}: a Confluent-framed record starts with 0x00 \
         (is this record unframed Avro, or JSON?)"
    )]
    BadMagic {
        /// The first byte of the record.
        found: u8,
    },
    /// The frame names a schema this decoder does not read.
    #[error("unknown schema id {found} (expected {expected})")]
    UnknownSchemaId {
        /// The schema id in the frame.
        found: u32,
        /// The schema id this decoder reads.
        expected: u32,
    },
    /// A record of topic `raceway.accesses` with a schema id that is none of the race-stage inputs.
    #[error(
        "unknown schema id {found} on the accesses topic (expected 1006 or 1002 Access, 1007 or \
         1003 UpdateSpan, 1005 or 1004 LockOrderEdge, 1008 RaceInputBatch)"
    )]
    NotARaceInput {
        /// The schema id in the frame.
        found: u32,
    },
    /// The Avro datum does not follow the schema: truncated, corrupt, or written with another schema.
    #[error("malformed {schema} datum at byte {offset} (after the frame header): {reason}")]
    Malformed {
        /// Full name of the record being decoded, e.g. `raceway.EventBatch`.
        schema: &'static str,
        /// Offset in the Avro datum (after the 5-byte frame header) where decoding failed.
        offset: usize,
        /// What was wrong.
        reason: String,
    },
    /// A field's value cannot be represented: on encode a value out of the schema's range, on
    /// decode a value the model cannot hold (e.g. a negative counter).
    #[error("field `{field}`: {reason}")]
    Field {
        /// Path of the field, e.g. `events[3].causality_vector[0].counter`.
        field: String,
        /// What was wrong.
        reason: String,
    },
}

impl SchemaError {
    /// A [`SchemaError::Field`] error.
    pub(crate) fn field(field: impl Into<String>, reason: impl Into<String>) -> SchemaError {
        SchemaError::Field {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Prefixes the path of a [`SchemaError::Field`] error with the enclosing field, so paths are
    /// only built when an error actually happens.
    pub(crate) fn within(self, prefix: &str) -> SchemaError {
        match self {
            SchemaError::Field { field, reason } => SchemaError::Field {
                field: join_path(prefix, &field),
                reason,
            },
            other => other,
        }
    }
}

/// Joins two parts of a field path: `a` + `b` = `a.b`, `a` + `[1]` = `a[1]`.
pub(crate) fn join_path(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_string()
    } else if field.is_empty() {
        prefix.to_string()
    } else if field.starts_with('[') {
        format!("{prefix}{field}")
    } else {
        format!("{prefix}.{field}")
    }
}

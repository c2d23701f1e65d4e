//! `raceway.RaceInputBatch` records: the race-stage inputs of one completion batch that go to one
//! partition of `raceway.accesses`, as one record.
//!
//! The broker's cost is per record, not per byte (tansu stores each record as a SQLite row: about
//! 230-460 µs of its CPU per record stored, about 110 µs per record fetched), and a trace of ~7
//! events yields a few inputs: one record per input made the accesses topic the broker's largest
//! load. A batch record holds whole members (an access, an update span or a lock-order edge, each
//! with its trace's event count), so the race stage handles them exactly as single records; the
//! producer groups members by the partition their own key places them in (every member of a
//! record must belong to the record's partition, or the detector owning a variable would miss
//! some of its inputs). Members are encoded one by one, so a batch is split between records by
//! size without encoding anything twice.

use super::wire::write_long;
use super::{race_write, RaceInput};
use crate::access::Access;
use crate::error::SchemaError;
use crate::framing::{frame, HEADER_LEN, RACE_INPUT_BATCH_SCHEMA_ID};
use crate::lock_order::LockOrderEdge;
use crate::packing::pack_under;
use crate::update::UpdateSpan;

/// One race-stage input, borrowed, to encode as a batch member.
#[derive(Debug, Clone, Copy)]
pub enum RaceInputRef<'a> {
    /// A shared-state access.
    Access(&'a Access),
    /// A read-modify-write.
    Update(&'a UpdateSpan),
    /// A nested lock acquisition.
    LockEdge(&'a LockOrderEdge),
}

impl RaceInput {
    /// The input, borrowed.
    pub fn borrowed(&self) -> RaceInputRef<'_> {
        match self {
            RaceInput::Access(a) => RaceInputRef::Access(a),
            RaceInput::Update(s) => RaceInputRef::Update(s),
            RaceInput::LockEdge(e) => RaceInputRef::LockEdge(e),
        }
    }
}

/// One member of a `raceway.RaceInputBatch` record, encoded (its union branch, then its datum).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedRaceMember(Vec<u8>);

impl EncodedRaceMember {
    /// Its size in a record, in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never true: a member holds at least its union branch.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Encodes `input` as a batch member; `trace_events` is how many events its trace had when the
/// input was derived (see [`super::RaceRecord::trace_events`]). Fails when an unsigned value
/// exceeds an Avro long.
pub fn encode_race_member(
    input: RaceInputRef<'_>,
    trace_events: u64,
) -> Result<EncodedRaceMember, SchemaError> {
    // The branch order of `race_input_batch.avsc`'s union; each branch's binary encoding is the
    // one of its own schema file.
    let mut out = Vec::new();
    match input {
        RaceInputRef::Access(a) => {
            write_long(0, &mut out);
            race_write::access(a, trace_events, &mut out)?;
        }
        RaceInputRef::Update(s) => {
            write_long(1, &mut out);
            race_write::update_span(s, trace_events, &mut out)?;
        }
        RaceInputRef::LockEdge(e) => {
            write_long(2, &mut out);
            race_write::lock_order_edge(e, trace_events, &mut out)?;
        }
    }
    Ok(EncodedRaceMember(out))
}

/// Bytes a record adds to its members: the frame header, the array's item count (at most 10
/// bytes) and its end marker.
const RECORD_OVERHEAD: usize = HEADER_LEN + 10 + 1;

/// Confluent-framed `raceway.RaceInputBatch` records (schema id [`RACE_INPUT_BATCH_SCHEMA_ID`])
/// holding `members` in order, each at most `max_bytes` long; a member too large for that alone
/// is a record of its own. No members, no record.
pub fn encode_race_input_batches(
    members: Vec<EncodedRaceMember>,
    max_bytes: usize,
) -> Vec<Vec<u8>> {
    pack_under(members, RECORD_OVERHEAD, max_bytes, EncodedRaceMember::len)
        .iter()
        .map(|part| record_of(part))
        .collect()
}

fn record_of(members: &[EncodedRaceMember]) -> Vec<u8> {
    let bytes: usize = members.iter().map(EncodedRaceMember::len).sum();
    let mut out = frame(RACE_INPUT_BATCH_SCHEMA_ID, &[]);
    out.reserve(bytes + RECORD_OVERHEAD);
    write_long(members.len() as i64, &mut out);
    for member in members {
        out.extend_from_slice(&member.0);
    }
    write_long(0, &mut out);
    out
}

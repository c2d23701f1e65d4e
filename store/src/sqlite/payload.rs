//! The stored form of an event in the SQLite store: its `payload` column.
//!
//! A payload is the event as a framed Avro `raceway.EventBatch` of that one event, with its id
//! and trace id left out (nil: the row's `id` and `trace_id` columns hold them), compressed with
//! LZ4 (a BLOB: the uncompressed length as 4 bytes little-endian, then the LZ4 block). About a
//! fifth of the size of its Raceway JSON, which was most of the store's bytes (keys repeated in
//! every row, UUIDs and timestamps as text). Avro carries every field of the model exactly, so
//! an event reads back equal to what was written and the query API serves the same JSON. Rows
//! written before this encoding hold Raceway JSON (TEXT) until the migration converts them
//! ([`convert_json_payloads`]); reads accept both, told apart by the value's SQLite type. An
//! event Avro cannot carry (an unsigned field above `i64::MAX`) is kept as JSON, as before.

use raceway_schemas::avro::{decode_event_batch, encode_event_batch};
use raceway_schemas::json::encode_event;
use raceway_schemas::{Event, EventBatch};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params, ToSql, Transaction};
use uuid::Uuid;

use crate::rows::{decode_payload, event_with_json};
use crate::StoreError;

/// The largest uncompressed payload a stored length may claim: far above any event the
/// gateway accepts, so a corrupt length cannot make a read allocate gigabytes.
const MAX_PAYLOAD_BYTES: usize = 64 << 20;

/// An event's payload as stored.
pub(crate) enum Payload {
    /// The framed Avro batch of the one event.
    Compact(Vec<u8>),
    /// Raceway JSON, for an event Avro cannot carry.
    Json(String),
}

impl Payload {
    pub(crate) fn of(event: &Event) -> Payload {
        let mut stripped = event.clone();
        stripped.id = Uuid::nil();
        stripped.trace_id = Uuid::nil();
        let batch = EventBatch {
            trace_id: Uuid::nil(),
            events: vec![stripped],
        };
        match encode_event_batch(&batch) {
            Ok(bytes) => Payload::Compact(lz4_flex::compress_prepend_size(&bytes)),
            Err(_) => Payload::Json(encode_event(event).to_string()),
        }
    }
}

impl ToSql for Payload {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Payload::Compact(bytes) => ToSqlOutput::Borrowed(ValueRef::Blob(bytes)),
            Payload::Json(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
        })
    }
}

/// The event stored as `payload` in the row of event `id` of trace `trace_id`.
pub(crate) fn decode(id: Uuid, trace_id: &str, payload: ValueRef<'_>) -> Result<Event, StoreError> {
    let corrupt = |message: String| StoreError::Corrupt {
        what: "event",
        id: id.to_string(),
        message,
    };
    match payload {
        ValueRef::Blob(bytes) => {
            let (length, block) = bytes
                .split_first_chunk::<4>()
                .ok_or_else(|| corrupt("payload is shorter than its length".into()))?;
            let length = usize::try_from(u32::from_le_bytes(*length)).unwrap_or(usize::MAX);
            if length > MAX_PAYLOAD_BYTES {
                return Err(corrupt(format!("payload claims {length} bytes")));
            }
            let avro = lz4_flex::decompress(block, length)
                .map_err(|e| corrupt(format!("payload does not decompress: {e}")))?;
            let batch = decode_event_batch(&avro).map_err(|e| corrupt(e.to_string()))?;
            let mut events = batch.events.into_iter();
            let (Some(mut event), None) = (events.next(), events.next()) else {
                return Err(corrupt("payload does not hold exactly one event".into()));
            };
            event.id = id;
            event.trace_id =
                Uuid::parse_str(trace_id).map_err(|e| corrupt(format!("trace id: {e}")))?;
            Ok(event)
        }
        ValueRef::Text(text) => {
            let text = std::str::from_utf8(text)
                .map_err(|e| corrupt(format!("payload is not UTF-8: {e}")))?;
            decode_payload(&id.to_string(), text)
        }
        other => Err(corrupt(format!(
            "payload is of SQLite type {}",
            other.data_type()
        ))),
    }
}

/// [`decode`], beside the payload's text where it is stored as Raceway JSON (read as
/// `crate::rows::event_with_json` says); a compact payload has no text and decodes whole.
pub(crate) fn decode_with_json(
    id: Uuid,
    trace_id: &str,
    payload: ValueRef<'_>,
) -> Result<(Event, Option<String>), StoreError> {
    match payload {
        ValueRef::Text(text) => {
            let text = std::str::from_utf8(text).map_err(|e| StoreError::Corrupt {
                what: "event",
                id: id.to_string(),
                message: format!("payload is not UTF-8: {e}"),
            })?;
            event_with_json(&id.to_string(), text.to_string())
        }
        other => Ok((decode(id, trace_id, other)?, None)),
    }
}

/// Rewrites every JSON payload in the compact encoding; returns how many. Part of the migration
/// that introduced it, in its transaction: a crash leaves either every row or none converted.
/// A payload that does not decode is left as it is (and logged).
/// Rows are read in pages by rowid, so no statement reads the table while it is written.
pub(crate) fn convert_json_payloads(tx: &Transaction<'_>) -> Result<u64, StoreError> {
    const PAGE: i64 = 1_000;
    let failed = |e| StoreError::sqlite("convert event payloads", e);
    let mut read = tx
        .prepare(
            "SELECT rowid, id, trace_id, payload FROM events \
             WHERE rowid > ?1 AND typeof(payload) = 'text' ORDER BY rowid LIMIT ?2",
        )
        .map_err(failed)?;
    let mut write = tx
        .prepare("UPDATE events SET payload = ?1 WHERE rowid = ?2")
        .map_err(failed)?;
    let (mut after, mut converted) = (0_i64, 0_u64);
    loop {
        let mut page: Vec<(i64, Option<Event>)> = Vec::new();
        let mut rows = read.query(params![after, PAGE]).map_err(failed)?;
        while let Some(row) = rows.next().map_err(failed)? {
            let rowid: i64 = row.get(0).map_err(failed)?;
            let id: String = row.get(1).map_err(failed)?;
            let trace_id: String = row.get(2).map_err(failed)?;
            // A payload that does not decode stays as it is: it was unreadable before too,
            // and one bad row must not stop the store from opening.
            // (The ids are text here: version 9 stores them as bytes, after this.)
            let decoded = match Uuid::parse_str(&id) {
                Ok(uuid) => decode(uuid, &trace_id, row.get_ref(3).map_err(failed)?),
                Err(e) => Err(StoreError::Corrupt {
                    what: "event",
                    id: id.clone(),
                    message: format!("id: {e}"),
                }),
            };
            match decoded {
                Ok(event) => page.push((rowid, Some(event))),
                Err(e) => {
                    tracing::warn!(event = %id, error = %e, "event payload left unconverted");
                    page.push((rowid, None));
                }
            }
        }
        let Some(&(last, _)) = page.last() else {
            return Ok(converted);
        };
        after = last;
        for (rowid, event) in page {
            let Some(event) = event else { continue };
            if let Payload::Compact(bytes) = Payload::of(&event) {
                write.execute(params![bytes, rowid]).map_err(failed)?;
                converted += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use raceway_schemas::json::encode_event;
    use uuid::Uuid;

    use super::decode;
    use crate::conformance::event;
    use crate::migrations::SQLITE;
    use crate::sqlite::{apply_migrations, migrated_before};

    /// Events stored as JSON before the compact encoding read back the same after the
    /// migration, now compact, and a redelivered copy of one is still ignored.
    #[test]
    fn migration_converts_json_payloads_and_keeps_events_unique() {
        let mut conn = migrated_before(6);
        let trace = Uuid::new_v4();
        let events: Vec<_> = (0..3).map(|i| event(trace, 30 - i * 10, "bank")).collect();
        for e in &events {
            conn.execute(
                "INSERT INTO events (id, trace_id, timestamp_ns, kind, service, instance_id, \
                 thread_id, environment, variable, access_type, payload) \
                 VALUES (?1, ?2, ?3, 'StateChange', 'bank', '', 't', 'test', '', '', ?4)",
                rusqlite::params![
                    e.id.to_string(),
                    trace.to_string(),
                    e.timestamp_ns,
                    encode_event(e).to_string()
                ],
            )
            .expect("insert event");
        }
        apply_migrations(&mut conn, &SQLITE[..8]).expect("migrations through 8");

        let mut stmt = conn
            .prepare(
                "SELECT id, typeof(payload), payload, trace_id FROM events WHERE trace_id = ?1 \
                 ORDER BY timestamp_ns",
            )
            .expect("prepare");
        let mut rows = stmt.query([trace.to_string()]).expect("query");
        let mut read = Vec::new();
        while let Some(row) = rows.next().expect("row") {
            let id: String = row.get(0).expect("id");
            let kind: String = row.get(1).expect("type");
            assert_eq!(kind, "blob", "converted");
            let trace_id: String = row.get(3).expect("trace id");
            let payload = row.get_ref(2).expect("payload");
            let id = Uuid::parse_str(&id).expect("id");
            read.push(decode(id, &trace_id, payload).expect("decode"));
        }
        let mut expected = events.clone();
        expected.reverse();
        assert_eq!(read, expected);

        let again = conn
            .execute(
                "INSERT OR IGNORE INTO events (trace_id, id, timestamp_ns, kind, service, \
                 environment, payload) VALUES (?1, ?2, 0, 'StateChange', 'bank', 'test', x'00')",
                [trace.to_string(), events[0].id.to_string()],
            )
            .expect("insert a copy");
        assert_eq!(again, 0, "the first copy of an id wins");
    }
}

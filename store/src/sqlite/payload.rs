//! The stored form of an event in the SQLite store: its `payload` column.
//!
//! A payload is the event as a framed Avro `raceway.EventBatch` of that one event (a BLOB):
//! about a third of the size of its Raceway JSON, which was most of the store's bytes (keys
//! repeated in every row, UUIDs and timestamps as text). Avro carries every field of the model
//! exactly, so an event reads back equal to what was written and the query API serves the same
//! JSON. Rows written before this encoding hold Raceway JSON (TEXT) until the migration
//! converts them ([`convert_json_payloads`]); reads accept both, told apart by the value's
//! SQLite type. An event Avro cannot carry (an unsigned field above `i64::MAX`) is kept as
//! JSON, as before.

use raceway_schemas::avro::{decode_event_batch, encode_event_batch};
use raceway_schemas::json::encode_event;
use raceway_schemas::{Event, EventBatch};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params, Transaction, ToSql};

use crate::rows::decode_payload;
use crate::StoreError;

/// An event's payload as stored.
pub(crate) enum Payload {
    /// The framed Avro batch of the one event.
    Compact(Vec<u8>),
    /// Raceway JSON, for an event Avro cannot carry.
    Json(String),
}

impl Payload {
    pub(crate) fn of(event: &Event) -> Payload {
        let batch = EventBatch {
            trace_id: event.trace_id,
            events: vec![event.clone()],
        };
        match encode_event_batch(&batch) {
            Ok(bytes) => Payload::Compact(bytes),
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

/// The event stored as `payload` in the row of event `id`.
pub(crate) fn decode(id: &str, payload: ValueRef<'_>) -> Result<Event, StoreError> {
    let corrupt = |message: String| StoreError::Corrupt {
        what: "event",
        id: id.to_string(),
        message,
    };
    match payload {
        ValueRef::Blob(bytes) => {
            let batch = decode_event_batch(bytes).map_err(|e| corrupt(e.to_string()))?;
            let mut events = batch.events.into_iter();
            match (events.next(), events.next()) {
                (Some(event), None) => Ok(event),
                _ => Err(corrupt("payload does not hold exactly one event".into())),
            }
        }
        ValueRef::Text(text) => {
            let text = std::str::from_utf8(text)
                .map_err(|e| corrupt(format!("payload is not UTF-8: {e}")))?;
            decode_payload(id, text)
        }
        other => Err(corrupt(format!(
            "payload is of SQLite type {}",
            other.data_type()
        ))),
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
            "SELECT rowid, id, payload FROM events \
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
            // A payload that does not decode stays as it is: it was unreadable before too,
            // and one bad row must not stop the store from opening.
            match decode(&id, row.get_ref(2).map_err(failed)?) {
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
    use rusqlite::Connection;
    use uuid::Uuid;

    use super::decode;
    use crate::conformance::event;
    use crate::migrations::SQLITE;
    use crate::sqlite::apply_migrations;

    /// Events stored as JSON before the compact encoding read back the same after the
    /// migration, now compact, and a redelivered copy of one is still ignored.
    #[test]
    fn migration_converts_json_payloads_and_keeps_events_unique() {
        let mut conn = Connection::open_in_memory().expect("open");
        let before: Vec<_> = SQLITE.iter().filter(|m| m.version < 6).cloned().collect();
        apply_migrations(&mut conn, &before).expect("old migrations");
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
        apply_migrations(&mut conn, SQLITE).expect("all migrations");

        let mut stmt = conn
            .prepare(
                "SELECT id, typeof(payload), payload FROM events WHERE trace_id = ?1 \
                 ORDER BY timestamp_ns",
            )
            .expect("prepare");
        let mut rows = stmt.query([trace.to_string()]).expect("query");
        let mut read = Vec::new();
        while let Some(row) = rows.next().expect("row") {
            let id: String = row.get(0).expect("id");
            let kind: String = row.get(1).expect("type");
            assert_eq!(kind, "blob", "converted");
            read.push(decode(&id, row.get_ref(2).expect("payload")).expect("decode"));
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

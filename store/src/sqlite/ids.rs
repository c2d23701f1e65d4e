//! Event ids as the SQLite store keeps them (`events.id`, `accesses.event_id`): the UUID's 16
//! bytes, a BLOB, since migration 9.
//!
//! As 36-character text an id was stored in its row and again in each index that holds it, and
//! every commit wrote those pages to the WAL and the checkpoint copied them into the file: the
//! one writer's cost per event, which every stage's write waits for. The bytes sort as the
//! lowercase text did, so orders by id are unchanged. Trace ids stay text (the other tables and
//! the filters match them as text). Every write binds [`EventId`] and every read takes it back,
//! so no query compares an id column with text, which in SQLite would match nothing, silently.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::ToSql;
use uuid::Uuid;

/// An event id as stored: written as its bytes; read from its bytes, or from its text in a row
/// the migration kept as it was (an id that was not a UUID's text fails to read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EventId(pub(crate) Uuid);

impl ToSql for EventId {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::Blob(self.0.as_bytes())))
    }
}

impl FromSql for EventId {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        match value {
            ValueRef::Blob(bytes) => Uuid::from_slice(bytes)
                .map(EventId)
                .map_err(|e| FromSqlError::Other(Box::new(e))),
            ValueRef::Text(text) => std::str::from_utf8(text)
                .map_err(|e| FromSqlError::Other(Box::new(e)))
                .and_then(|t| Uuid::parse_str(t).map_err(|e| FromSqlError::Other(Box::new(e))))
                .map(EventId),
            _ => Err(FromSqlError::InvalidType),
        }
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::{params, Connection};
    use uuid::Uuid;

    use super::EventId;
    use crate::migrations::SQLITE;
    use crate::sqlite::{all_rows, apply_migrations, migrated_before};

    fn ids(conn: &Connection, sql: &str) -> Vec<(String, Uuid)> {
        all_rows(conn, sql, |r| Ok((r.get(0)?, r.get::<_, EventId>(1)?.0)))
    }

    /// Events and accesses stored with text ids keep every row through the migration, their ids
    /// now bytes, and a later write of a stored id is still one row: ignored for an event,
    /// replacing for an access.
    #[test]
    fn migration_stores_event_ids_as_bytes() {
        let mut conn = migrated_before(9);
        let trace = Uuid::new_v4().to_string();
        let mut stored: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
        for (i, id) in stored.iter().enumerate() {
            conn.execute(
                "INSERT INTO events (trace_id, id, timestamp_ns, kind, service, environment, \
                 payload) VALUES (?1, ?2, ?3, 'StateChange', 'bank', 'test', x'00')",
                params![trace, id.to_string(), i as i64],
            )
            .expect("insert event");
            conn.execute(
                "INSERT INTO accesses (event_id, trace_id, timestamp_ns, environment, variable, \
                 access_type, location, value, old_value, service, instance, thread, clock, \
                 trusted_clock, locks, trace_start_ns, trace_end_ns) VALUES (?1, ?2, ?3, \
                 'test', 'x', 'Write', 'bank.rs:42', '1', NULL, 'bank', 'i-1', 't1', '[]', 0, \
                 '[]', 0, 1)",
                params![id.to_string(), trace, i as i64],
            )
            .expect("insert access");
        }
        apply_migrations(&mut conn, SQLITE).expect("all migrations");
        stored.sort();
        let expected: Vec<(String, Uuid)> = stored.iter().map(|id| (trace.clone(), *id)).collect();
        assert_eq!(
            ids(&conn, "SELECT trace_id, id FROM events ORDER BY id"),
            expected
        );
        assert_eq!(
            ids(
                &conn,
                "SELECT trace_id, event_id FROM accesses ORDER BY event_id"
            ),
            expected
        );
        let blobs: i64 = conn
            .query_row(
                "SELECT (SELECT COUNT(*) FROM events WHERE typeof(id) = 'blob') + \
                 (SELECT COUNT(*) FROM accesses WHERE typeof(event_id) = 'blob')",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(blobs, 6);

        let again = conn
            .execute(
                "INSERT OR IGNORE INTO events (trace_id, id, timestamp_ns, kind, service, \
                 environment, payload) VALUES (?1, ?2, 9, 'StateChange', 'bank', 'test', x'00')",
                params![trace, EventId(stored[1])],
            )
            .expect("insert a copy");
        assert_eq!(again, 0, "the first copy of an id wins");
        conn.execute(
            "INSERT OR REPLACE INTO accesses (event_id, trace_id, timestamp_ns, environment, \
             variable, access_type, location, value, old_value, service, instance, thread, \
             clock, trusted_clock, locks, trace_start_ns, trace_end_ns) VALUES (?1, ?2, 9, \
             'test', 'x', 'Write', 'bank.rs:42', '2', NULL, 'bank', 'i-1', 't1', '[]', 0, \
             '[]', 0, 1)",
            params![EventId(stored[1]), trace],
        )
        .expect("re-analysed access");
        let values: Vec<String> =
            all_rows(&conn, "SELECT value FROM accesses ORDER BY event_id", |r| {
                r.get(0)
            });
        assert_eq!(
            values,
            ["1", "2", "1"],
            "one row per event, the later write's"
        );
    }

    /// Ids go in as 16 bytes and come back equal, and the bytes sort as the ids' text does.
    #[test]
    fn ids_are_stored_as_bytes_in_text_order() {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch("CREATE TABLE t (id BLOB NOT NULL)")
            .expect("create");
        let mut ids: Vec<Uuid> = (0..50).map(|_| Uuid::new_v4()).collect();
        for id in &ids {
            conn.execute("INSERT INTO t (id) VALUES (?1)", [EventId(*id)])
                .expect("insert");
        }
        let (kind, length): (String, i64) = conn
            .query_row("SELECT typeof(id), length(id) FROM t LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .expect("type");
        assert_eq!((kind.as_str(), length), ("blob", 16));
        let read: Vec<Uuid> = all_rows(&conn, "SELECT id FROM t ORDER BY id", |r| {
            r.get::<_, EventId>(0).map(|id| id.0)
        });
        ids.sort_by_key(|id| id.to_string());
        assert_eq!(read, ids);
    }

    /// A row the migration kept as text (an id that was a UUID's text in another form) still
    /// reads; text that is no UUID is an error, not a wrong id.
    #[test]
    fn text_ids_read_back_and_others_fail() {
        let conn = Connection::open_in_memory().expect("open");
        let id = Uuid::new_v4();
        let read = |text: &str| conn.query_row("SELECT ?1", [text], |r| r.get::<_, EventId>(0));
        assert_eq!(read(&id.to_string()).expect("a UUID's text"), EventId(id));
        assert!(read("e1").is_err());
    }
}

//! Accesses in the SQLite store: writes (latest wins per event id) and the audit-trail reads.
//!
//! Clocks and lock sets are JSON text: `[[component, counter], ...]` and `[[lock_id, mode], ...]`.

use async_trait::async_trait;
use raceway_schemas::{Access, ActorId, HeldLock};
use rusqlite::{params, params_from_iter, Connection, Row};
use uuid::Uuid;

use crate::filter::{self, Dialect, Value};
use crate::rows::{corrupt_access, parse_access_type, parse_held_locks, parse_uuid};
use crate::sqlite::{query_decoded, SqliteStore};
use crate::{AccessStore, StoreError, TimeRange};

const ACCESS_COLUMNS: &str = "event_id, trace_id, timestamp_ns, environment, variable, \
    access_type, location, value, old_value, service, instance, thread, clock, trusted_clock, \
    locks, trace_start_ns, trace_end_ns";

fn clock_json(clock: &[(String, u64)]) -> String {
    serde_json::json!(clock).to_string()
}

fn locks_json(locks: &[HeldLock]) -> String {
    let pairs: Vec<(&str, &str)> = locks
        .iter()
        .map(|l| (l.lock_id.as_str(), l.mode.as_str()))
        .collect();
    serde_json::json!(pairs).to_string()
}

fn insert_accesses_blocking(conn: &mut Connection, accesses: &[Access]) -> Result<(), StoreError> {
    let failed = |e| StoreError::sqlite("insert accesses", e);
    let tx = conn.transaction().map_err(failed)?;
    {
        // REPLACE, not IGNORE: a re-analysed trace's accesses carry its latest clocks.
        let mut stmt = tx
            .prepare_cached(&format!(
                "INSERT OR REPLACE INTO accesses ({ACCESS_COLUMNS}) VALUES \
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
            ))
            .map_err(failed)?;
        for a in accesses {
            stmt.execute(params![
                a.event_id.to_string(),
                a.trace_id.to_string(),
                a.timestamp_ns,
                a.environment,
                a.variable,
                a.access_type.as_str(),
                a.location,
                a.value,
                a.old_value,
                a.actor.service,
                a.actor.instance,
                a.actor.thread,
                clock_json(&a.clock),
                a.trusted_clock,
                locks_json(&a.locks),
                a.trace_start_ns,
                a.trace_end_ns,
            ])
            .map_err(failed)?;
        }
    }
    tx.commit().map_err(failed)
}

/// The raw columns of one row, converted to an [`Access`] outside rusqlite's row callback so that
/// decoding errors keep their own message.
struct AccessRow {
    event_id: String,
    trace_id: String,
    timestamp_ns: i64,
    environment: String,
    variable: String,
    access_type: String,
    location: String,
    value: String,
    old_value: Option<String>,
    service: String,
    instance: String,
    thread: String,
    clock: String,
    trusted_clock: bool,
    locks: String,
    trace_start_ns: i64,
    trace_end_ns: i64,
}

impl AccessRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<AccessRow> {
        Ok(AccessRow {
            event_id: row.get(0)?,
            trace_id: row.get(1)?,
            timestamp_ns: row.get(2)?,
            environment: row.get(3)?,
            variable: row.get(4)?,
            access_type: row.get(5)?,
            location: row.get(6)?,
            value: row.get(7)?,
            old_value: row.get(8)?,
            service: row.get(9)?,
            instance: row.get(10)?,
            thread: row.get(11)?,
            clock: row.get(12)?,
            trusted_clock: row.get(13)?,
            locks: row.get(14)?,
            trace_start_ns: row.get(15)?,
            trace_end_ns: row.get(16)?,
        })
    }

    fn into_access(self) -> Result<Access, StoreError> {
        let id = self.event_id;
        let clock: Vec<(String, u64)> = serde_json::from_str(&self.clock).map_err(|e| {
            corrupt_access(
                &id,
                format!("clock is not a JSON list of [component, counter]: {e}"),
            )
        })?;
        let locks: Vec<(String, String)> = serde_json::from_str(&self.locks).map_err(|e| {
            corrupt_access(
                &id,
                format!("locks are not a JSON list of [lock, mode]: {e}"),
            )
        })?;
        let locks = parse_held_locks(&id, locks)?;
        Ok(Access {
            event_id: parse_uuid(&id, "event id", &id)?,
            trace_id: parse_uuid(&id, "trace id", &self.trace_id)?,
            timestamp_ns: self.timestamp_ns,
            environment: self.environment,
            variable: self.variable,
            access_type: parse_access_type(&id, &self.access_type)?,
            location: self.location,
            value: self.value,
            old_value: self.old_value,
            actor: ActorId {
                service: self.service,
                instance: self.instance,
                thread: self.thread,
            },
            clock,
            trusted_clock: self.trusted_clock,
            locks,
            trace_start_ns: self.trace_start_ns,
            trace_end_ns: self.trace_end_ns,
        })
    }
}

#[async_trait]
impl AccessStore for SqliteStore {
    async fn insert_accesses(&self, accesses: &[Access]) -> Result<(), StoreError> {
        self.write_rows(accesses, insert_accesses_blocking).await
    }

    async fn variable_accesses(
        &self,
        environment: Option<&str>,
        variable: &str,
        time: TimeRange,
        limit: u32,
    ) -> Result<Vec<Access>, StoreError> {
        let filter = filter::accesses(Dialect::Sqlite, environment, variable, time);
        self.call(move |conn| {
            let sql = format!(
                "SELECT {ACCESS_COLUMNS} FROM accesses WHERE {} \
                 ORDER BY timestamp_ns, event_id LIMIT ?",
                filter.sql()
            );
            let params = params_from_iter(filter.params_with(&[Value::I64(limit.into())]));
            query_decoded(
                conn,
                "read variable accesses",
                &sql,
                params,
                AccessRow::read,
                AccessRow::into_access,
            )
        })
        .await
    }

    async fn trace_variable_accesses(
        &self,
        trace_id: Uuid,
        variable: &str,
    ) -> Result<Vec<Access>, StoreError> {
        let variable = variable.to_string();
        self.call(move |conn| {
            query_decoded(
                conn,
                "read trace accesses",
                &format!(
                    "SELECT {ACCESS_COLUMNS} FROM accesses WHERE trace_id = ?1 AND variable = ?2 \
                     ORDER BY timestamp_ns, event_id"
                ),
                params![trace_id.to_string(), variable],
                AccessRow::read,
                AccessRow::into_access,
            )
        })
        .await
    }
}

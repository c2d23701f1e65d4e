//! Accesses in the SQLite store: writes (latest wins per event id) and the audit-trail reads.
//!
//! Clocks and lock sets are JSON text: `[[component, counter], ...]` and `[[lock_id, mode], ...]`.

use async_trait::async_trait;
use raceway_schemas::Access;
use rusqlite::{params, params_from_iter, Connection, Row};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::filter::{self, Dialect, Filter, Value};
use crate::rows::{corrupt_access, StoredAccess};
use crate::sqlite::{query_decoded, read_columns, SqliteStore};
use crate::{AccessKey, AccessQuery, AccessStore, RecordedValues, StoreError, VariableCount};

const ACCESS_COLUMNS: &str = "event_id, trace_id, timestamp_ns, environment, variable, \
    access_type, location, value, old_value, service, instance, thread, clock, trusted_clock, \
    locks, trace_start_ns, trace_end_ns";

/// The text columns of an access's row, made before the writer's lock is taken: formatting the
/// clock and the lock set as JSON and the ids as text is most of a row's own cost, and every
/// other write of the store waits while the lock is held.
struct AccessText {
    event_id: String,
    trace_id: String,
    /// `[[component, counter], ...]`, sorted by component.
    clock: String,
    /// `[[lock_id, mode], ...]`.
    locks: String,
}

impl AccessText {
    fn of(a: &Access) -> Result<AccessText, StoreError> {
        let json = |e: serde_json::Error| {
            StoreError::Internal(format!("access {}: cannot write JSON: {e}", a.event_id))
        };
        let clock: Vec<(&str, u64)> = a.clock.iter().collect();
        let locks: Vec<(&str, &str)> = a
            .locks
            .iter()
            .map(|l| (l.lock_id.as_str(), l.mode.as_str()))
            .collect();
        Ok(AccessText {
            event_id: a.event_id.to_string(),
            trace_id: a.trace_id.to_string(),
            clock: serde_json::to_string(&clock).map_err(json)?,
            locks: serde_json::to_string(&locks).map_err(json)?,
        })
    }
}

fn insert_access_rows(
    conn: &mut Connection,
    rows: &[(Access, AccessText)],
) -> Result<(), StoreError> {
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
        for (a, text) in rows {
            stmt.execute(params![
                text.event_id,
                text.trace_id,
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
                text.clock,
                a.trusted_clock,
                text.locks,
                a.trace_start_ns,
                a.trace_end_ns,
            ])
            .map_err(failed)?;
        }
    }
    tx.commit().map_err(failed)
}

/// One row as a [`StoredAccess`] (clock and locks left empty) and its clock and lock set as
/// JSON text, parsed outside rusqlite's row callback so that decoding errors keep their own
/// message.
type RawAccess = (StoredAccess, String, String);

fn read_access(row: &Row<'_>) -> rusqlite::Result<RawAccess> {
    let stored = StoredAccess {
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
        trusted_clock: row.get(13)?,
        trace_start_ns: row.get(15)?,
        trace_end_ns: row.get(16)?,
        clock: Vec::new(),
        locks: Vec::new(),
    };
    Ok((stored, row.get(12)?, row.get(14)?))
}

/// Parses the JSON text `text` of access `id`; a corrupt-access error says `what` it is not.
fn parse_json<T: DeserializeOwned>(id: &str, what: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt_access(id, format!("{what}: {e}")))
}

fn into_access((mut stored, clock, locks): RawAccess) -> Result<Access, StoreError> {
    let id = stored.event_id.clone();
    stored.clock = parse_json(
        &id,
        "clock is not a JSON list of [component, counter]",
        &clock,
    )?;
    stored.locks = parse_json(&id, "locks are not a JSON list of [lock, mode]", &locks)?;
    stored.into_access()
}

impl SqliteStore {
    /// The accesses matching `filter` in (timestamp, id) order, then `limit` of them if given.
    async fn read_accesses(
        &self,
        operation: &'static str,
        filter: Filter,
        limit: Option<u32>,
    ) -> Result<Vec<Access>, StoreError> {
        self.read(move |conn| {
            let (tail, more) = match limit {
                Some(limit) => ("LIMIT ?", vec![Value::I64(limit.into())]),
                None => ("", Vec::new()),
            };
            let sql = format!(
                "SELECT {ACCESS_COLUMNS} FROM accesses WHERE {} \
                 ORDER BY timestamp_ns, event_id {tail}",
                filter.sql()
            );
            let params = params_from_iter(filter.params_with(&more));
            query_decoded(conn, operation, &sql, params, read_access, into_access)
        })
        .await
    }
}

#[async_trait]
impl AccessStore for SqliteStore {
    async fn insert_accesses(&self, accesses: &[Access]) -> Result<(), StoreError> {
        if accesses.is_empty() {
            return Ok(());
        }
        let rows = accesses
            .iter()
            .map(|a| Ok((a.clone(), AccessText::of(a)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.call(move |conn| insert_access_rows(conn, &rows)).await
    }

    async fn variable_accesses(&self, query: &AccessQuery) -> Result<Vec<Access>, StoreError> {
        let filter = filter::accesses(Dialect::Sqlite, query);
        self.read_accesses("read variable accesses", filter, Some(query.limit))
            .await
    }

    async fn recorded_values(&self, keys: &[AccessKey]) -> Result<Vec<RecordedValues>, StoreError> {
        let Some(filter) = filter::event_accesses(Dialect::Sqlite, keys) else {
            return Ok(Vec::new());
        };
        self.read(move |conn| {
            // One row per event id: a write replaces the earlier row.
            let sql = format!(
                "SELECT event_id, value, old_value FROM accesses WHERE {}",
                filter.sql()
            );
            query_decoded(
                conn,
                "read recorded values",
                &sql,
                params_from_iter(filter.params()),
                read_columns::<(String, String, Option<String>)>,
                |(id, value, old_value)| {
                    Ok(RecordedValues {
                        event_id: Uuid::parse_str(&id)
                            .map_err(|e| corrupt_access(&id, e.to_string()))?,
                        value,
                        old_value,
                    })
                },
            )
        })
        .await
    }

    async fn trace_variable_accesses(
        &self,
        trace_id: Uuid,
        variable: &str,
    ) -> Result<Vec<Access>, StoreError> {
        let trace = trace_id.to_string();
        let filter = Filter::new(Dialect::Sqlite)
            .equals("trace_id", Some(&trace))
            .equals("variable", Some(variable));
        self.read_accesses("read trace accesses", filter, None)
            .await
    }

    async fn variables(
        &self,
        prefix: &str,
        environments: &[String],
        limit: u32,
    ) -> Result<Vec<VariableCount>, StoreError> {
        let filter = filter::variables(Dialect::Sqlite, prefix, environments);
        let limit = Value::I64(limit.into());
        self.read(move |conn| {
            let sql = format!(
                "SELECT variable, COUNT(*) FROM accesses WHERE {} \
                 GROUP BY variable ORDER BY variable LIMIT ?",
                filter.sql()
            );
            let params = params_from_iter(filter.params_with(&[limit]));
            query_decoded(
                conn,
                "read variables",
                &sql,
                params,
                read_columns::<(String, i64)>,
                |(name, count)| {
                    Ok(VariableCount {
                        name,
                        access_count: u64::try_from(count).unwrap_or(0),
                    })
                },
            )
        })
        .await
    }
}

//! Accesses in the SQLite store: writes (latest wins per event id) and the audit-trail reads.
//!
//! Rows are unique by (trace, variable, event id), not by the event id alone (migration 8): an
//! event's trace and variable are its own, so that key is as unique, and it keeps a batch's
//! inserts inside its traces' ranges of the index. Keyed by the random event id, each commit
//! rewrote about every page of the key's index once the table held more rows than a batch, on
//! the writer every other write of the store waits for. Reads by key give all three parts.
//!
//! Clocks and lock sets are JSON text: `[[component, counter], ...]` and `[[lock_id, mode], ...]`.

use async_trait::async_trait;
use raceway_schemas::Access;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::filter::{self, Dialect, Filter, Value};
use crate::rows::{corrupt_access, StoredAccess};
use crate::sqlite::ids::EventId;
use crate::sqlite::{query_decoded, read_columns, SqliteStore};
use crate::{AccessKey, AccessQuery, AccessStore, RecordedValues, StoreError, VariableCount};

const ACCESS_COLUMNS: &str = "event_id, trace_id, timestamp_ns, environment, variable, \
    access_type, location, value, old_value, service, instance, thread, clock, trusted_clock, \
    locks, trace_start_ns, trace_end_ns";

/// The text columns of an access's row, made before the writer's lock is taken: formatting the
/// clock and the lock set as JSON and the trace id as text is most of a row's own cost, and
/// every other write of the store waits while the lock is held. The event id is stored as its
/// bytes ([`EventId`]).
struct AccessText {
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
                EventId(a.event_id),
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
        event_id: row.get::<_, EventId>(0)?.0.to_string(),
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

/// One access's recorded values by the table's unique key: trace, variable, event id.
const RECORDED_VALUES_SQL: &str = "SELECT value, old_value FROM accesses \
    WHERE trace_id = ?1 AND variable = ?2 AND event_id = ?3";

/// The recorded values of the accesses at `keys`: one lookup of the table's unique key (trace,
/// variable, event id) per key, in process, so no lookup reads another access's row. An access
/// not stored is left out; a key named twice reads its row once.
fn read_recorded_values(
    conn: &Connection,
    keys: &[AccessKey],
) -> Result<Vec<RecordedValues>, StoreError> {
    let failed = |e| StoreError::sqlite("read recorded values", e);
    let mut stmt = conn.prepare_cached(RECORDED_VALUES_SQL).map_err(failed)?;
    let mut seen = std::collections::HashSet::with_capacity(keys.len());
    let mut values = Vec::with_capacity(keys.len());
    for key in keys {
        if !seen.insert((key.trace_id, key.variable.as_str(), key.event_id)) {
            continue;
        }
        let row: Option<(String, Option<String>)> = stmt
            .query_row(
                params![
                    key.trace_id.to_string(),
                    key.variable,
                    EventId(key.event_id)
                ],
                read_columns,
            )
            .optional()
            .map_err(failed)?;
        if let Some((value, old_value)) = row {
            values.push(RecordedValues {
                event_id: key.event_id,
                value,
                old_value,
            });
        }
    }
    Ok(values)
}

/// The query of the accesses matching `filter` in (timestamp, id) order, `tail` appended.
fn accesses_sql(filter: &Filter, tail: &str) -> String {
    format!(
        "SELECT {ACCESS_COLUMNS} FROM accesses WHERE {} ORDER BY timestamp_ns, event_id {tail}",
        filter.sql()
    )
}

/// A trace's accesses of one variable. `+` keeps SQLite's planner off the variable's time index,
/// which it prefers for the order it gives: that read every access of the variable (all of a hot
/// variable's) to keep one trace's; the key's index reads the trace's alone, sorted after.
fn trace_variable_filter(trace_id: &str, variable: &str) -> Filter {
    Filter::new(Dialect::Sqlite)
        .equals("trace_id", Some(trace_id))
        .equals("+variable", Some(variable))
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
            let sql = accesses_sql(&filter, tail);
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

    async fn trace_variable_accesses(
        &self,
        trace_id: Uuid,
        variable: &str,
    ) -> Result<Vec<Access>, StoreError> {
        let trace = trace_id.to_string();
        let filter = trace_variable_filter(&trace, variable);
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

    async fn recorded_values(&self, keys: &[AccessKey]) -> Result<Vec<RecordedValues>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys = keys.to_vec();
        self.read(move |conn| read_recorded_values(conn, &keys))
            .await
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::{params, params_from_iter, Connection};

    use super::{accesses_sql, trace_variable_filter, RECORDED_VALUES_SQL};
    use crate::migrations::SQLITE;
    use crate::sqlite::{all_rows, apply_migrations, migrated_before};

    const INSERT: &str = "INSERT OR REPLACE INTO accesses (event_id, trace_id, timestamp_ns, \
        environment, variable, access_type, location, value, old_value, service, instance, \
        thread, clock, trusted_clock, locks, trace_start_ns, trace_end_ns) \
        VALUES (?1, ?2, ?3, 'test', ?4, 'Write', 'bank.rs:42', ?5, NULL, 'bank', 'i-1', 't1', \
        '[]', 0, '[]', 0, 1)";

    fn values(conn: &Connection) -> Vec<(String, String, String)> {
        all_rows(
            conn,
            "SELECT event_id, variable, value FROM accesses ORDER BY event_id",
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
    }

    /// Accesses stored before the table was keyed by trace keep every row through the
    /// migration, and a later write of the same event still replaces its row.
    #[test]
    fn migration_keeps_accesses_and_one_row_per_event() {
        let mut conn = migrated_before(8);
        for (id, trace, variable, value) in [
            ("e1", "t1", "x", "1"),
            ("e2", "t1", "y", "2"),
            ("e3", "t2", "x", "3"),
        ] {
            conn.execute(INSERT, params![id, trace, 10, variable, value])
                .expect("insert access");
        }
        apply_migrations(&mut conn, &SQLITE[..8]).expect("migrations through 8");
        let row = |id: &str, variable: &str, value: &str| {
            (id.to_string(), variable.to_string(), value.to_string())
        };
        assert_eq!(
            values(&conn),
            vec![
                row("e1", "x", "1"),
                row("e2", "y", "2"),
                row("e3", "x", "3")
            ]
        );
        conn.execute(INSERT, params!["e2", "t1", 20, "y", "22"])
            .expect("re-analysed access");
        let after = values(&conn);
        assert_eq!(after.len(), 3, "no second row for the event");
        assert_eq!(
            after[1],
            row("e2", "y", "22"),
            "the later write replaced the event's row"
        );
    }

    /// A recorded-values lookup and a trace's accesses of a variable read the unique key's
    /// index, not the table or the variable's time index.
    #[test]
    fn key_lookups_use_the_trace_key() {
        let mut conn = migrated_before(1);
        apply_migrations(&mut conn, SQLITE).expect("all migrations");
        let trace_variable = trace_variable_filter("t", "x");
        for (sql, params) in [
            (
                RECORDED_VALUES_SQL.to_string(),
                vec!["t".to_string(), "x".into(), "e".into()],
            ),
            (
                accesses_sql(&trace_variable, ""),
                vec!["t".into(), "x".into()],
            ),
        ] {
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .expect("prepare")
                .query_map(params_from_iter(params), |row| row.get(3))
                .expect("plan")
                .collect::<Result<_, _>>()
                .expect("rows");
            assert!(
                plan.iter()
                    .any(|step| step.contains("USING INDEX accesses_trace_variable_event")),
                "{sql}: {plan:?}"
            );
        }
    }
}

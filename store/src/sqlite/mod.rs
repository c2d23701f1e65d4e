//! The embedded store: SQLite through rusqlite (bundled), for `raceway up`.
//!
//! One connection behind a mutex; every call runs on tokio's blocking pool. The database is in WAL
//! mode with `synchronous=FULL`: a write that returned is on disk even after a power loss, which
//! matters because processors commit their input offsets once the store has accepted a batch.
//! Each `insert_events`/`upsert_findings`/`insert_accesses` call is one transaction.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use raceway_schemas::{Access, Event, RaceFinding};
use rusqlite::{named_params, params, Connection, OptionalExtension};
use uuid::Uuid;

use crate::analyses::clusters_json;
use crate::migrations::{Migration, SQLITE};
use crate::retention::{prune_blocking, PruneReport};
use crate::rows::now_version;
use crate::rows::{decode_payload, EventColumns};
use crate::sqlite::accesses::{
    insert_accesses_blocking, trace_variable_accesses_blocking, variable_accesses_blocking,
};
use crate::sqlite::analyses::{
    dependencies_blocking, latest_model_blocking, list_anomalies_blocking,
    load_checkpoint_blocking, recent_trace_features_blocking, replace_trace_analysis_blocking,
    save_checkpoint_blocking, save_model_blocking, trace_analysis_blocking,
    trace_anomalies_blocking,
};
use crate::sqlite::findings::{
    findings_for_variable_blocking, list_findings_blocking, trace_findings_blocking,
    upsert_findings_blocking,
};
use crate::{
    AnomalyPage, AnomalyQuery, DependencyStats, DurationAnomalyRow, FindingPage, FindingQuery,
    ModelRecord, Store, StoreError, TraceAnalysis, TraceAnalysisSummary, TracePage, TraceQuery,
    TraceSummary,
};

/// The embedded [`Store`]: one SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`, in WAL mode. Call
    /// [`Store::migrate`] before use.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)
            .map_err(|e| StoreError::sqlite(&format!("open {}", path.display()), e))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(|e| StoreError::sqlite("enable WAL mode", e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Sqlite {
                operation: format!("enable WAL mode on {}", path.display()),
                message: format!("journal mode is {mode}"),
            });
        }
        Self::configure(conn)
    }

    /// A private in-memory database, gone when the store is dropped (tests).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let conn =
            Connection::open_in_memory().map_err(|e| StoreError::sqlite("open in memory", e))?;
        Self::configure(conn)
    }

    fn configure(conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| StoreError::sqlite("set busy timeout", e))?;
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(|e| StoreError::sqlite("set pragmas", e))?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = lock(&conn);
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Internal(format!("SQLite worker task failed: {e}")))?
    }
}

/// Runs `sql` with `params` and decodes every row, in the query's order: `read` takes the
/// columns out, `decode` checks and converts them; SQLite errors name `operation`.
pub(crate) fn query_decoded<P, C, T>(
    conn: &Connection,
    operation: &str,
    sql: &str,
    params: P,
    read: fn(&rusqlite::Row<'_>) -> rusqlite::Result<C>,
    decode: fn(C) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError>
where
    P: rusqlite::Params,
{
    let failed = |e| StoreError::sqlite(operation, e);
    let mut stmt = conn.prepare_cached(sql).map_err(failed)?;
    let rows = stmt.query_map(params, read).map_err(failed)?;
    rows.map(|row| decode(row.map_err(failed)?)).collect()
}

/// A panic while holding the lock leaves no half-done transaction (rusqlite rolls back on drop),
/// so a poisoned mutex is safe to reuse.
fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn apply_migrations(conn: &mut Connection, migrations: &[Migration]) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version INTEGER PRIMARY KEY NOT NULL,
             name TEXT NOT NULL,
             applied_at_ns INTEGER NOT NULL
         )",
    )
    .map_err(|e| StoreError::sqlite("create schema_migrations", e))?;
    for migration in migrations {
        let failed = |e: rusqlite::Error| StoreError::Migration {
            version: migration.version,
            name: migration.name.to_string(),
            message: e.to_string(),
        };
        // IMMEDIATE: another process migrating the same file waits instead of racing.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(failed)?;
        let applied: Option<i64> = tx
            .query_row(
                "SELECT version FROM schema_migrations WHERE version = ?1",
                [migration.version],
                |row| row.get(0),
            )
            .optional()
            .map_err(failed)?;
        if applied.is_some() {
            continue;
        }
        tx.execute_batch(migration.sql).map_err(failed)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at_ns) VALUES (?1, ?2, ?3)",
            params![migration.version, migration.name, now_ns()],
        )
        .map_err(failed)?;
        tx.commit().map_err(failed)?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "applied SQLite migration"
        );
    }
    Ok(())
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The per-trace summary, computed over the (primary-key deduplicated) rows; `{where}` is
/// replaced by the filters.
const SUMMARY_SQL: &str = "
WITH summary AS (
    SELECT e.trace_id AS trace_id,
           COUNT(*) AS event_count,
           json_group_array(DISTINCT e.service) AS services,
           MIN(e.timestamp_ns) AS first_ts,
           MAX(e.timestamp_ns) AS last_ts,
           (SELECT COUNT(*) FROM (
                SELECT f.id FROM findings f
                WHERE f.first_trace_id = e.trace_id AND f.occurrences > 0
                UNION
                SELECT f.id FROM findings f
                WHERE f.second_trace_id = e.trace_id AND f.occurrences > 0
           )) AS race_count
    FROM events e
    GROUP BY e.trace_id
)
SELECT {select} FROM summary s
WHERE (:service IS NULL
       OR EXISTS (SELECT 1 FROM events x WHERE x.service = :service AND x.trace_id = s.trace_id))
  AND (:from_ns IS NULL OR s.last_ts >= :from_ns)
  AND (:to_ns IS NULL OR s.first_ts <= :to_ns)
  AND (:has_races IS NULL OR (s.race_count > 0) = :has_races)
{tail}";

fn list_traces_blocking(conn: &Connection, query: &TraceQuery) -> Result<TracePage, StoreError> {
    let page_sql = SUMMARY_SQL
        .replace(
            "{select}",
            "s.trace_id, s.event_count, s.services, s.first_ts, s.last_ts, s.race_count",
        )
        .replace(
            "{tail}",
            "ORDER BY s.first_ts DESC, s.trace_id LIMIT :limit OFFSET :offset",
        );
    let total_sql = SUMMARY_SQL
        .replace("{select}", "COUNT(*)")
        .replace("{tail}", "");
    let failed = |e| StoreError::sqlite("list traces", e);
    let has_races = query.has_races.map(i64::from);
    let mut stmt = conn.prepare_cached(&page_sql).map_err(failed)?;
    let rows = stmt
        .query_map(
            named_params! {
                ":service": query.service,
                ":from_ns": query.from_ns,
                ":to_ns": query.to_ns,
                ":has_races": has_races,
                ":limit": query.limit,
                ":offset": query.offset,
            },
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, i64>(4)?,
                    row.get::<_, i64>(5)?,
                ))
            },
        )
        .map_err(failed)?;
    let mut traces = Vec::new();
    for row in rows {
        let (trace_id, event_count, services, first_ts, last_ts, race_count) =
            row.map_err(failed)?;
        let corrupt = |message: String| StoreError::Corrupt {
            what: "trace",
            id: trace_id.clone(),
            message,
        };
        let mut services: Vec<String> = serde_json::from_str(&services)
            .map_err(|e| corrupt(format!("services are not a JSON array: {e}")))?;
        services.sort();
        traces.push(TraceSummary {
            trace_id: Uuid::parse_str(&trace_id).map_err(|e| corrupt(e.to_string()))?,
            event_count: u64::try_from(event_count).unwrap_or(0),
            services,
            first_timestamp_ns: first_ts,
            last_timestamp_ns: last_ts,
            race_count: u64::try_from(race_count).unwrap_or(0),
        });
    }
    let total: i64 = conn
        .prepare_cached(&total_sql)
        .map_err(failed)?
        .query_row(
            named_params! {
                ":service": query.service,
                ":from_ns": query.from_ns,
                ":to_ns": query.to_ns,
                ":has_races": has_races,
            },
            |row| row.get(0),
        )
        .map_err(failed)?;
    Ok(TracePage {
        traces,
        total: u64::try_from(total).unwrap_or(0),
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        self.call(|conn| apply_migrations(conn, SQLITE)).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.call(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(|e| StoreError::sqlite("ping", e))
        })
        .await
    }

    async fn insert_events(&self, events: &[Event]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let rows: Vec<EventColumns> = events.iter().map(EventColumns::new).collect();
        self.call(move |conn| {
            let failed = |e| StoreError::sqlite("insert events", e);
            let tx = conn.transaction().map_err(failed)?;
            {
                let mut stmt = tx
                    .prepare_cached(
                        "INSERT OR IGNORE INTO events (id, trace_id, parent_id, timestamp_ns, kind, \
                         service, instance_id, thread_id, environment, variable, access_type, payload) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                    )
                    .map_err(failed)?;
                for r in &rows {
                    stmt.execute(params![
                        r.id.to_string(),
                        r.trace_id.to_string(),
                        r.parent_id.map(|p| p.to_string()),
                        r.timestamp_ns,
                        r.kind,
                        r.service,
                        r.instance_id,
                        r.thread_id,
                        r.environment,
                        r.variable,
                        r.access_type,
                        r.payload,
                    ])
                    .map_err(failed)?;
                }
            }
            tx.commit().map_err(failed)
        })
        .await
    }

    async fn trace_events(&self, trace_id: Uuid) -> Result<Vec<Event>, StoreError> {
        self.call(move |conn| {
            let failed = |e| StoreError::sqlite("read trace events", e);
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, payload FROM events WHERE trace_id = ?1 ORDER BY timestamp_ns, id",
                )
                .map_err(failed)?;
            let rows = stmt
                .query_map([trace_id.to_string()], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })
                .map_err(failed)?;
            let mut events = Vec::new();
            for row in rows {
                let (id, payload) = row.map_err(failed)?;
                events.push(decode_payload(&id, &payload)?);
            }
            Ok(events)
        })
        .await
    }

    async fn list_traces(&self, query: &TraceQuery) -> Result<TracePage, StoreError> {
        let query = query.clone();
        self.call(move |conn| list_traces_blocking(conn, &query))
            .await
    }

    async fn upsert_findings(&self, findings: &[RaceFinding]) -> Result<(), StoreError> {
        if findings.is_empty() {
            return Ok(());
        }
        let findings = findings.to_vec();
        self.call(move |conn| upsert_findings_blocking(conn, &findings))
            .await
    }

    async fn trace_findings(&self, trace_id: Uuid) -> Result<Vec<RaceFinding>, StoreError> {
        self.call(move |conn| trace_findings_blocking(conn, trace_id))
            .await
    }

    async fn list_findings(&self, query: &FindingQuery) -> Result<FindingPage, StoreError> {
        let query = query.clone();
        self.call(move |conn| list_findings_blocking(conn, &query))
            .await
    }

    async fn findings_for_variable(
        &self,
        environment: Option<&str>,
        variable: &str,
    ) -> Result<Vec<RaceFinding>, StoreError> {
        let environment = environment.map(str::to_string);
        let variable = variable.to_string();
        self.call(move |conn| {
            findings_for_variable_blocking(conn, environment.as_deref(), &variable)
        })
        .await
    }

    async fn insert_accesses(&self, accesses: &[Access]) -> Result<(), StoreError> {
        if accesses.is_empty() {
            return Ok(());
        }
        let accesses = accesses.to_vec();
        self.call(move |conn| insert_accesses_blocking(conn, &accesses))
            .await
    }

    async fn variable_accesses(
        &self,
        environment: Option<&str>,
        variable: &str,
        from_ns: Option<i64>,
        to_ns: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Access>, StoreError> {
        let environment = environment.map(str::to_string);
        let variable = variable.to_string();
        self.call(move |conn| {
            variable_accesses_blocking(
                conn,
                environment.as_deref(),
                &variable,
                from_ns,
                to_ns,
                limit,
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
        self.call(move |conn| trace_variable_accesses_blocking(conn, trace_id, &variable))
            .await
    }

    async fn replace_trace_analyses(&self, analyses: &[TraceAnalysis]) -> Result<(), StoreError> {
        let analyses = analyses.to_vec();
        self.call(move |conn| {
            analyses
                .iter()
                .try_for_each(|analysis| replace_trace_analysis_blocking(conn, analysis))
        })
        .await
    }

    async fn trace_analysis(
        &self,
        trace_id: Uuid,
    ) -> Result<Option<TraceAnalysisSummary>, StoreError> {
        self.call(move |conn| trace_analysis_blocking(conn, trace_id))
            .await
    }

    async fn trace_anomalies(&self, trace_id: Uuid) -> Result<Vec<DurationAnomalyRow>, StoreError> {
        self.call(move |conn| trace_anomalies_blocking(conn, trace_id))
            .await
    }

    async fn list_anomalies(&self, query: &AnomalyQuery) -> Result<AnomalyPage, StoreError> {
        let query = query.clone();
        self.call(move |conn| list_anomalies_blocking(conn, &query))
            .await
    }

    async fn dependencies(
        &self,
        from_ns: Option<i64>,
        to_ns: Option<i64>,
    ) -> Result<Vec<DependencyStats>, StoreError> {
        self.call(move |conn| dependencies_blocking(conn, from_ns, to_ns))
            .await
    }

    async fn recent_trace_features(&self, limit: u32) -> Result<Vec<(Uuid, String)>, StoreError> {
        self.call(move |conn| recent_trace_features_blocking(conn, limit))
            .await
    }

    async fn save_checkpoint(&self, name: &str, payload: &str) -> Result<(), StoreError> {
        let (name, payload) = (name.to_string(), payload.to_string());
        let version = now_version();
        self.call(move |conn| save_checkpoint_blocking(conn, &name, &payload, version))
            .await
    }

    async fn load_checkpoint(&self, name: &str) -> Result<Option<String>, StoreError> {
        let name = name.to_string();
        self.call(move |conn| load_checkpoint_blocking(conn, &name))
            .await
    }

    async fn save_model(&self, model: &ModelRecord) -> Result<(), StoreError> {
        let model = model.clone();
        self.call(move |conn| save_model_blocking(conn, &model, &clusters_json(&model)))
            .await
    }

    async fn latest_model(&self) -> Result<Option<ModelRecord>, StoreError> {
        self.call(|conn| latest_model_blocking(conn)).await
    }

    async fn prune_older_than(&self, cutoff_ns: i64) -> Result<PruneReport, StoreError> {
        self.call(move |conn| prune_blocking(conn, cutoff_ns)).await
    }
}

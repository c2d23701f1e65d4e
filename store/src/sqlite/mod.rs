//! The embedded store: SQLite through rusqlite (bundled), for `raceway up`.
//!
//! One writer connection behind a mutex, and a pool of read-only connections beside it; every
//! call runs on tokio's blocking pool. The database is in WAL mode with `synchronous=FULL`: a
//! write that returned is on disk even after a power loss, which matters because processors
//! commit their input offsets once the store has accepted a batch. Each
//! `insert_events`/`upsert_findings`/`insert_accesses` call is one transaction.
//!
//! Reads never take the writer's mutex. WAL lets any number of readers run beside the one
//! writer, each on the snapshot of the last commit when its statement began, so a query API
//! serving many clients does not queue its reads behind each other or behind the processors'
//! writes (with one shared connection, 20 concurrent clients saw a p99 of seconds on every
//! route). A write that returned is committed, so a read started after it sees it. An in-memory
//! database (tests) is private to its connection, so there every read goes through the writer.
//!
//! The writer never checkpoints the WAL itself: a thread of the store does, beside it (see
//! [`checkpoint`]).

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::types::ToSqlOutput;
use rusqlite::{params, params_from_iter, Connection, OpenFlags, OptionalExtension, ToSql};

use self::checkpoint::Checkpointer;
use crate::filter::{Dialect, Filter, Value};
use crate::migrations::{Migration, SQLITE};
use crate::{Lifecycle, StoreError};

mod accesses;
mod analyses;
mod checkpoint;
mod events;
pub(crate) mod findings;
mod ids;
mod payload;
mod retention;
mod services;
mod summaries;

/// Read connections of a file database: enough for the query API's concurrent requests on a
/// small machine; a request beyond them waits for a free one.
const READERS: u32 = 4;

/// The writer's page cache (KiB): the pages of the indexes a batch of inserts touches stay in
/// memory between batches instead of being read back (SQLite's default is 2 MiB). Bounded, so
/// memory stays flat as the data grows.
const WRITER_CACHE_KIB: u32 = 32 * 1024;

/// Bytes the WAL file is cut back to after a checkpoint; without a limit it keeps the size of
/// the largest stretch of writes between two checkpoints.
const WAL_SIZE_LIMIT: i64 = 16 << 20;

/// The embedded [`Store`](crate::Store): one SQLite file; every role, one file each in this
/// folder.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    /// Read-only connections to the same file; `None` for an in-memory database.
    readers: Option<r2d2::Pool<SqliteConnectionManager>>,
    /// The thread checkpointing the file's WAL; `None` for an in-memory database.
    checkpointer: Option<Arc<Checkpointer>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`, in WAL mode. Call
    /// [`Lifecycle::migrate`] before use.
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
        let checkpointer = Checkpointer::start(&conn, path)?;
        let mut store = Self::configure(conn)?;
        store.readers = Some(reader_pool(path)?);
        store.checkpointer = Some(Arc::new(checkpointer));
        Ok(store)
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
        conn.execute_batch(&format!(
            "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
             PRAGMA cache_size = -{WRITER_CACHE_KIB}; PRAGMA journal_size_limit = {WAL_SIZE_LIMIT};"
        ))
        .map_err(|e| StoreError::sqlite("set pragmas", e))?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            readers: None,
            checkpointer: None,
        })
    }

    /// Runs `f` with the connection on the blocking pool, then lets the checkpoint thread copy
    /// what it committed into the file.
    pub(crate) async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let checkpointer = self.checkpointer.clone();
        tokio::task::spawn_blocking(move || {
            let done = f(&mut lock(&conn));
            if let Some(checkpointer) = checkpointer {
                checkpointer.nudge();
            }
            done
        })
        .await
        .map_err(|e| StoreError::Internal(format!("SQLite worker task failed: {e}")))?
    }

    /// Runs the read `f` on a read connection (the writer's for an in-memory database) on the
    /// blocking pool.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let Some(readers) = self.readers.clone() else {
            return self.call(move |conn| f(conn)).await;
        };
        tokio::task::spawn_blocking(move || {
            let conn = readers
                .get()
                .map_err(|e| StoreError::Internal(format!("no SQLite read connection: {e}")))?;
            f(&conn)
        })
        .await
        .map_err(|e| StoreError::Internal(format!("SQLite worker task failed: {e}")))?
    }

    /// Runs `write` with a copy of `rows` on the blocking pool; nothing for no rows.
    pub(crate) async fn write_rows<T: Clone + Send + 'static>(
        &self,
        rows: &[T],
        write: fn(&mut Connection, &[T]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let rows = rows.to_vec();
        self.call(move |conn| write(conn, &rows)).await
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

/// Reads a row's columns, in order, as the tuple `C` (the `read` of [`query_decoded`] for rows
/// that are a flat list of columns).
pub(crate) fn read_columns<C>(row: &rusqlite::Row<'_>) -> rusqlite::Result<C>
where
    C: for<'a> TryFrom<&'a rusqlite::Row<'a>, Error = rusqlite::Error>,
{
    C::try_from(row)
}

/// One page of the rows of `select_sql` in the order `order_by` (the paging clause is appended)
/// and how many rows it has in all, both bound to `filter`'s values: the shape of every
/// paginated listing. `read` and `decode` as in [`query_decoded`].
///
/// The count is taken over `select_sql` without its order, so SQLite can flatten it into the
/// count and leave out every column the count does not need (for the trace list, each trace's
/// race and anomaly counts, lookups in other tables). Older SQLite (3.40) did not drop an
/// `ORDER BY` inside a counted subquery and computed every row's columns: 22.5 against 0.8 ms
/// at 1,600 traces; the bundled 3.50 already drops it (1.4 against 0.7 ms).
pub(crate) fn query_page<C, T>(
    conn: &Connection,
    what: &str,
    (select_sql, order_by): (&str, &str),
    filter: &Filter,
    (limit, offset): (u32, u32),
    read: fn(&rusqlite::Row<'_>) -> rusqlite::Result<C>,
    decode: fn(C) -> Result<T, StoreError>,
) -> Result<(Vec<T>, u64), StoreError> {
    let (clause, page) = Dialect::Sqlite.page(limit, offset);
    let rows = query_decoded(
        conn,
        &format!("list {what}"),
        &format!("{select_sql} ORDER BY {order_by} {clause}"),
        params_from_iter(filter.params_with(&page)),
        read,
        decode,
    )?;
    let failed = |e| StoreError::sqlite(&format!("count {what}"), e);
    let total: i64 = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM ({select_sql})"))
        .map_err(failed)?
        .query_row(params_from_iter(filter.params()), |row| row.get(0))
        .map_err(failed)?;
    Ok((rows, u64::try_from(total).unwrap_or(0)))
}

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Value::Str(s) => s.to_sql(),
            Value::I64(n) => n.to_sql(),
        }
    }
}

/// The pool of read-only connections to the database file at `path` (opened by the writer
/// first, so it exists and is in WAL mode).
fn reader_pool(path: &Path) -> Result<r2d2::Pool<SqliteConnectionManager>, StoreError> {
    let manager = SqliteConnectionManager::file(path)
        .with_flags(OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .with_init(|conn| conn.busy_timeout(Duration::from_secs(10)));
    r2d2::Pool::builder()
        .max_size(READERS)
        .min_idle(Some(0))
        .build(manager)
        .map_err(|e| StoreError::Sqlite {
            operation: format!("open read connections to {}", path.display()),
            message: e.to_string(),
        })
}

/// A panic while holding the lock leaves no half-done transaction (rusqlite rolls back on drop),
/// so a poisoned mutex is safe to reuse.
fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The migration after whose SQL the stored JSON payloads are converted (see [`payload`]).
const COMPACT_PAYLOADS_VERSION: u32 = 6;

pub(crate) fn apply_migrations(
    conn: &mut Connection,
    migrations: &[Migration],
) -> Result<(), StoreError> {
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
        if migration.version == COMPACT_PAYLOADS_VERSION {
            let converted = payload::convert_json_payloads(&tx)?;
            tracing::info!(
                converted,
                "converted event payloads to the compact encoding"
            );
        }
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

/// An in-memory database with the migrations before `version` applied: the schema a release
/// before it left, for tests of what `version` converts.
#[cfg(test)]
pub(crate) fn migrated_before(version: u32) -> Connection {
    let mut conn = Connection::open_in_memory().expect("open in memory");
    let before: Vec<_> = SQLITE
        .iter()
        .filter(|m| m.version < version)
        .copied()
        .collect();
    apply_migrations(&mut conn, &before).expect("earlier migrations");
    conn
}

/// Every row of `sql` (which takes no parameters), each read by `read` (tests).
#[cfg(test)]
pub(crate) fn all_rows<T>(
    conn: &Connection,
    sql: &str,
    read: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Vec<T> {
    conn.prepare(sql)
        .expect("prepare")
        .query_map([], read)
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[async_trait]
impl Lifecycle for SqliteStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        self.call(|conn| apply_migrations(conn, SQLITE)).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(|e| StoreError::sqlite("ping", e))
        })
        .await
    }
}

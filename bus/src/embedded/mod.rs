//! The embedded bus: Kafka's model (topics, partitions, murmur2 keys, group offsets) in one
//! process, backed by a SQLite log so that nothing a `produce` accepted is lost on a crash.
//!
//! Tables: `topics(name, partitions)`, `partitions(topic, part, next_offset)`,
//! `log(topic, part, off, key, value)` and `group_offsets(grp, topic, part, next_offset)`.
//! The database runs in WAL mode with `synchronous=FULL`: a produce returns after its
//! transaction is committed and synced. A consumer group has at most one live consumer per
//! process, which owns every partition of its topics.
//!
//! The log compacts itself: a group's commit deletes, in the same transaction, the records of
//! the committed partitions that every group reading them has passed (they are never read
//! again). Without it the log kept every record until `raceway prune`, more than the store
//! itself (about 1.5 KB per event). A crash cannot lose a record still to be read: the deletion
//! commits with the offsets that make it safe, or not at all. Partitions no group reads (the
//! dead letters) are kept for operators; a tail (the live stream) reads records as they are
//! appended, so it only misses a record if it falls behind the slowest group.
//!
//! A topic only tails read (the findings notices of the live stream) would grow without end, as
//! no group commits past its records: [`EmbeddedBus::retain_latest`] bounds it to its newest
//! records per partition, deleting older ones in the produce that passes the bound. A tail
//! further behind than the bound misses records, as it would behind a Kafka topic's retention.
//!
//! The file gives the space back: it is in incremental auto-vacuum mode, and a commit that
//! leaves more than [`SPARE_FREE_PAGES`] twice over free returns up to [`RETURN_PAGES_PER_COMMIT`]
//! of them to the file system (`PRAGMA incremental_vacuum`), keeping [`SPARE_FREE_PAGES`] for
//! the next records. Without it the file stayed as large as the largest backlog it ever held
//! (hundreds of MB after a burst), because SQLite only reuses freed pages. The WAL is cut back
//! to [`WAL_SIZE_LIMIT`] after each checkpoint for the same reason. Once the log is quiet, a
//! thread of the bus gives back the spare pages and empties the WAL too (see [`quiet`]). A log
//! written before this (schema version 1) is converted once when opened (`VACUUM`).

mod consumer;
mod quiet;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use tokio::sync::watch;

use self::consumer::{EmbeddedConsumer, EmbeddedTail};
use self::quiet::Quiet;
use crate::{partition_for, Bus, BusConsumer, BusError, BusTail, Record};

/// Version stored in `PRAGMA user_version`. Version 2: incremental auto-vacuum.
const SCHEMA_VERSION: i64 = 2;

/// Free pages a commit leaves in the file for new records (16 MiB of 4 KiB pages): a steady
/// stream reuses them instead of growing and shrinking the file.
const SPARE_FREE_PAGES: i64 = EmbeddedBus::SPARE_FREE_PAGES;
/// Free pages one commit returns at most, so a commit after a drained burst stays short.
const RETURN_PAGES_PER_COMMIT: i64 = EmbeddedBus::RETURN_PAGES_PER_COMMIT;
/// Bytes the WAL file is cut back to after a checkpoint.
const WAL_SIZE_LIMIT: i64 = 16 << 20;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS topics (
    name TEXT PRIMARY KEY,
    partitions INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS partitions (
    topic TEXT NOT NULL,
    part INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, part)
);
CREATE TABLE IF NOT EXISTS log (
    topic TEXT NOT NULL,
    part INTEGER NOT NULL,
    off INTEGER NOT NULL,
    key BLOB,
    value BLOB NOT NULL,
    PRIMARY KEY (topic, part, off)
);
CREATE TABLE IF NOT EXISTS group_offsets (
    grp TEXT NOT NULL,
    topic TEXT NOT NULL,
    part INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (grp, topic, part)
);
";

/// An in-process bus with Kafka's topics, partitions and key hashing, stored in a SQLite log.
///
/// Cloning is cheap; clones share the same log.
#[derive(Clone)]
pub struct EmbeddedBus {
    shared: Arc<Shared>,
}

pub(super) struct Shared {
    pub(super) path: PathBuf,
    pub(super) default_partitions: i32,
    /// The connection producers and topic creation write through.
    pub(super) writer: Arc<Mutex<Connection>>,
    /// Topic name -> partition count.
    pub(super) topics: Mutex<HashMap<String, i32>>,
    /// Groups with a live consumer.
    pub(super) active_groups: Mutex<HashSet<String>>,
    /// Bumped after every committed produce, to wake consumers.
    pub(super) appended: watch::Sender<u64>,
    /// Topic -> how many of its newest records per partition the log keeps
    /// ([`EmbeddedBus::retain_latest`]); topics not named keep theirs until groups pass them.
    pub(super) retained: Mutex<HashMap<String, i64>>,
    /// The thread giving a quiet log's spare space back, told of every produce and commit.
    pub(super) quiet: Quiet,
}

/// Locks a mutex, ignoring poisoning: a panicked holder leaves SQLite consistent (an open
/// transaction rolls back when dropped), and the maps it guards are updated atomically.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs SQLite work on the blocking pool.
pub(super) async fn blocking<T, F>(f: F) -> Result<T, BusError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, BusError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| BusError::Internal(format!("embedded bus worker failed: {e}")))?
}

/// Runs `work` on the blocking pool in one write transaction (`BEGIN IMMEDIATE`) on `conn`,
/// committed when `work` succeeds. `work` gets the transaction and the error mapper of `path`.
pub(super) async fn in_write_transaction<T, F>(
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
    work: F,
) -> Result<T, BusError>
where
    T: Send + 'static,
    F: FnOnce(&Transaction<'_>, &dyn Fn(rusqlite::Error) -> BusError) -> Result<T, BusError>
        + Send
        + 'static,
{
    blocking(move || {
        let err = storage(&path);
        let mut conn = lock(&conn);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        let value = work(&tx, &err)?;
        tx.commit().map_err(&err)?;
        Ok(value)
    })
    .await
}

pub(super) fn storage(path: &Path) -> impl Fn(rusqlite::Error) -> BusError + '_ {
    move |source| BusError::Storage {
        path: path.to_path_buf(),
        source,
    }
}

pub(super) fn open_connection(path: &Path) -> Result<Connection, BusError> {
    let err = storage(path);
    let conn = Connection::open(path).map_err(&err)?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(&err)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))
        .map_err(&err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(BusError::Internal(format!(
            "embedded bus log {}: SQLite refused WAL mode (journal_mode={mode})",
            path.display()
        )));
    }
    conn.execute_batch(&format!(
        "PRAGMA synchronous=FULL; PRAGMA journal_size_limit={WAL_SIZE_LIMIT};"
    ))
    .map_err(&err)?;
    Ok(conn)
}

/// Returns free pages of the log's file to the file system, down to [`SPARE_FREE_PAGES`] and at
/// most [`RETURN_PAGES_PER_COMMIT`], once more than twice the spare are free.
pub(super) fn return_free_pages(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let free: i64 = tx.query_row("PRAGMA freelist_count", [], |row| row.get(0))?;
    if free > 2 * SPARE_FREE_PAGES {
        let pages = (free - SPARE_FREE_PAGES).min(RETURN_PAGES_PER_COMMIT);
        incremental_vacuum(tx, &format!("PRAGMA incremental_vacuum({pages})"))?;
    }
    Ok(())
}

/// Runs an `incremental_vacuum` pragma to its end: it frees one page per step, so a single step
/// (what `execute` does) would free one page.
fn incremental_vacuum(conn: &Connection, pragma: &str) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(pragma)?;
    let mut rows = stmt.query([])?;
    while rows.next()?.is_some() {}
    Ok(())
}

/// Puts the log's file in incremental auto-vacuum mode: set before the first table of a new
/// file; an older file is rewritten once (`VACUUM`, as long as it takes to copy what it holds).
fn enable_incremental_vacuum(conn: &Connection, path: &Path) -> Result<(), BusError> {
    let err = storage(path);
    conn.execute_batch("PRAGMA auto_vacuum=INCREMENTAL;")
        .map_err(&err)?;
    let mode: i64 = conn
        .query_row("PRAGMA auto_vacuum", [], |row| row.get(0))
        .map_err(&err)?;
    if mode != 2 {
        // WAL mode, set first, already wrote the header of a new file: it is rewritten too
        // (empty, so at once).
        let tables: i64 = conn
            .query_row("SELECT COUNT(*) FROM sqlite_master", [], |row| row.get(0))
            .map_err(&err)?;
        if tables > 0 {
            tracing::info!(path = %path.display(), "converting the embedded bus log to incremental vacuum");
        }
        conn.execute_batch("VACUUM;").map_err(&err)?;
    }
    Ok(())
}

impl EmbeddedBus {
    /// Free pages a commit leaves in the log's file for new records (see the module docs).
    pub const SPARE_FREE_PAGES: i64 = 4096;
    /// Free pages one commit returns to the file system at most.
    pub const RETURN_PAGES_PER_COMMIT: i64 = 4096;

    /// Opens (creating if needed) the log at `path`. `partitions` is the partition count of
    /// topics created with `create_topics(.., 0)`; existing topics keep theirs.
    pub fn open(path: &Path, partitions: i32) -> Result<Self, BusError> {
        if partitions <= 0 {
            return Err(BusError::InvalidArgument(format!(
                "embedded bus partition count must be positive, got {partitions}"
            )));
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                BusError::InvalidArgument(format!(
                    "cannot create directory {} for the embedded bus log: {e}",
                    parent.display()
                ))
            })?;
        }
        let conn = open_connection(path)?;
        let err = storage(path);
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(&err)?;
        if version > SCHEMA_VERSION {
            return Err(BusError::InvalidArgument(format!(
                "embedded bus log {} has schema version {version}, newer than this raceway \
                 understands ({SCHEMA_VERSION})",
                path.display()
            )));
        }
        enable_incremental_vacuum(&conn, path)?;
        conn.execute_batch(SCHEMA).map_err(&err)?;
        conn.execute_batch(&format!("PRAGMA user_version={SCHEMA_VERSION};"))
            .map_err(&err)?;
        let topics = {
            let mut stmt = conn
                .prepare("SELECT name, partitions FROM topics")
                .map_err(&err)?;
            let rows = stmt
                .query_map([], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, i32>(1)?))
                })
                .map_err(&err)?;
            rows.collect::<Result<HashMap<_, _>, _>>().map_err(&err)?
        };
        tracing::info!(path = %path.display(), topics = topics.len(), "opened embedded bus log");
        let (appended, _) = watch::channel(0);
        Ok(EmbeddedBus {
            shared: Arc::new(Shared {
                path: path.to_path_buf(),
                default_partitions: partitions,
                writer: Arc::new(Mutex::new(conn)),
                topics: Mutex::new(topics),
                active_groups: Mutex::new(HashSet::new()),
                appended,
                retained: Mutex::new(HashMap::new()),
                quiet: Quiet::start(path)?,
            }),
        })
    }

    /// The SQLite file backing this bus.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Keeps only the newest `records` of each partition of `topic` from now on: each produce
    /// to it deletes the older ones. For a topic no consumer group reads, only tails, whose
    /// records no commit would ever release.
    pub fn retain_latest(&self, topic: &str, records: u64) {
        let records = i64::try_from(records).unwrap_or(i64::MAX);
        lock(&self.shared.retained).insert(topic.to_string(), records);
    }

    /// Deletes the records of every partition that all consumer groups reading it have committed
    /// past (they are never read again), and returns how many. Commits already do this for
    /// their partitions; this sweeps a log written before they did. Partitions no group reads
    /// (the dead letters) are kept for operators. The freed pages go back to the file system.
    pub async fn prune_consumed(&self) -> Result<u64, BusError> {
        let writer = self.shared.writer.clone();
        let path = self.shared.path.clone();
        blocking(move || {
            let conn = lock(&writer);
            let removed = conn
                .execute(
                    "DELETE FROM log WHERE off < \
                       (SELECT MIN(g.next_offset) FROM group_offsets g \
                        WHERE g.topic = log.topic AND g.part = log.part)",
                    [],
                )
                .map_err(storage(&path))?;
            // Every free page back to the file system: an operator's sweep, not a hot path.
            incremental_vacuum(&conn, "PRAGMA incremental_vacuum").map_err(storage(&path))?;
            Ok(removed as u64)
        })
        .await
    }

    /// Records held in the log, over every topic and partition.
    pub async fn stored_records(&self) -> Result<u64, BusError> {
        let writer = self.shared.writer.clone();
        let path = self.shared.path.clone();
        blocking(move || {
            let conn = lock(&writer);
            conn.query_row("SELECT COUNT(*) FROM log", [], |row| row.get::<_, i64>(0))
                .map(i64::unsigned_abs)
                .map_err(storage(&path))
        })
        .await
    }

    /// (topic, partition count) of each distinct topic; every one must exist.
    fn layout(&self, topics: &[String]) -> Result<Vec<(String, i32)>, BusError> {
        let mut layout = Vec::new();
        let mut seen = HashSet::new();
        for topic in topics {
            let partitions = self.partitions_of(topic)?;
            if seen.insert(topic.clone()) {
                layout.push((topic.clone(), partitions));
            }
        }
        Ok(layout)
    }

    fn partitions_of(&self, topic: &str) -> Result<i32, BusError> {
        lock(&self.shared.topics)
            .get(topic)
            .copied()
            .ok_or_else(|| BusError::UnknownTopic {
                topic: topic.to_string(),
            })
    }
}

#[async_trait]
impl Bus for EmbeddedBus {
    async fn create_topics(&self, topics: &[String], partitions: i32) -> Result<(), BusError> {
        let wanted = if partitions <= 0 {
            self.shared.default_partitions
        } else {
            partitions
        };
        if let Some(bad) = topics.iter().find(|t| t.trim().is_empty()) {
            return Err(BusError::InvalidArgument(format!(
                "invalid topic name {bad:?}"
            )));
        }
        let names = topics.to_vec();
        let writer = self.shared.writer.clone();
        let path = self.shared.path.clone();
        let created = in_write_transaction(writer, path, move |tx, err| {
            let mut result = Vec::with_capacity(names.len());
            for name in names {
                let existing: Option<i32> = tx
                    .query_row(
                        "SELECT partitions FROM topics WHERE name = ?1",
                        [&name],
                        |row| row.get(0),
                    )
                    .optional()
                    .map_err(&err)?;
                if let Some(existing) = existing {
                    if existing != wanted {
                        tracing::warn!(
                            topic = %name, existing, requested = wanted,
                            "topic exists with a different partition count; keeping it"
                        );
                    }
                    result.push((name, existing));
                    continue;
                }
                tx.execute(
                    "INSERT INTO topics (name, partitions) VALUES (?1, ?2)",
                    params![name, wanted],
                )
                .map_err(&err)?;
                for part in 0..wanted {
                    tx.execute(
                        "INSERT OR IGNORE INTO partitions (topic, part, next_offset) \
                         VALUES (?1, ?2, 0)",
                        params![name, part],
                    )
                    .map_err(&err)?;
                }
                tracing::info!(topic = %name, partitions = wanted, "created embedded topic");
                result.push((name, wanted));
            }
            Ok(result)
        })
        .await?;
        lock(&self.shared.topics).extend(created);
        Ok(())
    }

    async fn produce(&self, topic: &str, records: Vec<Record>) -> Result<(), BusError> {
        let partitions = self.partitions_of(topic)?;
        if records.is_empty() {
            return Ok(());
        }
        let retained = lock(&self.shared.retained).get(topic).copied();
        let topic = topic.to_string();
        let writer = self.shared.writer.clone();
        let path = self.shared.path.clone();
        in_write_transaction(writer, path, move |tx, err| {
            let mut next: HashMap<i32, i64> = HashMap::new();
            {
                let mut head = tx
                    .prepare_cached(
                        "SELECT next_offset FROM partitions WHERE topic = ?1 AND part = ?2",
                    )
                    .map_err(&err)?;
                let mut insert = tx
                    .prepare_cached(
                        "INSERT INTO log (topic, part, off, key, value) \
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )
                    .map_err(&err)?;
                for record in &records {
                    let part = partition_for(&record.key, partitions);
                    let offset = match next.get(&part) {
                        Some(o) => *o,
                        None => head
                            .query_row(params![topic, part], |row| row.get::<_, i64>(0))
                            .optional()
                            .map_err(&err)?
                            .unwrap_or(0),
                    };
                    insert
                        .execute(params![topic, part, offset, record.key, record.value])
                        .map_err(&err)?;
                    next.insert(part, offset + 1);
                }
                let mut update = tx
                    .prepare_cached(
                        "INSERT INTO partitions (topic, part, next_offset) VALUES (?1, ?2, ?3) \
                         ON CONFLICT (topic, part) DO UPDATE SET next_offset = excluded.next_offset",
                    )
                    .map_err(&err)?;
                for (part, offset) in &next {
                    update
                        .execute(params![topic, part, offset])
                        .map_err(&err)?;
                }
                if let Some(keep) = retained {
                    let mut forget = tx
                        .prepare_cached(
                            "DELETE FROM log WHERE topic = ?1 AND part = ?2 AND off < ?3",
                        )
                        .map_err(&err)?;
                    for (part, offset) in &next {
                        forget
                            .execute(params![topic, part, offset.saturating_sub(keep)])
                            .map_err(&err)?;
                    }
                }
            }
            Ok(())
        })
        .await?;
        self.shared.appended.send_modify(|n| *n = n.wrapping_add(1));
        self.shared.quiet.written();
        Ok(())
    }

    async fn partitions(&self, topic: &str) -> Result<i32, BusError> {
        self.partitions_of(topic)
    }

    async fn subscribe(
        &self,
        group: &str,
        topics: &[String],
    ) -> Result<Box<dyn BusConsumer>, BusError> {
        let layout = self.layout(topics)?;
        crate::check_subscription(group, topics)?;
        let consumer = EmbeddedConsumer::join(self.shared.clone(), group, layout).await?;
        Ok(Box::new(consumer))
    }

    async fn tail(&self, topics: &[String]) -> Result<Box<dyn BusTail>, BusError> {
        Ok(Box::new(
            EmbeddedTail::open(&self.shared, self.layout(topics)?).await?,
        ))
    }
}

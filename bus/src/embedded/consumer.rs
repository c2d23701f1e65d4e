//! The embedded bus's consumer: the only member of its group in the process, owning every
//! partition of its topics, starting at the group's committed offsets.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::watch;
use tokio::time::Instant;

use super::{
    blocking, in_write_transaction, lock, open_connection, return_free_pages, storage, Shared,
};
use crate::{BusConsumer, BusError, BusTail, ConsumedRecord, PartitionLag, Polled};

/// Marks a group as having a live consumer until dropped.
struct GroupLease {
    shared: Arc<Shared>,
    group: String,
}

impl Drop for GroupLease {
    fn drop(&mut self) {
        lock(&self.shared.active_groups).remove(&self.group);
        tracing::info!(group = %self.group, "embedded consumer left its group");
    }
}

#[derive(Debug, Clone)]
struct Position {
    topic: String,
    part: i32,
    /// Offset of the next record to return.
    next: i64,
}

/// The embedded bus's consumer: owns every partition of its topics for its group.
pub(super) struct EmbeddedConsumer {
    lease: GroupLease,
    reader: LogReader,
}

/// Reads partitions of the log from given positions: the consumer's (from its group's
/// offsets) and the tail's (from the partitions' ends).
pub(super) struct LogReader {
    path: std::path::PathBuf,
    /// Its own connection, so reads don't wait for producers (WAL readers run concurrently).
    conn: Arc<Mutex<Connection>>,
    positions: Vec<Position>,
    /// Index of the partition read first next time, so no partition starves.
    rotate: usize,
    appended: watch::Receiver<u64>,
}

impl LogReader {
    /// A reader of every partition of `layout` (topic, partition count), each starting at
    /// `start(topic, partition)` (looked up on the reader's own connection).
    pub(super) async fn open(
        shared: &Arc<Shared>,
        layout: Vec<(String, i32)>,
        start: impl Fn(&Connection, &str, i32) -> Result<i64, rusqlite::Error> + Send + 'static,
    ) -> Result<Self, BusError> {
        let path = shared.path.clone();
        // Subscribed before the positions are read, so no produce after them goes unnoticed.
        let appended = shared.appended.subscribe();
        let (conn, positions) = blocking(move || {
            let err = storage(&path);
            let conn = open_connection(&path)?;
            let mut positions = Vec::new();
            for (topic, partitions) in layout {
                for part in 0..partitions {
                    let next = start(&conn, &topic, part).map_err(&err)?;
                    positions.push(Position {
                        topic: topic.clone(),
                        part,
                        next,
                    });
                }
            }
            Ok((conn, positions))
        })
        .await?;
        Ok(LogReader {
            path: shared.path.clone(),
            conn: Arc::new(Mutex::new(conn)),
            positions,
            rotate: 0,
            appended,
        })
    }

    /// Partitions read.
    pub(super) fn partitions(&self) -> usize {
        self.positions.len()
    }

    async fn fetch(&mut self, max: usize) -> Result<Vec<ConsumedRecord>, BusError> {
        let conn = self.conn.clone();
        let path = self.path.clone();
        let n = self.positions.len();
        let start = self.rotate % n.max(1);
        self.rotate = self.rotate.wrapping_add(1);
        let order: Vec<Position> = (0..n)
            .map(|i| self.positions[(start + i) % n].clone())
            .collect();
        let records = blocking(move || {
            let err = storage(&path);
            let conn = lock(&conn);
            let mut stmt = conn
                .prepare_cached(
                    "SELECT off, key, value FROM log \
                     WHERE topic = ?1 AND part = ?2 AND off >= ?3 ORDER BY off LIMIT ?4",
                )
                .map_err(&err)?;
            let mut out = Vec::new();
            for pos in order {
                let remaining = max - out.len();
                if remaining == 0 {
                    break;
                }
                let limit = i64::try_from(remaining).unwrap_or(i64::MAX);
                let rows = stmt
                    .query_map(params![pos.topic, pos.part, pos.next, limit], |row| {
                        Ok(ConsumedRecord {
                            topic: pos.topic.clone(),
                            partition: pos.part,
                            offset: row.get(0)?,
                            key: row.get(1)?,
                            value: row.get(2)?,
                            produced_ms: None,
                        })
                    })
                    .map_err(&err)?;
                for row in rows {
                    out.push(row.map_err(&err)?);
                }
            }
            Ok(out)
        })
        .await?;
        for record in &records {
            if let Some(pos) = self
                .positions
                .iter_mut()
                .find(|p| p.part == record.partition && p.topic == record.topic)
            {
                pos.next = pos.next.max(record.offset + 1);
            }
        }
        Ok(records)
    }

    /// Waits up to `timeout` for records; returns at most `max` (see [`BusConsumer::poll`]).
    pub(super) async fn poll(&mut self, max: usize, timeout: Duration) -> Polled {
        if max == 0 {
            return Ok(Vec::new());
        }
        let deadline = Instant::now() + timeout;
        loop {
            // Mark the current log version as seen before reading, so a produce that commits
            // after the read still wakes the wait below.
            self.appended.borrow_and_update();
            let records = self.fetch(max).await?;
            if !records.is_empty() {
                return Ok(records);
            }
            match tokio::time::timeout_at(deadline, self.appended.changed()).await {
                Ok(Ok(())) => continue,
                // The sender lives as long as the bus this reader holds: cannot close.
                Ok(Err(_)) | Err(_) => return Ok(Vec::new()),
            }
        }
    }
}

impl EmbeddedConsumer {
    /// Makes the only consumer of `group` in this process, on the topics of `layout`
    /// (topic, partition count), positioned at the group's committed offsets (0 if none).
    pub(super) async fn join(
        shared: Arc<Shared>,
        group: &str,
        layout: Vec<(String, i32)>,
    ) -> Result<Self, BusError> {
        if !lock(&shared.active_groups).insert(group.to_string()) {
            return Err(BusError::GroupBusy {
                group: group.to_string(),
            });
        }
        // From here on the lease releases the group again if anything fails.
        let lease = GroupLease {
            shared: shared.clone(),
            group: group.to_string(),
        };
        let grp = group.to_string();
        let reader = LogReader::open(&shared, layout, move |conn, topic, part| {
            // The group is registered with offset 0 where it has committed nothing yet, so
            // that `EmbeddedBus::prune_consumed` keeps what it has still to read.
            conn.prepare_cached(
                "INSERT OR IGNORE INTO group_offsets (grp, topic, part, next_offset) \
                 VALUES (?1, ?2, ?3, 0)",
            )?
            .execute(params![grp, topic, part])?;
            conn.prepare_cached(
                "SELECT next_offset FROM group_offsets \
                 WHERE grp = ?1 AND topic = ?2 AND part = ?3",
            )?
            .query_row(params![grp, topic, part], |row| row.get(0))
            .optional()
            .map(|next| next.unwrap_or(0))
        })
        .await?;
        tracing::info!(
            group,
            partitions = reader.partitions(),
            "embedded consumer assigned all partitions"
        );
        Ok(EmbeddedConsumer { lease, reader })
    }
}

#[async_trait]
impl BusConsumer for EmbeddedConsumer {
    async fn poll(&mut self, max: usize, timeout: Duration) -> Polled {
        self.reader.poll(max, timeout).await
    }

    async fn commit(&mut self, offsets: &[(String, i32, i64)]) -> Result<(), BusError> {
        if offsets.is_empty() {
            return Ok(());
        }
        for (topic, part, offset) in offsets {
            if !self
                .reader
                .positions
                .iter()
                .any(|p| p.part == *part && &p.topic == topic)
            {
                return Err(BusError::InvalidArgument(format!(
                    "group {} cannot commit {topic}/{part}: not one of its partitions",
                    self.lease.group
                )));
            }
            if *offset < 0 {
                return Err(BusError::InvalidArgument(format!(
                    "negative offset {offset} committed for {topic}/{part}"
                )));
            }
        }
        let conn = self.reader.conn.clone();
        let path = self.lease.shared.path.clone();
        let group = self.lease.group.clone();
        let offsets = offsets.to_vec();
        in_write_transaction(conn, path, move |tx, err| {
            {
                let mut upsert = tx
                    .prepare_cached(
                        "INSERT INTO group_offsets (grp, topic, part, next_offset) \
                         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (grp, topic, part) \
                         DO UPDATE SET next_offset = excluded.next_offset",
                    )
                    .map_err(&err)?;
                let mut compact = tx
                    .prepare_cached(
                        "DELETE FROM log WHERE topic = ?1 AND part = ?2 AND off < \
                         (SELECT MIN(next_offset) FROM group_offsets \
                          WHERE topic = ?1 AND part = ?2)",
                    )
                    .map_err(&err)?;
                for (topic, part, offset) in &offsets {
                    upsert
                        .execute(params![group, topic, part, offset])
                        .map_err(&err)?;
                    compact.execute(params![topic, part]).map_err(&err)?;
                }
            }
            return_free_pages(tx).map_err(&err)?;
            Ok(())
        })
        .await?;
        self.lease.shared.quiet.written();
        Ok(())
    }

    async fn lag(&mut self) -> Result<Vec<PartitionLag>, BusError> {
        let conn = self.reader.conn.clone();
        let path = self.lease.shared.path.clone();
        let positions = self.reader.positions.clone();
        blocking(move || {
            let err = storage(&path);
            let conn = lock(&conn);
            let mut end = conn
                .prepare_cached("SELECT next_offset FROM partitions WHERE topic = ?1 AND part = ?2")
                .map_err(&err)?;
            positions
                .into_iter()
                .map(|pos| {
                    let next: i64 = end
                        .query_row(params![pos.topic, pos.part], |row| row.get(0))
                        .optional()
                        .map_err(&err)?
                        .unwrap_or(0);
                    Ok(PartitionLag {
                        lag: (next - pos.next).max(0),
                        topic: pos.topic,
                        partition: pos.part,
                    })
                })
                .collect()
        })
        .await
    }
}

/// The embedded bus's tail: every partition of its topics from their ends at opening, no group.
pub(super) struct EmbeddedTail {
    reader: LogReader,
}

impl EmbeddedTail {
    /// A tail of the topics of `layout` (topic, partition count).
    pub(super) async fn open(
        shared: &Arc<Shared>,
        layout: Vec<(String, i32)>,
    ) -> Result<Self, BusError> {
        let reader = LogReader::open(shared, layout, |conn, topic, part| {
            conn.prepare_cached(
                "SELECT next_offset FROM partitions WHERE topic = ?1 AND part = ?2",
            )?
            .query_row(params![topic, part], |row| row.get(0))
            .optional()
            .map(|next| next.unwrap_or(0))
        })
        .await?;
        Ok(EmbeddedTail { reader })
    }
}

#[async_trait]
impl BusTail for EmbeddedTail {
    async fn poll(&mut self, max: usize, timeout: Duration) -> Polled {
        self.reader.poll(max, timeout).await
    }
}

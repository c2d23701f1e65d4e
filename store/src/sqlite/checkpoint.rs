//! WAL checkpoints of the store's file, on a thread of their own.
//!
//! Rule: the writer connection never checkpoints (`wal_autocheckpoint=0`). After each of its
//! calls it nudges the [`Checkpointer`], whose thread runs a PASSIVE checkpoint on a connection
//! of its own (nudges that arrive meanwhile make one more): it copies the committed pages back
//! into the database file and syncs it, while the writer goes on committing (a PASSIVE
//! checkpoint takes no writer lock) and readers keep their snapshots. A checkpoint with nothing
//! new to copy does no I/O. Once no write came for a second, it also empties the WAL file
//! (TRUNCATE), if no reader or writer is using it at that moment: otherwise the file kept the
//! size of [`WAL_SIZE_LIMIT`](super::WAL_SIZE_LIMIT) at rest.
//!
//! Why: SQLite's automatic checkpoint runs inside the commit that crosses the threshold, on the
//! committing connection, so the writer's lock stayed held for the copy and the sync. The store
//! has one writer for events, accesses, analyses and findings, so every write of every stage
//! waited behind it (about an eighth of the writer's time on the embedded `raceway up` with
//! traces of 500 events).
//!
//! What breaks otherwise: with no checkpoint at all the WAL would grow without bound, and a
//! thread that outlived its store would keep the file open. The thread ends when the last
//! handle of the store is dropped (its channel closes); SQLite checkpoints what is left when the
//! last connection closes.

use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use rusqlite::Connection;

use super::WAL_SIZE_LIMIT;
use crate::StoreError;

/// No write for this long: the thread empties the WAL file.
const IDLE: Duration = Duration::from_secs(1);

/// How long a PASSIVE checkpoint waits for the database's locks.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The writer's handle on the checkpoint thread.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    nudge: Sender<()>,
}

impl Checkpointer {
    /// Turns off the automatic checkpoints of `writer` and starts the thread checkpointing the
    /// database file at `path` (already in WAL mode).
    pub(crate) fn start(writer: &Connection, path: &Path) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open(path)
            .map_err(|e| StoreError::sqlite("open the checkpoint connection", e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| StoreError::sqlite("set busy timeout", e))?;
        conn.execute_batch(&format!("PRAGMA journal_size_limit = {WAL_SIZE_LIMIT};"))
            .map_err(|e| StoreError::sqlite("set the WAL size limit", e))?;
        writer
            .execute_batch("PRAGMA wal_autocheckpoint = 0;")
            .map_err(|e| StoreError::sqlite("turn off automatic checkpoints", e))?;
        let (nudge, nudged) = mpsc::channel();
        std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn(move || run(&conn, &nudged))
            .map_err(|e| {
                StoreError::Internal(format!("cannot start the checkpoint thread: {e}"))
            })?;
        Ok(Checkpointer { nudge })
    }

    /// Tells the thread the writer may have committed.
    pub(crate) fn nudge(&self) {
        // The thread only ends once every sender is gone: this one is still here.
        let _ = self.nudge.send(());
    }
}

/// Checkpoints after each batch of nudges until the channel closes; once no write came for
/// [`IDLE`], also empties the WAL file.
fn run(conn: &Connection, nudged: &Receiver<()>) {
    let mut written_since_truncate = false;
    loop {
        match nudged.recv_timeout(IDLE) {
            Ok(()) => {
                while nudged.try_recv().is_ok() {}
                written_since_truncate = true;
                if let Err(error) = checkpoint(conn, "PASSIVE") {
                    tracing::warn!(%error, "store checkpoint failed; retried after the next write");
                }
            }
            Err(RecvTimeoutError::Timeout) if written_since_truncate => {
                written_since_truncate = !truncate_unless_busy(conn);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Runs `PRAGMA wal_checkpoint(mode)`; true when it copied every page (not busy).
fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<bool> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
        Ok(row.get::<_, i64>(0)? == 0)
    })
}

/// Checkpoints and truncates the WAL file to nothing (a quiet store keeps no WAL on disk), but
/// only if no reader or writer is using it: with no busy timeout, a TRUNCATE that would have to
/// wait (and make new writes wait meanwhile) stops at once. True when the WAL was emptied.
fn truncate_unless_busy(conn: &Connection) -> bool {
    let truncated = conn
        .busy_timeout(Duration::ZERO)
        .and_then(|()| checkpoint(conn, "TRUNCATE"));
    if let Err(error) = conn.busy_timeout(BUSY_TIMEOUT) {
        tracing::warn!(%error, "cannot restore the checkpoint connection's busy timeout");
    }
    matches!(truncated, Ok(true))
}

//! WAL checkpoints of the store's file, on a thread of their own.
//!
//! Rule: the writer connection never checkpoints (`wal_autocheckpoint=0`). After each of its
//! calls it nudges the [`Checkpointer`], whose thread runs a PASSIVE checkpoint on a connection
//! of its own (nudges that arrive meanwhile make one more): it copies the committed pages back
//! into the database file and syncs it, while the writer goes on committing (a PASSIVE
//! checkpoint takes no writer lock) and readers keep their snapshots. A checkpoint with nothing
//! new to copy does no I/O.
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
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use rusqlite::Connection;

use super::WAL_SIZE_LIMIT;
use crate::StoreError;

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
        conn.busy_timeout(Duration::from_secs(10))
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

/// Checkpoints after each batch of nudges until the channel closes.
fn run(conn: &Connection, nudged: &Receiver<()>) {
    while nudged.recv().is_ok() {
        while nudged.try_recv().is_ok() {}
        if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(%error, "store checkpoint failed; retried after the next write");
        }
    }
}

//! A quiet log gives its spare space back to the file system.
//!
//! Rule: once no produce or commit came for [`QUIET`], a thread of the bus returns every free
//! page of the log's file (`PRAGMA incremental_vacuum`) and empties its WAL (checkpoint
//! `TRUNCATE`), on a connection of its own with no busy timeout: if another connection is
//! writing or reading the WAL at that moment, it gives up at once and tries again a
//! [`QUIET`] later, so it never makes a produce or a commit wait.
//!
//! Why: while records flow, each commit leaves
//! [`SPARE_FREE_PAGES`](super::EmbeddedBus::SPARE_FREE_PAGES) free pages in the file for the
//! next records, and the WAL keeps up to [`WAL_SIZE_LIMIT`](super::WAL_SIZE_LIMIT) bytes, so
//! that a steady stream reuses space instead of growing and shrinking the files. At rest that
//! is up to 32 MiB holding nothing: about a tenth of the embedded default's disk per event after
//! 200,000 events. The next burst grows the file again, once.
//!
//! What breaks otherwise: the spare stays on disk for as long as the bus is idle. The thread
//! ends when the last handle of the bus is dropped (its channel closes).

use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use rusqlite::Connection;

use super::{incremental_vacuum, open_connection};
use crate::BusError;

/// No produce or commit for this long: the log is quiet.
const QUIET: Duration = Duration::from_secs(1);

/// The bus's handle on the thread that compacts the quiet log.
pub(crate) struct Quiet {
    written: Sender<()>,
}

impl Quiet {
    /// Starts the thread for the log at `path` (already open and in WAL mode).
    pub(super) fn start(path: &Path) -> Result<Quiet, BusError> {
        let conn = open_connection(path)?;
        conn.busy_timeout(Duration::ZERO)
            .map_err(super::storage(path))?;
        let (written, wakes) = mpsc::channel();
        std::thread::Builder::new()
            .name("bus-quiet".into())
            .spawn(move || run(&conn, &wakes))
            .map_err(|e| BusError::Internal(format!("cannot start the bus's quiet thread: {e}")))?;
        Ok(Quiet { written })
    }

    /// Tells the thread a produce or commit was written.
    pub(super) fn written(&self) {
        // The thread only ends once every sender is gone: this one is still here.
        let _ = self.written.send(());
    }
}

/// Gives the space back each time the log turns quiet after a write, until the channel closes.
fn run(conn: &Connection, written: &Receiver<()>) {
    let mut dirty = false;
    while let Some(wrote) = next_wake(written) {
        // Still dirty after a quiet second only if the space could not be given back.
        dirty = wrote || (dirty && !give_back(conn));
    }
}

/// `Some(true)` after a write, `Some(false)` after [`QUIET`] without one, `None` once the bus
/// is gone.
fn next_wake(written: &Receiver<()>) -> Option<bool> {
    match written.recv_timeout(QUIET) {
        Ok(()) => Some(true),
        Err(RecvTimeoutError::Timeout) => Some(false),
        Err(RecvTimeoutError::Disconnected) => None,
    }
}

/// Returns every free page and empties the WAL; true when both were done (nothing was busy).
fn give_back(conn: &Connection) -> bool {
    let done = incremental_vacuum(conn, "PRAGMA incremental_vacuum").and_then(|()| {
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
            Ok(row.get::<_, i64>(0)? == 0)
        })
    });
    match done {
        Ok(emptied) => emptied,
        Err(error) => {
            tracing::debug!(%error, "embedded bus log busy; its space is given back later");
            false
        }
    }
}

//! Retention in the SQLite store: rows older than the cutoff are deleted, and the trace
//! summaries follow, in one transaction.

use async_trait::async_trait;
use rusqlite::Connection;

use crate::sqlite::{summaries, SqliteStore};
use crate::{PruneReport, RetentionStore, StoreError};

/// SQLite tables and the expression giving each row's time.
const SQLITE_ROW_TIMES: [(&str, &str); 6] = [
    ("events", "timestamp_ns"),
    ("findings", "MAX(first_timestamp_ns, second_timestamp_ns)"),
    ("accesses", "timestamp_ns"),
    ("trace_analyses", "end_ns"),
    ("service_calls", "timestamp_ns"),
    ("duration_anomalies", "timestamp_ns"),
];

fn prune_blocking(conn: &mut Connection, cutoff_ns: i64) -> Result<PruneReport, StoreError> {
    let failed = |e| StoreError::sqlite("prune", e);
    let tx = conn.transaction().map_err(failed)?;
    let mut report = PruneReport::new();
    for (table, time) in SQLITE_ROW_TIMES {
        let removed = tx
            .execute(
                &format!("DELETE FROM {table} WHERE {time} < ?1"),
                [cutoff_ns],
            )
            .map_err(failed)?;
        report.insert(table.to_string(), removed as u64);
    }
    summaries::prune(&tx, cutoff_ns)?;
    tx.commit().map_err(failed)?;
    Ok(report)
}

#[async_trait]
impl RetentionStore for SqliteStore {
    async fn prune_older_than(&self, cutoff_ns: i64) -> Result<PruneReport, StoreError> {
        self.call(move |conn| prune_blocking(conn, cutoff_ns)).await
    }
}

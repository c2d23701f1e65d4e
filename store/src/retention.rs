//! Retention: dropping data older than a cutoff (`raceway prune --older-than`).
//!
//! ClickHouse drops whole day partitions (cheap, no rewrite): a day goes once all of it is older
//! than the cutoff, so up to a day more than asked is kept. SQLite deletes rows. Checkpoints and
//! model versions are state, not history, and are kept.

use std::collections::BTreeMap;

use rusqlite::Connection;

use crate::clickhouse::ClickHouseStore;
use crate::error::StoreError;

/// What one prune removed, per table: day partitions on ClickHouse, rows on SQLite.
pub type PruneReport = BTreeMap<String, u64>;

/// The ClickHouse tables partitioned by day (see the migrations).
const DAY_PARTITIONED: [&str; 8] = [
    "events",
    "events_per_minute",
    "trace_services",
    "findings",
    "accesses",
    "trace_analyses",
    "service_calls",
    "duration_anomalies",
];

/// SQLite tables and the expression giving each row's time.
const SQLITE_ROW_TIMES: [(&str, &str); 6] = [
    ("events", "timestamp_ns"),
    ("findings", "MAX(first_timestamp_ns, second_timestamp_ns)"),
    ("accesses", "timestamp_ns"),
    ("trace_analyses", "end_ns"),
    ("service_calls", "timestamp_ns"),
    ("duration_anomalies", "timestamp_ns"),
];

impl ClickHouseStore {
    pub(crate) async fn prune_impl(&self, cutoff_ns: i64) -> Result<PruneReport, StoreError> {
        let cutoff_s = cutoff_ns.div_euclid(1_000_000_000).max(0);
        let mut report = PruneReport::new();
        for table in DAY_PARTITIONED {
            let partitions: Vec<String> = self
                .client
                .query(
                    "SELECT DISTINCT partition FROM system.parts \
                     WHERE database = currentDatabase() AND table = ? AND active \
                       AND toUInt32OrZero(partition) < toYYYYMMDD(toDateTime(?))",
                )
                .bind(table)
                .bind(cutoff_s)
                .fetch_all()
                .await
                .map_err(self.err("list partitions"))?;
            for partition in &partitions {
                // The value comes from system.parts and is a day number; checked anyway, since
                // it is spliced into the statement.
                if partition.is_empty() || !partition.bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                self.client
                    .query(&format!("ALTER TABLE {table} DROP PARTITION {partition}"))
                    .execute()
                    .await
                    .map_err(self.err("drop partition"))?;
            }
            report.insert(table.to_string(), partitions.len() as u64);
        }
        Ok(report)
    }
}

pub(crate) fn prune_blocking(
    conn: &mut Connection,
    cutoff_ns: i64,
) -> Result<PruneReport, StoreError> {
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
    tx.commit().map_err(failed)?;
    Ok(report)
}

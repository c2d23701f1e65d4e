//! Retention in the ClickHouse store: whole day partitions are dropped (cheap, no rewrite); a
//! day goes once all of it is older than the cutoff, so up to a day more than asked is kept.

use async_trait::async_trait;

use crate::clickhouse::ClickHouseStore;
use crate::{PruneReport, RetentionStore, StoreError};

/// The ClickHouse tables partitioned by day (see the migrations).
const DAY_PARTITIONED: [&str; 10] = [
    "events",
    "events_by_trace",
    "trace_summaries",
    "events_per_minute",
    "trace_services",
    "findings",
    "accesses",
    "trace_analyses",
    "service_calls",
    "duration_anomalies",
];

/// Drops the day partitions entirely older than the cutoff.
#[async_trait]
impl RetentionStore for ClickHouseStore {
    async fn prune_older_than(&self, cutoff_ns: i64) -> Result<PruneReport, StoreError> {
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

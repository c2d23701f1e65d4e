//! Trace summaries in the SQLite store: one row per trace (event count, services, environments,
//! first and last timestamp), kept in the same transaction as the events they summarise.
//!
//! The trace list reads these rows instead of grouping every stored event per request: with
//! 200,000 events stored, the grouping took about 190 ms per list, and it grows with the data.
//! Only events that were really inserted count (`INSERT OR IGNORE` skips a redelivered id), so
//! a summary always equals what grouping the events would give; pruning re-derives the rows of
//! the traces it cut into and drops those it emptied.

use std::collections::{BTreeSet, HashMap};

use rusqlite::{params, OptionalExtension, Transaction};
use uuid::Uuid;

use crate::sqlite::read_columns;
use crate::StoreError;

/// What a batch adds to one trace's summary.
#[derive(Debug, Default)]
pub(crate) struct SummaryDelta {
    events: i64,
    services: BTreeSet<String>,
    environments: BTreeSet<String>,
    first_ts: i64,
    last_ts: i64,
}

/// The summaries' changes for the rows of one batch that were inserted.
#[derive(Debug, Default)]
pub(crate) struct SummaryDeltas(HashMap<Uuid, SummaryDelta>);

impl SummaryDeltas {
    /// Counts an event that was inserted (its trace, time, service and environment) in its
    /// trace's delta.
    pub(crate) fn add(
        &mut self,
        trace_id: Uuid,
        timestamp_ns: i64,
        service: &str,
        environment: &str,
    ) {
        let delta = self.0.entry(trace_id).or_insert_with(|| SummaryDelta {
            first_ts: timestamp_ns,
            last_ts: timestamp_ns,
            ..SummaryDelta::default()
        });
        delta.events += 1;
        delta.first_ts = delta.first_ts.min(timestamp_ns);
        delta.last_ts = delta.last_ts.max(timestamp_ns);
        if !delta.services.contains(service) {
            delta.services.insert(service.to_string());
        }
        if !delta.environments.contains(environment) {
            delta.environments.insert(environment.to_string());
        }
    }

    /// Merges every delta into its trace's summary row.
    pub(crate) fn apply(self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        let failed = |e| StoreError::sqlite("update trace summaries", e);
        let mut read = tx
            .prepare_cached(
                "SELECT event_count, services, environments, first_ts, last_ts \
                 FROM trace_summaries WHERE trace_id = ?1",
            )
            .map_err(failed)?;
        let mut write = tx
            .prepare_cached(
                "INSERT OR REPLACE INTO trace_summaries \
                 (trace_id, event_count, services, environments, first_ts, last_ts) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(failed)?;
        for (trace_id, mut delta) in self.0 {
            let trace_id = trace_id.to_string();
            let stored: Option<(i64, String, String, i64, i64)> = read
                .query_row([&trace_id], read_columns)
                .optional()
                .map_err(failed)?;
            if let Some((events, services, environments, first_ts, last_ts)) = stored {
                delta.events += events;
                delta.services.extend(names(&trace_id, &services)?);
                delta.environments.extend(names(&trace_id, &environments)?);
                delta.first_ts = delta.first_ts.min(first_ts);
                delta.last_ts = delta.last_ts.max(last_ts);
            }
            write
                .execute(params![
                    trace_id,
                    delta.events,
                    json_names(&delta.services),
                    json_names(&delta.environments),
                    delta.first_ts,
                    delta.last_ts,
                ])
                .map_err(failed)?;
        }
        Ok(())
    }
}

fn names(trace_id: &str, json: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        what: "trace summary",
        id: trace_id.to_string(),
        message: format!("names are not a JSON array: {e}"),
    })
}

fn json_names(names: &BTreeSet<String>) -> String {
    serde_json::Value::from(names.iter().cloned().collect::<Vec<_>>()).to_string()
}

/// Brings the summaries in line after the events older than `cutoff_ns` were deleted: the
/// traces with no event left lose their row; those with some left are summarised again.
pub(crate) fn prune(tx: &Transaction<'_>, cutoff_ns: i64) -> Result<(), StoreError> {
    let failed = |e| StoreError::sqlite("prune trace summaries", e);
    tx.execute(
        "DELETE FROM trace_summaries WHERE last_ts < ?1",
        [cutoff_ns],
    )
    .map_err(failed)?;
    tx.execute(
        "UPDATE trace_summaries SET
             (event_count, services, environments, first_ts) = (
                 SELECT COUNT(*),
                        (SELECT json_group_array(service) FROM (SELECT DISTINCT service
                             FROM events s WHERE s.trace_id = trace_summaries.trace_id
                             ORDER BY service)),
                        (SELECT json_group_array(environment) FROM (SELECT DISTINCT environment
                             FROM events s WHERE s.trace_id = trace_summaries.trace_id
                             ORDER BY environment)),
                        MIN(timestamp_ns)
                 FROM events e WHERE e.trace_id = trace_summaries.trace_id)
         WHERE first_ts < ?1",
        [cutoff_ns],
    )
    .map_err(failed)?;
    Ok(())
}

#[cfg(test)]
mod tests {

    use crate::migrations::SQLITE;
    use crate::sqlite::{all_rows, apply_migrations, migrated_before, read_columns};

    /// A database written before summaries existed gets one row per trace when it migrates.
    #[test]
    fn migration_summarises_traces_stored_before_it() {
        let mut conn = migrated_before(5);
        for (id, trace, ts, service, environment) in [
            ("e1", "t1", 30, "bank", "prod"),
            ("e2", "t1", 10, "api", "prod"),
            ("e3", "t1", 20, "bank", "prod"),
            ("e4", "t2", 5, "ledger", "dev"),
        ] {
            conn.execute(
                "INSERT INTO events (id, trace_id, timestamp_ns, kind, service, instance_id, \
                 thread_id, environment, variable, access_type, payload) \
                 VALUES (?1, ?2, ?3, 'StateChange', ?4, '', 't', ?5, '', '', '{}')",
                rusqlite::params![id, trace, ts, service, environment],
            )
            .expect("insert event");
        }
        apply_migrations(&mut conn, SQLITE).expect("all migrations");
        let rows: Vec<(String, i64, String, String, i64, i64)> = all_rows(
            &conn,
            "SELECT * FROM trace_summaries ORDER BY trace_id",
            read_columns,
        );
        let row = |t: &str, n, s: &str, e: &str, first, last| {
            (t.to_string(), n, s.to_string(), e.to_string(), first, last)
        };
        assert_eq!(
            rows,
            vec![
                row("t1", 3, r#"["api","bank"]"#, r#"["prod"]"#, 10, 30),
                row("t2", 1, r#"["ledger"]"#, r#"["dev"]"#, 5, 5),
            ]
        );
    }
}

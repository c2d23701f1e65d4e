//! Events in the SQLite store: writes (the first copy of an id wins, and the trace's summary row
//! follows), reads by trace, and the trace list. Rows are keyed by (trace, id) and hold the
//! event in the compact encoding of [`payload`].

use std::collections::HashMap;

use async_trait::async_trait;
use raceway_schemas::Event;
use rusqlite::params;
use rusqlite::types::ValueRef;
use uuid::Uuid;

use crate::filter::{self, Dialect};
use crate::sqlite::ids::EventId;
use crate::sqlite::payload::{self, Payload};
use crate::sqlite::summaries::SummaryDeltas;
use crate::sqlite::{query_page, read_columns, SqliteStore};
use crate::{EventStore, EventsWithJson, StoreError, TracePage, TraceQuery, TraceSummary};

/// The per-trace summary, as the CTE `summary`: the kept summary row (see
/// [`summaries`](super::summaries)) with the trace's analysis (its end) and its findings and
/// anomalies, each an indexed lookup of that one trace.
///
/// A trace's races are the findings naming it first, plus those naming it second and not
/// first: each finding once (ids are unique), as a `UNION` of the two sides' ids would count
/// them, but without the temporary B-tree that `UNION` builds for every listed trace (a third
/// of a 1,000-trace page's time).
const SUMMARY_SQL: &str = "
WITH summary AS (
    SELECT s.trace_id AS trace_key,
           s.event_count,
           s.services,
           s.environments,
           s.first_ts,
           s.last_ts,
           MAX(s.last_ts, COALESCE(
               (SELECT t.end_ns FROM trace_analyses t WHERE t.trace_id = s.trace_id),
               s.last_ts)) AS end_ts,
           (SELECT COUNT(*) FROM findings f
            WHERE f.first_trace_id = s.trace_id AND f.occurrences > 0)
           + (SELECT COUNT(*) FROM findings f
              WHERE f.second_trace_id = s.trace_id AND f.first_trace_id <> s.trace_id
                AND f.occurrences > 0) AS race_count,
           (SELECT COUNT(*) FROM duration_anomalies a WHERE a.trace_id = s.trace_id)
               AS anomaly_count
    FROM trace_summaries s
)
SELECT";

/// The trace list's rows matching `conditions`, unordered.
fn trace_list_select(conditions: &str) -> String {
    format!(
        "{SUMMARY_SQL} trace_key, event_count, services, first_ts, last_ts, end_ts, \
         race_count, anomaly_count FROM summary WHERE {conditions}"
    )
}

/// The columns of a summary row, before its id and services are parsed.
type SummaryColumns = (String, i64, String, i64, i64, i64, i64, i64);

fn into_summary(columns: SummaryColumns) -> Result<TraceSummary, StoreError> {
    let (trace_id, event_count, services, first_ts, last_ts, end_ts, race_count, anomaly_count) =
        columns;
    let corrupt = |message: String| StoreError::Corrupt {
        what: "trace",
        id: trace_id.clone(),
        message,
    };
    let mut services: Vec<String> = serde_json::from_str(&services)
        .map_err(|e| corrupt(format!("services are not a JSON array: {e}")))?;
    services.sort();
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(TraceSummary {
        trace_id: Uuid::parse_str(&trace_id).map_err(|e| corrupt(e.to_string()))?,
        event_count: count(event_count),
        services,
        first_timestamp_ns: first_ts,
        last_timestamp_ns: last_ts,
        end_ns: end_ts,
        race_count: count(race_count),
        anomaly_count: count(anomaly_count),
    })
}

/// What the store keeps of an event: the columns queries filter on, and the payload. Made
/// before the writer's lock is taken (the payload's encoding and the trace id's text), so that the
/// lock is held for the inserts alone.
struct EventRow {
    trace_id: Uuid,
    trace_key: String,
    id: EventId,
    timestamp_ns: i64,
    kind: &'static str,
    service: String,
    environment: String,
    payload: Payload,
}

impl EventRow {
    fn new(event: &Event) -> EventRow {
        EventRow {
            trace_id: event.trace_id,
            trace_key: event.trace_id.to_string(),
            id: EventId(event.id),
            timestamp_ns: event.timestamp_ns,
            kind: event.kind.name(),
            service: event.metadata.service_name.clone(),
            environment: event.metadata.environment.clone(),
            payload: Payload::of(event),
        }
    }
}

/// Hands `each` the id and payload of every event of `trace_id`, ordered by (timestamp_ns, id).
fn read_trace_payloads(
    conn: &rusqlite::Connection,
    trace_id: Uuid,
    mut each: impl FnMut(Uuid, &str, ValueRef<'_>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let failed = |e| StoreError::sqlite("read trace events", e);
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, payload FROM events WHERE trace_id = ?1 \
             ORDER BY timestamp_ns, id",
        )
        .map_err(failed)?;
    let trace = trace_id.to_string();
    let mut rows = stmt.query([&trace]).map_err(failed)?;
    while let Some(row) = rows.next().map_err(failed)? {
        let EventId(id) = row.get(0).map_err(failed)?;
        each(id, &trace, row.get_ref(1).map_err(failed)?)?;
    }
    Ok(())
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn insert_events(&self, events: &[Event]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let rows: Vec<EventRow> = events.iter().map(EventRow::new).collect();
        self.call(move |conn| {
            let failed = |e| StoreError::sqlite("insert events", e);
            let tx = conn.transaction().map_err(failed)?;
            let mut summaries = SummaryDeltas::default();
            {
                let mut stmt = tx
                    .prepare_cached(
                        "INSERT OR IGNORE INTO events (trace_id, id, timestamp_ns, kind, service, \
                         environment, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    )
                    .map_err(failed)?;
                for r in &rows {
                    let inserted = stmt
                        .execute(params![
                            r.trace_key,
                            r.id,
                            r.timestamp_ns,
                            r.kind,
                            r.service,
                            r.environment,
                            r.payload,
                        ])
                        .map_err(failed)?;
                    if inserted > 0 {
                        summaries.add(r.trace_id, r.timestamp_ns, &r.service, &r.environment);
                    }
                }
            }
            summaries.apply(&tx)?;
            tx.commit().map_err(failed)
        })
        .await
    }

    async fn trace_events(&self, trace_id: Uuid) -> Result<Vec<Event>, StoreError> {
        self.read(move |conn| {
            let mut events = Vec::new();
            read_trace_payloads(conn, trace_id, |id, trace, payload| {
                events.push(payload::decode(id, trace, payload)?);
                Ok(())
            })?;
            Ok(events)
        })
        .await
    }

    async fn trace_events_with_json(&self, trace_id: Uuid) -> Result<EventsWithJson, StoreError> {
        self.read(move |conn| {
            let mut read = EventsWithJson::default();
            read_trace_payloads(conn, trace_id, |id, trace, payload| {
                let (event, json) = payload::decode_with_json(id, trace, payload)?;
                read.events.push(event);
                read.json.push(json);
                Ok(())
            })?;
            Ok(read)
        })
        .await
    }

    async fn traces_event_counts(
        &self,
        trace_ids: &[Uuid],
    ) -> Result<HashMap<Uuid, u64>, StoreError> {
        let trace_ids = trace_ids.to_vec();
        self.read(move |conn| {
            let failed = |e| StoreError::sqlite("count trace events", e);
            // One indexed count per trace (events_trace_time): in-process, no round trips.
            let mut stmt = conn
                .prepare_cached("SELECT COUNT(*) FROM events WHERE trace_id = ?1")
                .map_err(failed)?;
            let mut counts = HashMap::with_capacity(trace_ids.len());
            for trace_id in trace_ids {
                let count: i64 = stmt
                    .query_row([trace_id.to_string()], |row| row.get(0))
                    .map_err(failed)?;
                if count > 0 {
                    counts.insert(trace_id, count.unsigned_abs());
                }
            }
            Ok(counts)
        })
        .await
    }

    async fn list_traces(&self, query: &TraceQuery) -> Result<TracePage, StoreError> {
        let query = query.clone();
        self.read(move |conn| {
            let filter = filter::traces(Dialect::Sqlite, &query);
            let conditions = filter.sql();
            let select_sql = trace_list_select(&conditions);
            let order = format!("{}, trace_key", query.sort.key());
            let page = (query.limit, query.offset);
            let (traces, total) = query_page(
                conn,
                "traces",
                (&select_sql, &order),
                &filter,
                page,
                read_columns,
                into_summary,
            )?;
            Ok(TracePage { traces, total })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::params_from_iter;

    use super::*;
    use crate::sqlite::{all_rows, migrated_before};

    /// Whether the trace list's total, as SQLite compiles it, opens any table or index of the
    /// findings, the analyses or the anomalies.
    fn count_reads_other_tables() -> bool {
        let conn = migrated_before(u32::MAX);
        let others: Vec<i64> = all_rows(
            &conn,
            "SELECT rootpage FROM sqlite_master WHERE tbl_name IN \
             ('findings', 'trace_analyses', 'duration_anomalies') AND rootpage > 0",
            |row| row.get(0),
        );
        assert!(!others.is_empty());
        let filter = filter::traces(Dialect::Sqlite, &TraceQuery::default());
        let sql = format!(
            "EXPLAIN SELECT COUNT(*) FROM ({})",
            trace_list_select(&filter.sql())
        );
        let mut stmt = conn.prepare(&sql).expect("explain");
        let opened: Vec<(String, i64)> = stmt
            .query_map(params_from_iter(filter.params()), |row| {
                Ok((row.get(1)?, row.get(3)?))
            })
            .expect("program")
            .collect::<Result<_, _>>()
            .expect("program rows");
        opened
            .iter()
            .any(|(opcode, root)| opcode == "OpenRead" && others.contains(root))
    }

    /// The trace list's total reads the summaries alone: a count that computed every trace's
    /// races, end and anomalies would cost lookups in three more tables per stored trace.
    #[test]
    fn the_trace_count_reads_only_the_summaries() {
        assert!(!count_reads_other_tables());
    }
}

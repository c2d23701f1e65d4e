//! Events in the ClickHouse store: writes, reads by trace, and the per-trace summaries.

use std::collections::HashMap;

use async_trait::async_trait;
use raceway_schemas::Event;
use uuid::Uuid;

use crate::clickhouse::analyses::LATEST;
use crate::clickhouse::rows::{EventCountRow, EventRow, PayloadRow, SummaryRow};
use crate::clickhouse::ClickHouseStore;
use crate::filter::{self, Dialect, Value};
use crate::rows::{decode_payload, EventColumns};
use crate::{EventStore, StoreError, TracePage, TraceQuery, TraceSummary};

/// Per-trace summaries: the trace's kept summary rows merged (`trace_summaries`, which every
/// insert of events adds to; see migration 0006: `uniqExact` of the ids counts distinct events,
/// and every state is idempotent, so replays never double anything), its findings counted by
/// distinct id over both of their traces; the end and the anomalies (by distinct id) are those
/// of the trace's latest analysis ([`LATEST`]; 0 and none before one). One join per level:
/// ClickHouse 18.16 takes one `JOIN` per `SELECT`.
fn summary_sql() -> String {
    format!(
        "
SELECT trace_key, event_count, services, environments, first_ts, last_ts,
       greatest(last_ts, analysed_end) AS end_ts, race_count, anomaly_count
FROM
(
    SELECT trace_key, event_count, services, environments, first_ts, last_ts, race_count
    FROM
    (
        SELECT toString(trace_id) AS trace_key,
               toUInt64(uniqExactMerge(events)) AS event_count,
               arraySort(groupUniqArrayMerge(services)) AS services,
               groupUniqArrayMerge(environments) AS environments,
               minMerge(first_ts) AS first_ts,
               maxMerge(last_ts) AS last_ts
        FROM trace_summaries
        GROUP BY trace_id
    )
    ANY LEFT JOIN
    (
        SELECT trace_key, toUInt64(uniqExact(id)) AS race_count
        FROM (SELECT id, arrayJoin([first_trace_id, second_trace_id]) AS trace_key FROM findings
              WHERE (id, version) IN (SELECT id, max(version) FROM findings GROUP BY id)
                AND occurrences > 0)
        GROUP BY trace_key
    ) USING trace_key
)
ANY LEFT JOIN
(
    SELECT trace_id AS trace_key, analysed_end, anomaly_count
    FROM
    (
        SELECT trace_id, end_ns AS analysed_end FROM trace_analyses WHERE {LATEST}
        LIMIT 1 BY trace_id
    )
    ANY LEFT JOIN
    (
        SELECT trace_id, toUInt64(uniqExact(id)) AS anomaly_count
        FROM duration_anomalies WHERE {LATEST}
        GROUP BY trace_id
    ) USING trace_id
) USING trace_key"
    )
}

/// Decodes the payloads of event rows, in order.
fn decode_events(rows: Vec<PayloadRow>) -> Result<Vec<Event>, StoreError> {
    rows.iter()
        .map(|row| decode_payload(&row.id, &row.payload))
        .collect()
}

#[async_trait]
impl EventStore for ClickHouseStore {
    async fn insert_events(&self, events: &[Event]) -> Result<(), StoreError> {
        let rows: Vec<EventRow> = events
            .iter()
            .map(EventColumns::new)
            .map(EventRow::from)
            .collect();
        self.insert_rows("events", rows).await
    }

    async fn trace_events(&self, trace_id: Uuid) -> Result<Vec<Event>, StoreError> {
        let sql = "SELECT toString(id) AS event_id, payload FROM events \
                   WHERE trace_id = toUUID(?) \
                   ORDER BY timestamp_ns, event_id LIMIT 1 BY event_id";
        let params = [Value::Str(trace_id.to_string())];
        decode_events(self.fetch_rows("read trace events", sql, &params).await?)
    }

    async fn traces_events(&self, trace_ids: &[Uuid]) -> Result<Vec<Event>, StoreError> {
        if trace_ids.is_empty() {
            return Ok(Vec::new());
        }
        // The key column in the filter, so that ClickHouse reads only those traces' granules.
        // Ordered by the text form: ClickHouse orders UUIDs by their halves, not like Rust.
        let placeholders = vec!["toUUID(?)"; trace_ids.len()].join(", ");
        let sql = format!(
            "SELECT toString(id) AS event_id, payload FROM events \
             WHERE trace_id IN ({placeholders}) \
             ORDER BY toString(trace_id), timestamp_ns, event_id LIMIT 1 BY event_id"
        );
        let params: Vec<Value> = trace_ids
            .iter()
            .map(|id| Value::Str(id.to_string()))
            .collect();
        decode_events(
            self.fetch_rows("read traces' events", &sql, &params)
                .await?,
        )
    }

    async fn traces_event_counts(
        &self,
        trace_ids: &[Uuid],
    ) -> Result<HashMap<Uuid, u64>, StoreError> {
        if trace_ids.is_empty() {
            return Ok(HashMap::new());
        }
        // The kept summaries of those traces (their key's granules), not their events: the
        // view fills them within each insert of events, so they count every stored event.
        let placeholders = vec!["toUUID(?)"; trace_ids.len()].join(", ");
        let sql = format!(
            "SELECT toString(trace_id) AS trace_key, toUInt64(uniqExactMerge(events)) AS events \
             FROM trace_summaries WHERE trace_id IN ({placeholders}) GROUP BY trace_id"
        );
        let params: Vec<Value> = trace_ids
            .iter()
            .map(|id| Value::Str(id.to_string()))
            .collect();
        let rows: Vec<EventCountRow> = self.fetch_rows("count trace events", &sql, &params).await?;
        rows.into_iter()
            .map(|row| {
                let trace_id =
                    Uuid::parse_str(&row.trace_key).map_err(|e| StoreError::Corrupt {
                        what: "trace",
                        id: row.trace_key.clone(),
                        message: e.to_string(),
                    })?;
                Ok((trace_id, row.events))
            })
            .collect()
    }

    async fn list_traces(&self, query: &TraceQuery) -> Result<TracePage, StoreError> {
        let filter = filter::traces(Dialect::ClickHouse, query);
        let conditions = filter.sql();
        let sql = format!(
            "SELECT trace_key, event_count, services, first_ts, last_ts, end_ts, race_count, \
             anomaly_count FROM ({}) WHERE {conditions} ORDER BY {}, trace_key",
            summary_sql(),
            query.sort.key()
        );
        let page = (query.limit, query.offset);
        let (rows, total): (Vec<SummaryRow>, u64) =
            self.fetch_page("traces", &sql, &filter, page).await?;
        let mut traces = Vec::with_capacity(rows.len());
        for row in rows {
            let trace_id = Uuid::parse_str(&row.trace_key).map_err(|e| StoreError::Corrupt {
                what: "trace",
                id: row.trace_key.clone(),
                message: e.to_string(),
            })?;
            traces.push(TraceSummary {
                trace_id,
                event_count: row.event_count,
                services: row.services,
                first_timestamp_ns: row.first_ts,
                last_timestamp_ns: row.last_ts,
                end_ns: row.end_ts,
                race_count: row.race_count,
                anomaly_count: row.anomaly_count,
            });
        }
        Ok(TracePage { traces, total })
    }
}

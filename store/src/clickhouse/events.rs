//! Events in the ClickHouse store: writes, reads by trace, and the stored events' counts (the
//! trace list is in [`super::trace_list`]).
//!
//! Writes go to `events_in` (migration 0008), which keeps nothing: its views fill, within the
//! insert, `events` (every column but the payload, for filters and counts), `events_by_trace`
//! and the trace list's and Grafana's tables. Reads by trace go to `events_by_trace` (migration
//! 0007), the same events ordered by trace in granules of 256 rows and the only copy of the
//! payload: reading one trace from `events` decompressed whole 8,192-row granules around it,
//! and a second copy of the payload there doubled what storing and merging an event cost.

use std::collections::HashMap;

use async_trait::async_trait;
use raceway_schemas::Event;
use uuid::Uuid;

use crate::clickhouse::rows::{EventCountRow, EventRow, PayloadRow};
use crate::clickhouse::ClickHouseStore;
use crate::filter::Value;
use crate::rows::{decode_payload, event_with_json};
use crate::{EventStore, EventsWithJson, StoreError, TracePage, TraceQuery};

/// Decodes the payloads of event rows, in order.
fn decode_events(rows: Vec<PayloadRow>) -> Result<Vec<Event>, StoreError> {
    rows.iter()
        .map(|row| decode_payload(&row.id, &row.payload))
        .collect()
}

/// The rows of events, built one at a time as the insert takes them. A named iterator rather
/// than `map(EventRow::new)`: the async insert's future must be `Send`, and the compiler cannot
/// prove that for a mapped function's borrow lifetimes.
struct EventRows<'a>(std::slice::Iter<'a, Event>);

impl<'a> Iterator for EventRows<'a> {
    type Item = EventRow<'a>;

    fn next(&mut self) -> Option<EventRow<'a>> {
        self.0.next().map(EventRow::new)
    }
}

impl ClickHouseStore {
    /// The rows of one trace's events, deduplicated by id, ordered by (timestamp_ns, id).
    async fn trace_payloads(&self, trace_id: Uuid) -> Result<Vec<PayloadRow>, StoreError> {
        // One thread: a trace is a few granules in each part that holds it, and reading them on
        // `max_threads` streams merged back together cost ClickHouse more than the read itself
        // (at 1M events stored, a 500-event trace in ~7 granules: 3.4 ms of CPU at the median
        // on 2 threads, 2.5 on one; the same where the trace sits in one part).
        let sql = "SELECT toString(id) AS event_id, payload FROM events_by_trace \
                   WHERE trace_id = toUUID(?) \
                   ORDER BY timestamp_ns, event_id LIMIT 1 BY event_id \
                   SETTINGS max_threads = 1";
        let params = [Value::Str(trace_id.to_string())];
        self.fetch_rows("read trace events", sql, &params).await
    }

    /// Inserts `events` straight into `events`, as writers did before migration 0008 (tests of
    /// data stored by earlier versions only).
    #[cfg(test)]
    pub(crate) async fn insert_events_before_0008(
        &self,
        events: &[Event],
    ) -> Result<(), StoreError> {
        self.insert_values::<EventRow<'_>>("events", EventRows(events.iter()))
            .await
    }
}

#[async_trait]
impl EventStore for ClickHouseStore {
    async fn insert_events(&self, events: &[Event]) -> Result<(), StoreError> {
        // Each row borrows its event's text; only the payload is built, as the row is written,
        // and dropped right after: the rows are never all held at once (with their payloads,
        // up to tens of MB per insert, in memory touched afresh by every insert).
        self.insert_values::<EventRow<'_>>("events_in", EventRows(events.iter()))
            .await
    }

    async fn trace_events(&self, trace_id: Uuid) -> Result<Vec<Event>, StoreError> {
        decode_events(self.trace_payloads(trace_id).await?)
    }

    async fn trace_events_with_json(&self, trace_id: Uuid) -> Result<EventsWithJson, StoreError> {
        let rows = self.trace_payloads(trace_id).await?;
        let mut read = EventsWithJson {
            events: Vec::with_capacity(rows.len()),
            json: Vec::with_capacity(rows.len()),
        };
        for row in rows {
            let (event, json) = event_with_json(&row.id, row.payload)?;
            read.events.push(event);
            read.json.push(json);
        }
        Ok(read)
    }

    async fn traces_events(&self, trace_ids: &[Uuid]) -> Result<Vec<Event>, StoreError> {
        if trace_ids.is_empty() {
            return Ok(Vec::new());
        }
        // The key column in the filter, so that ClickHouse reads only those traces' granules.
        // Ordered by the text form: ClickHouse orders UUIDs by their halves, not like Rust.
        let placeholders = vec!["toUUID(?)"; trace_ids.len()].join(", ");
        let sql = format!(
            "SELECT toString(id) AS event_id, payload FROM events_by_trace \
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
        // Reads the key columns only (no payload), and only those traces' granules: faster than
        // merging their summaries' `uniqExact` states (see `super::trace_list`). `FINAL` merges
        // the rows of one (trace, event id) from every part, as a merge would, so `count()` is
        // the distinct count; it reads the parts in key order, already sorted by (trace, id),
        // where `uniqExact(id)` hashed every id into a set per trace and grouped by the key's
        // text: 17-22 ms of ClickHouse CPU for a page of 50 traces of 500, against 2.6.
        let placeholders = vec!["toUUID(?)"; trace_ids.len()].join(", ");
        let sql = format!(
            "SELECT toString(trace_id) AS trace_key, toUInt64(count()) AS events \
             FROM events_by_trace FINAL WHERE trace_id IN ({placeholders}) GROUP BY trace_id"
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
        self.list_trace_summaries(query).await
    }
}

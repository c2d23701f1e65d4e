//! The trace list of the ClickHouse store, read from the kept trace summaries.
//!
//! `trace_summaries` (migration 0006) holds, per trace and day, idempotent aggregate states of
//! the trace's events, filled by a materialized view within every insert of events; merging a
//! trace's rows (`uniqExactMerge`, `groupUniqArrayMerge`, `minMerge`, `maxMerge`) gives what
//! grouping its events would, without reading them: grouping every stored event per request
//! took 100-400 ms at 200,000 events and grew with the data.
//!
//! A page is read in two steps. First the page's trace keys, in the list's order, with as little
//! as that order and the filters need: in the default order (newest first) and without a
//! findings filter, the merged summaries alone; otherwise joined with the findings and the
//! analyses (the page and the total count at once). Then everything else, for those keys only
//! (each subquery narrowed to them, so the findings and analyses of other traces are never
//! read), with the page's event counts at once: two round trips of latency per page.
//!
//! The distinct event count is the costly column: ClickHouse 18.16 deserialises every
//! `uniqExact` state of the granules it reads (about 50 ms for 400 traces of 500 events on a
//! loaded 2-core machine, against 4-20 ms for counting the ids of those traces' events, key
//! columns only). So the page's counts come from its events
//! ([`EventStore::traces_event_counts`]), and the merged states only serve a minimum-events
//! filter, which needs every trace's count.

use std::collections::HashMap;

use uuid::Uuid;

use crate::clickhouse::analyses::LATEST;
use crate::clickhouse::rows::SummaryRow;
use crate::clickhouse::ClickHouseStore;
use crate::filter::{self, Dialect, Value};
use crate::{EventStore, StoreError, TracePage, TraceQuery, TraceSort, TraceSummary};

/// The traces a summary covers: every one, or only those keys (hyphenated text), bound.
#[derive(Clone, Copy)]
enum Scope<'a> {
    All,
    Keys(&'a [String]),
}

impl Scope<'_> {
    /// The condition that `column` is in scope (`1 = 1` for every trace), each key written as
    /// `key_sql` (a `?`, or `toUUID(?)` for a UUID column); the keys are appended to `params`.
    fn condition(self, column: &str, key_sql: &str, params: &mut Vec<Value>) -> String {
        match self {
            Scope::All => "1 = 1".to_string(),
            Scope::Keys(keys) => {
                params.extend(keys.iter().map(|k| Value::Str(k.clone())));
                format!("{column} IN ({})", vec![key_sql; keys.len()].join(", "))
            }
        }
    }

    /// [`Scope::condition`] of a finding: either of its traces is in scope.
    fn finding_condition(self, params: &mut Vec<Value>) -> String {
        let first = self.condition("first_trace_id", "?", params);
        let second = self.condition("second_trace_id", "?", params);
        format!("({first} OR {second})")
    }
}

/// The merged kept summaries of the traces in `scope`: key, services, environments, first and
/// last time, and the distinct event count when `counted` (the most costly column: it merges
/// every event id).
fn kept_sql(scope: Scope<'_>, counted: bool, params: &mut Vec<Value>) -> String {
    let count = if counted {
        "toUInt64(uniqExactMerge(events))"
    } else {
        "toUInt64(0)"
    };
    let within = scope.condition("trace_id", "toUUID(?)", params);
    format!(
        "SELECT toString(trace_id) AS trace_key,
               {count} AS event_count,
               arraySort(groupUniqArrayMerge(services)) AS services,
               groupUniqArrayMerge(environments) AS environments,
               minMerge(first_ts) AS first_ts,
               maxMerge(last_ts) AS last_ts
        FROM trace_summaries WHERE {within}
        GROUP BY trace_id"
    )
}

/// Whole summaries of the traces in `scope`: [`kept_sql`], the findings counted by
/// distinct id over both of their traces (newest version of each, not retracted); the end and
/// the anomalies (by distinct id) of the trace's latest analysis ([`LATEST`]; 0 and none
/// before one). One join per level: ClickHouse 18.16 takes one `JOIN` per `SELECT`.
fn summary_sql(scope: Scope<'_>, counted: bool, params: &mut Vec<Value>) -> String {
    let kept = kept_sql(scope, counted, params);
    let newest_findings = scope.finding_condition(params);
    let findings = scope.finding_condition(params);
    let analyses = scope.condition("trace_id", "?", params);
    let anomalies = scope.condition("trace_id", "?", params);
    format!(
        "
SELECT trace_key, event_count, services, environments, first_ts, last_ts,
       greatest(last_ts, analysed_end) AS end_ts, race_count, anomaly_count
FROM
(
    SELECT trace_key, event_count, services, environments, first_ts, last_ts, race_count
    FROM ({kept})
    ANY LEFT JOIN
    (
        SELECT trace_key, toUInt64(uniqExact(id)) AS race_count
        FROM (SELECT id, arrayJoin([first_trace_id, second_trace_id]) AS trace_key FROM findings
              WHERE (id, version) IN (SELECT id, max(version) FROM findings
                                      WHERE {newest_findings} GROUP BY id)
                AND occurrences > 0 AND {findings})
        GROUP BY trace_key
    ) USING trace_key
)
ANY LEFT JOIN
(
    SELECT trace_id AS trace_key, analysed_end, anomaly_count
    FROM
    (
        SELECT trace_id, end_ns AS analysed_end FROM trace_analyses
        WHERE {analyses} AND {LATEST}
        LIMIT 1 BY trace_id
    )
    ANY LEFT JOIN
    (
        SELECT trace_id, toUInt64(uniqExact(id)) AS anomaly_count
        FROM duration_anomalies WHERE {anomalies} AND {LATEST}
        GROUP BY trace_id
    ) USING trace_id
) USING trace_key"
    )
}

/// Most trace keys in one summary query: each key is written out 5 times (the summaries, the
/// findings twice over both traces, the analyses, the anomalies), and a query of a whole
/// 1,000-trace page exceeded ClickHouse's `max_query_size` (256 KiB).
const KEYS_PER_SUMMARY_QUERY: usize = 200;

impl ClickHouseStore {
    /// The whole summaries of the traces `keys`, in no set order: one query per
    /// [`KEYS_PER_SUMMARY_QUERY`] keys, all at once.
    async fn summaries_of(&self, keys: &[String]) -> Result<Vec<SummaryRow>, StoreError> {
        let queries = keys.chunks(KEYS_PER_SUMMARY_QUERY).map(|chunk| async move {
            let mut params = Vec::new();
            let sql = format!(
                "SELECT trace_key, event_count, services, first_ts, last_ts, end_ts, race_count, \
                 anomaly_count FROM ({})",
                summary_sql(Scope::Keys(chunk), false, &mut params)
            );
            self.fetch_rows::<SummaryRow>("summarise traces", &sql, &params)
                .await
        });
        let chunks = futures::future::try_join_all(queries).await?;
        Ok(chunks.into_iter().flatten().collect())
    }

    /// [`crate::EventStore::list_traces`]: the page's keys, then their summaries.
    pub(crate) async fn list_trace_summaries(
        &self,
        query: &TraceQuery,
    ) -> Result<TracePage, StoreError> {
        let filter = filter::traces(Dialect::ClickHouse, query);
        // Whether the findings or the analyses decide which traces are on the page.
        let joined = query.sort != TraceSort::Time || query.has_races.is_some();
        let counted = query.min_events.is_some();
        let mut none = Vec::new();
        let source = if joined {
            summary_sql(Scope::All, counted, &mut none)
        } else {
            kept_sql(Scope::All, counted, &mut none)
        };
        let sql = format!(
            "SELECT trace_key FROM ({source}) WHERE {} ORDER BY {}, trace_key",
            filter.sql(),
            query.sort.key()
        );
        let page = (query.limit, query.offset);
        let (keys, total): (Vec<String>, u64) =
            self.fetch_page("traces", &sql, &filter, page).await?;
        if keys.is_empty() {
            return Ok(TracePage {
                traces: Vec::new(),
                total,
            });
        }
        let ids: Vec<Uuid> = keys
            .iter()
            .filter_map(|key| Uuid::parse_str(key).ok())
            .collect();
        // The page's summaries and its event counts at once: two round trips in parallel.
        let (rows, counts) =
            tokio::try_join!(self.summaries_of(&keys), self.traces_event_counts(&ids))?;
        let mut by_key: HashMap<String, SummaryRow> =
            rows.into_iter().map(|r| (r.trace_key.clone(), r)).collect();
        // In the page's order; a trace pruned between the two reads is left out.
        let mut traces: Vec<TraceSummary> = keys
            .iter()
            .filter_map(|key| by_key.remove(key))
            .map(into_summary)
            .collect::<Result<_, _>>()?;
        for trace in &mut traces {
            trace.event_count = counts.get(&trace.trace_id).copied().unwrap_or(0);
        }
        Ok(TracePage { traces, total })
    }
}

fn into_summary(row: SummaryRow) -> Result<TraceSummary, StoreError> {
    let trace_id = Uuid::parse_str(&row.trace_key).map_err(|e| StoreError::Corrupt {
        what: "trace",
        id: row.trace_key.clone(),
        message: e.to_string(),
    })?;
    Ok(TraceSummary {
        trace_id,
        event_count: row.event_count,
        services: row.services,
        first_timestamp_ns: row.first_ts,
        last_timestamp_ns: row.last_ts,
        end_ns: row.end_ts,
        race_count: row.race_count,
        anomaly_count: row.anomaly_count,
    })
}

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
use crate::clickhouse::rows::{KeptRow, KeyedCount, KeyedTime, SummaryRow};
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
/// every event id). Keys filter in `PREWHERE`: 18.16 deserialises the aggregate states of every
/// row of a granule it reads (8,192 rows: the whole table at 2,000 traces) before a `WHERE`
/// drops them, and a `PREWHERE` reads the states of the matching rows only.
fn kept_sql(scope: Scope<'_>, counted: bool, params: &mut Vec<Value>) -> String {
    let count = if counted {
        "toUInt64(uniqExactMerge(events))"
    } else {
        "toUInt64(0)"
    };
    let within = match scope {
        Scope::All => "WHERE 1 = 1".to_string(),
        Scope::Keys(_) => format!(
            "PREWHERE {}",
            scope.condition("trace_id", "toUUID(?)", params)
        ),
    };
    format!(
        "SELECT toString(trace_id) AS trace_key,
               {count} AS event_count,
               arraySort(groupUniqArrayMerge(services)) AS services,
               groupUniqArrayMerge(environments) AS environments,
               minMerge(first_ts) AS first_ts,
               maxMerge(last_ts) AS last_ts
        FROM trace_summaries {within}
        GROUP BY trace_id"
    )
}

/// `trace_key, race_count`: the findings of each trace in `scope`, counted by distinct id over
/// both of their traces (newest version of each, not retracted).
fn race_counts_sql(scope: Scope<'_>, params: &mut Vec<Value>) -> String {
    let newest_findings = scope.finding_condition(params);
    let findings = scope.finding_condition(params);
    format!(
        "SELECT trace_key, toUInt64(uniqExact(id)) AS race_count
        FROM (SELECT id, arrayJoin([first_trace_id, second_trace_id]) AS trace_key FROM findings
              WHERE (id, version) IN (SELECT id, max(version) FROM findings
                                      WHERE {newest_findings} GROUP BY id)
                AND occurrences > 0 AND {findings})
        GROUP BY trace_key"
    )
}

/// `trace_id, analysed_end`: the end of the latest analysis ([`LATEST`]) of each trace in
/// `scope`.
fn analysed_ends_sql(scope: Scope<'_>, params: &mut Vec<Value>) -> String {
    let analyses = scope.condition("trace_id", "?", params);
    format!(
        "SELECT trace_id, end_ns AS analysed_end FROM trace_analyses
        WHERE {analyses} AND {LATEST}
        LIMIT 1 BY trace_id"
    )
}

/// `trace_id, anomaly_count`: the anomalies (by distinct id) of the latest analysis of each
/// trace in `scope`.
fn anomaly_counts_sql(scope: Scope<'_>, params: &mut Vec<Value>) -> String {
    let anomalies = scope.condition("trace_id", "?", params);
    format!(
        "SELECT trace_id, toUInt64(uniqExact(id)) AS anomaly_count
        FROM duration_anomalies WHERE {anomalies} AND {LATEST}
        GROUP BY trace_id"
    )
}

/// Whole summaries of the traces in `scope`, in one query: [`kept_sql`] joined with
/// [`race_counts_sql`], [`analysed_ends_sql`] and [`anomaly_counts_sql`] (0 and none before an
/// analysis). One join per level: ClickHouse 18.16 takes one `JOIN` per `SELECT`. Used where the
/// findings or the analyses decide which traces are on a page; a page's details run the parts
/// as separate queries at once instead ([`ClickHouseStore::summaries_of`]), which 18.16 answers
/// several times faster than this one (two `ANY LEFT JOIN` levels run one after another).
fn summary_sql(scope: Scope<'_>, counted: bool, params: &mut Vec<Value>) -> String {
    let kept = kept_sql(scope, counted, params);
    let races = race_counts_sql(scope, params);
    let analysed = analysed_ends_sql(scope, params);
    let anomalies = anomaly_counts_sql(scope, params);
    format!(
        "
SELECT trace_key, event_count, services, environments, first_ts, last_ts,
       greatest(last_ts, analysed_end) AS end_ts, race_count, anomaly_count
FROM
(
    SELECT trace_key, event_count, services, environments, first_ts, last_ts, race_count
    FROM ({kept})
    ANY LEFT JOIN ({races}) USING trace_key
)
ANY LEFT JOIN
(
    SELECT trace_id AS trace_key, analysed_end, anomaly_count
    FROM ({analysed})
    ANY LEFT JOIN ({anomalies}) USING trace_id
) USING trace_key"
    )
}

/// Most trace keys in one summary query: each key is written out 5 times (the summaries, the
/// findings twice over both traces, the analyses, the anomalies), and a query of a whole
/// 1,000-trace page exceeded ClickHouse's `max_query_size` (256 KiB).
const KEYS_PER_SUMMARY_QUERY: usize = 200;

impl ClickHouseStore {
    /// The whole summaries of the traces `keys`, in no set order: per [`KEYS_PER_SUMMARY_QUERY`]
    /// keys, the kept summaries, the race counts, the analysed ends and the anomaly counts as
    /// four queries, all at once, joined here by key.
    async fn summaries_of(&self, keys: &[String]) -> Result<Vec<SummaryRow>, StoreError> {
        let chunks = keys.chunks(KEYS_PER_SUMMARY_QUERY).map(|chunk| async move {
            let scope = Scope::Keys(chunk);
            let (mut kept, mut races, mut analysed, mut anomalies) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            let kept_sql = format!(
                "SELECT trace_key, services, first_ts, last_ts FROM ({})",
                kept_sql(scope, false, &mut kept)
            );
            let races_sql = race_counts_sql(scope, &mut races);
            let analysed_sql = analysed_ends_sql(scope, &mut analysed);
            let anomalies_sql = anomaly_counts_sql(scope, &mut anomalies);
            let (kept, races, analysed, anomalies) = tokio::try_join!(
                self.fetch_rows::<KeptRow>("summarise traces", &kept_sql, &kept),
                self.fetch_rows::<KeyedCount>("count trace races", &races_sql, &races),
                self.fetch_rows::<KeyedTime>("read analysed ends", &analysed_sql, &analysed),
                self.fetch_rows::<KeyedCount>("count trace anomalies", &anomalies_sql, &anomalies),
            )?;
            let counts = |rows: Vec<KeyedCount>| -> HashMap<String, u64> {
                rows.into_iter().map(|r| (r.trace_key, r.count)).collect()
            };
            let (races, anomalies) = (counts(races), counts(anomalies));
            let analysed: HashMap<String, i64> = analysed
                .into_iter()
                .map(|r| (r.trace_key, r.time))
                .collect();
            Ok::<_, StoreError>(
                kept.into_iter()
                    .map(|row| SummaryRow {
                        event_count: 0,
                        end_ts: row
                            .last_ts
                            .max(analysed.get(&row.trace_key).copied().unwrap_or(0)),
                        race_count: races.get(&row.trace_key).copied().unwrap_or(0),
                        anomaly_count: anomalies.get(&row.trace_key).copied().unwrap_or(0),
                        services: row.services,
                        first_ts: row.first_ts,
                        last_ts: row.last_ts,
                        trace_key: row.trace_key,
                    })
                    .collect::<Vec<_>>(),
            )
        });
        let chunks = futures::future::try_join_all(chunks).await?;
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

//! The trace list of the ClickHouse store, read from the kept trace summaries.
//!
//! `trace_summaries` (migration 0006) holds, per trace and day, idempotent aggregate states of
//! the trace's events, filled by a materialized view within every insert of events; merging a
//! trace's rows (`uniqExactMerge`, `groupUniqArrayMerge`, `minMerge`, `maxMerge`) gives what
//! grouping its events would, without reading them: grouping every stored event per request
//! took 100-400 ms at 200,000 events and grew with the data.
//!
//! A page is read in two steps. First the page itself, in the list's order, with the total: in
//! the default order (newest first) and without a findings filter, the merged summaries alone
//! give the page's keys, services and times (and, with nothing filtering, the total is counted
//! from the summaries' keys only); otherwise they are joined with the findings and the
//! analyses, which then give every column. Then what the page's rows lack, for those keys only
//! (each query narrowed to them, so the findings and analyses of other traces are not
//! aggregated): their event counts, and for the default order their race counts, analysed ends
//! and anomaly counts, all at once: two round trips of latency per page.
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
use crate::filter::{self, Dialect, Filter, Value};
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
}

/// The merged kept summaries of every trace: key, services, environments, first and last
/// time, and the distinct event count when `counted` (the most costly column: it merges every
/// event id).
fn kept_sql(counted: bool) -> String {
    let count = if counted {
        "toUInt64(uniqExactMerge(events))"
    } else {
        "toUInt64(0)"
    };
    format!(
        "SELECT toString(trace_id) AS trace_key,
               {count} AS event_count,
               arraySort(groupUniqArrayMerge(services)) AS services,
               groupUniqArrayMerge(environments) AS environments,
               minMerge(first_ts) AS first_ts,
               maxMerge(last_ts) AS last_ts
        FROM trace_summaries
        GROUP BY trace_id"
    )
}

/// `trace_key, race_count`: the findings of each trace in `scope`, counted by distinct id over
/// both of their traces (newest version of each, not retracted). One pass over `findings`
/// (`argMax` by version), not a newest-version set and a second read: a third of the CPU.
fn race_counts_sql(scope: Scope<'_>, params: &mut Vec<Value>) -> String {
    let traces = scope.condition("trace_key", "?", params);
    format!(
        "SELECT trace_key, toUInt64(uniqExact(id)) AS race_count
        FROM (SELECT id, argMax(occurrences, version) AS newest_occurrences,
                     argMax([first_trace_id, second_trace_id], version) AS traces
              FROM findings GROUP BY id)
        ARRAY JOIN traces AS trace_key
        WHERE newest_occurrences > 0 AND {traces}
        GROUP BY trace_key"
    )
}

/// `trace_id, analysed_end`: the end of the latest analysis (the largest version, as
/// [`LATEST`] selects) of each trace in `scope`, in one pass (`argMax`).
fn analysed_ends_sql(scope: Scope<'_>, params: &mut Vec<Value>) -> String {
    let analyses = scope.condition("trace_id", "?", params);
    format!(
        "SELECT trace_id, argMax(end_ns, version) AS analysed_end FROM trace_analyses
        WHERE {analyses} GROUP BY trace_id"
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

/// Whole summaries of every trace, in one query: [`kept_sql`] joined with
/// [`race_counts_sql`], [`analysed_ends_sql`] and [`anomaly_counts_sql`] (0 and none before an
/// analysis). One join per level: ClickHouse 18.16 takes one `JOIN` per `SELECT`. Used where the
/// findings or the analyses decide which traces are on a page; a page in the default order
/// reads the parts as separate queries at once instead ([`ClickHouseStore::details_of`]),
/// which 18.16 answers several times faster than this one (two `ANY LEFT JOIN` levels run one
/// after another).
fn summary_sql(counted: bool) -> String {
    let (scope, mut none) = (Scope::All, Vec::new());
    let kept = kept_sql(counted);
    let races = race_counts_sql(scope, &mut none);
    let analysed = analysed_ends_sql(scope, &mut none);
    let anomalies = anomaly_counts_sql(scope, &mut none);
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

/// Most trace keys in one details query: a query of a whole 1,000-trace page with each key
/// written out 5 times exceeded ClickHouse's `max_query_size` (256 KiB).
const KEYS_PER_SUMMARY_QUERY: usize = 200;

/// How many traces are stored, from the keys of the kept summaries alone: the total of an
/// unfiltered list without merging any state.
const TRACE_COUNT_SQL: &str = "SELECT toUInt64(uniqExact(trace_id)) FROM trace_summaries";

/// What a page's kept summaries lack, per trace key: its race count, the end of its latest
/// analysis and its anomaly count (absent: 0, or none before an analysis).
#[derive(Default)]
struct Details {
    races: HashMap<String, u64>,
    analysed: HashMap<String, i64>,
    anomalies: HashMap<String, u64>,
}

impl Details {
    /// `row` (a kept summary) completed with these details.
    fn complete(&self, mut row: SummaryRow) -> SummaryRow {
        let analysed = self.analysed.get(&row.trace_key).copied().unwrap_or(0);
        row.end_ts = row.last_ts.max(analysed);
        row.race_count = self.races.get(&row.trace_key).copied().unwrap_or(0);
        row.anomaly_count = self.anomalies.get(&row.trace_key).copied().unwrap_or(0);
        row
    }
}

impl ClickHouseStore {
    /// The [`Details`] of the traces `keys`: per [`KEYS_PER_SUMMARY_QUERY`] keys, the race
    /// counts, the analysed ends and the anomaly counts as three queries, all at once.
    async fn details_of(&self, keys: &[String]) -> Result<Details, StoreError> {
        let chunks = keys.chunks(KEYS_PER_SUMMARY_QUERY).map(|chunk| async move {
            let scope = Scope::Keys(chunk);
            let (mut races, mut analysed, mut anomalies) = (Vec::new(), Vec::new(), Vec::new());
            let races_sql = race_counts_sql(scope, &mut races);
            let analysed_sql = analysed_ends_sql(scope, &mut analysed);
            let anomalies_sql = anomaly_counts_sql(scope, &mut anomalies);
            tokio::try_join!(
                self.fetch_rows::<KeyedCount>("count trace races", &races_sql, &races),
                self.fetch_rows::<KeyedTime>("read analysed ends", &analysed_sql, &analysed),
                self.fetch_rows::<KeyedCount>("count trace anomalies", &anomalies_sql, &anomalies),
            )
        });
        let mut details = Details::default();
        for (races, analysed, anomalies) in futures::future::try_join_all(chunks).await? {
            details
                .races
                .extend(races.into_iter().map(|r| (r.trace_key, r.count)));
            details
                .analysed
                .extend(analysed.into_iter().map(|r| (r.trace_key, r.time)));
            details
                .anomalies
                .extend(anomalies.into_iter().map(|r| (r.trace_key, r.count)));
        }
        Ok(details)
    }

    /// A page of kept summaries in the list's order (newest first), from [`kept_sql`] alone,
    /// and the total ([`TRACE_COUNT_SQL`] when nothing filters); the rows still lack their
    /// [`Details`].
    async fn kept_page(
        &self,
        query: &TraceQuery,
        filter: &Filter,
    ) -> Result<(Vec<SummaryRow>, u64), StoreError> {
        let source = kept_sql(query.min_events.is_some());
        let select = format!(
            "SELECT trace_key, services, first_ts, last_ts FROM ({source}) WHERE {}",
            filter.sql()
        );
        let (clause, page) = Dialect::ClickHouse.page(query.limit, query.offset);
        let page_sql = format!("{select} ORDER BY {}, trace_key {clause}", query.sort.key());
        let total_sql = if filter.is_empty() {
            TRACE_COUNT_SQL.to_string()
        } else {
            format!("SELECT toUInt64(count()) FROM ({select})")
        };
        let page_params = filter.params_with(&page);
        let (rows, total): (Vec<KeptRow>, u64) = self
            .fetch_page_counted(
                "traces",
                (&page_sql, &page_params),
                (&total_sql, filter.params()),
            )
            .await?;
        let rows = rows
            .into_iter()
            .map(|row| SummaryRow {
                event_count: 0,
                end_ts: row.last_ts,
                race_count: 0,
                anomaly_count: 0,
                services: row.services,
                first_ts: row.first_ts,
                last_ts: row.last_ts,
                trace_key: row.trace_key,
            })
            .collect();
        Ok((rows, total))
    }

    /// [`crate::EventStore::list_traces`]: a page of summaries with the total, then what its
    /// rows lack (the page's event counts, and the [`Details`] of kept summaries) at once.
    pub(crate) async fn list_trace_summaries(
        &self,
        query: &TraceQuery,
    ) -> Result<TracePage, StoreError> {
        let filter = filter::traces(Dialect::ClickHouse, query);
        // Whether the findings or the analyses decide which traces are on the page.
        let joined = query.sort != TraceSort::Time || query.has_races.is_some();
        let (rows, total) = if joined {
            // Every column from the joined summaries at once.
            let sql = format!(
                "SELECT trace_key, event_count, services, first_ts, last_ts, end_ts, race_count,
                        anomaly_count
                 FROM ({}) WHERE {} ORDER BY {}, trace_key",
                summary_sql(query.min_events.is_some()),
                filter.sql(),
                query.sort.key()
            );
            let page = (query.limit, query.offset);
            self.fetch_page("traces", &sql, &filter, page).await?
        } else {
            self.kept_page(query, &filter).await?
        };
        if rows.is_empty() {
            return Ok(TracePage {
                traces: Vec::new(),
                total,
            });
        }
        let keys: Vec<String> = rows.iter().map(|r| r.trace_key.clone()).collect();
        let ids: Vec<Uuid> = keys
            .iter()
            .filter_map(|key| Uuid::parse_str(key).ok())
            .collect();
        let details = async {
            if joined {
                Ok(None)
            } else {
                self.details_of(&keys).await.map(Some)
            }
        };
        let (details, counts) = tokio::try_join!(details, self.traces_event_counts(&ids))?;
        let traces = rows
            .into_iter()
            .map(|row| match &details {
                Some(details) => details.complete(row),
                None => row,
            })
            .map(into_summary)
            .map(|trace| {
                trace.map(|mut trace| {
                    trace.event_count = counts.get(&trace.trace_id).copied().unwrap_or(0);
                    trace
                })
            })
            .collect::<Result<_, _>>()?;
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

//! The production store on ClickHouse (18.16 here, current versions in production).
//!
//! Uses the official `clickhouse` crate over HTTP with validation off (18.16 lacks
//! `RowBinaryWithNamesAndTypes`), LZ4 compression and client-side `?` binding (18.16 has no
//! server-side query parameters). Tables are ReplacingMergeTree; every read deduplicates itself
//! (`LIMIT 1 BY id`, `uniqExact(id)`, max(version) per id) instead of trusting merges to have run,
//! and nothing is counted at insert time, so replays never double a count.

use ::clickhouse::{Client, Compression};
use async_trait::async_trait;
use raceway_schemas::{Access, Event, RaceFinding};
use uuid::Uuid;

use crate::clickhouse::rows::{EventRow, FindingRow, PayloadRow, SummaryRow, FINDING_COLUMNS};
use crate::migrations::CLICKHOUSE;
use crate::retention::PruneReport;
use crate::rows::{decode_payload, sort_findings, EventColumns};
use crate::{
    AnomalyPage, AnomalyQuery, DependencyStats, DurationAnomalyRow, FindingPage, FindingQuery,
    ModelRecord, Store, StoreError, TraceAnalysis, TraceAnalysisSummary, TracePage, TraceQuery,
    TraceSummary,
};

/// Records which migrations ran; created before any migration.
const SCHEMA_MIGRATIONS_DDL: &str = "CREATE TABLE IF NOT EXISTS schema_migrations \
    (version UInt32, name String, applied_at DateTime DEFAULT now()) \
    ENGINE = ReplacingMergeTree() ORDER BY version";

/// Per-trace summaries over deduplicated rows: `uniqExact(id)` counts distinct events (min, max
/// and the service set are unaffected by duplicates), findings are counted by distinct id over
/// both of their traces.
const SUMMARY_SQL: &str = "
SELECT trace_key, event_count, services, first_ts, last_ts, race_count
FROM
(
    SELECT toString(trace_id) AS trace_key,
           toUInt64(uniqExact(id)) AS event_count,
           arraySort(groupUniqArray(service)) AS services,
           min(timestamp_ns) AS first_ts,
           max(timestamp_ns) AS last_ts
    FROM events
    GROUP BY trace_key
)
ANY LEFT JOIN
(
    SELECT trace_key, toUInt64(uniqExact(id)) AS race_count
    FROM (SELECT id, arrayJoin([first_trace_id, second_trace_id]) AS trace_key FROM findings
          WHERE (id, version) IN (SELECT id, max(version) FROM findings GROUP BY id)
            AND occurrences > 0)
    GROUP BY trace_key
) USING trace_key";

/// The ClickHouse [`Store`]. Cloning is cheap (the HTTP client is shared).
#[derive(Clone)]
pub struct ClickHouseStore {
    pub(crate) client: Client,
    url: String,
    database: String,
}

impl std::fmt::Debug for ClickHouseStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseStore")
            .field("url", &self.url)
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

impl ClickHouseStore {
    /// Connects to the ClickHouse HTTP interface at `url` (e.g. `http://127.0.0.1:8123`) and
    /// creates `database` if it is missing. Call [`Store::migrate`] before use.
    ///
    /// `database` must be a plain identifier (letters, digits, `_`, not starting with a digit).
    /// Fails with [`StoreError::Unreachable`] when the server does not answer.
    pub async fn connect(url: &str, database: &str) -> Result<Self, StoreError> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(StoreError::InvalidArgument(format!(
                "ClickHouse URL {url:?} must start with http:// (the HTTP interface, port 8123 by default)"
            )));
        }
        if !valid_identifier(database) {
            return Err(StoreError::InvalidArgument(format!(
                "ClickHouse database name {database:?} must be letters, digits and '_', not starting with a digit"
            )));
        }
        let base = Client::default()
            .with_url(url)
            .with_validation(false)
            .with_compression(Compression::Lz4);
        base.query_raw(&format!("CREATE DATABASE IF NOT EXISTS {database}"))
            .execute()
            .await
            .map_err(|e| StoreError::clickhouse(url, "create database", e))?;
        Ok(ClickHouseStore {
            client: base.with_database(database),
            url: url.to_string(),
            database: database.to_string(),
        })
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database holding Raceway's tables.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// Maps a failure of `operation` to a [`StoreError`] naming this server.
    pub(crate) fn err(
        &self,
        operation: &str,
    ) -> impl FnOnce(::clickhouse::error::Error) -> StoreError + '_ {
        let operation = operation.to_string();
        move |e| StoreError::clickhouse(&self.url, &operation, e)
    }

    /// One page of rows of `page_sql` (which ends in `LIMIT ?, ?`) and the total of
    /// `total_sql`, both bound to `params`: the shape of every paginated listing.
    pub(crate) async fn fetch_page<T>(
        &self,
        what: &str,
        page_sql: &str,
        total_sql: &str,
        params: &[Param],
        offset: u32,
        limit: u32,
    ) -> Result<(Vec<T>, u64), StoreError>
    where
        T: ::clickhouse::RowOwned + ::clickhouse::RowRead,
    {
        let rows: Vec<T> = bind_all(self.client.query(page_sql), params)
            .bind(offset)
            .bind(limit)
            .fetch_all()
            .await
            .map_err(self.err(&format!("list {what}")))?;
        let total: u64 = bind_all(self.client.query(total_sql), params)
            .fetch_one()
            .await
            .map_err(self.err(&format!("count {what}")))?;
        Ok((rows, total))
    }

    /// The client, with the database selected (tests only).
    #[cfg(test)]
    pub(crate) fn client_for_tests(&self) -> &Client {
        &self.client
    }

    /// Drops the whole database (tests only).
    #[cfg(test)]
    pub(crate) async fn drop_database(&self) -> Result<(), StoreError> {
        self.client
            .query_raw(&format!("DROP DATABASE IF EXISTS {}", self.database))
            .execute()
            .await
            .map_err(self.err("drop database"))
    }
}

fn valid_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A value bound to a `?` of a query.
#[derive(Clone)]
pub(crate) enum Param {
    Str(String),
    I64(i64),
}

/// The `WHERE` clause for the filters of `query`, and the values to bind, in order.
fn filters(query: &TraceQuery) -> (String, Vec<Param>) {
    let mut sql = String::from(" WHERE 1 = 1");
    let mut params = Vec::new();
    if let Some(service) = &query.service {
        sql.push_str(" AND has(services, ?)");
        params.push(Param::Str(service.clone()));
    }
    if let Some(from) = query.from_ns {
        sql.push_str(" AND last_ts >= ?");
        params.push(Param::I64(from));
    }
    if let Some(to) = query.to_ns {
        sql.push_str(" AND first_ts <= ?");
        params.push(Param::I64(to));
    }
    match query.has_races {
        Some(true) => sql.push_str(" AND race_count > 0"),
        Some(false) => sql.push_str(" AND race_count = 0"),
        None => {}
    }
    (sql, params)
}

/// Binds `params` to the `?`s of `q`, in order.
pub(crate) fn bind_all(
    mut q: ::clickhouse::query::Query,
    params: &[Param],
) -> ::clickhouse::query::Query {
    for p in params {
        q = match p {
            Param::Str(s) => q.bind(s.as_str()),
            Param::I64(n) => q.bind(*n),
        };
    }
    q
}

#[async_trait]
impl Store for ClickHouseStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        self.client
            .query_raw(SCHEMA_MIGRATIONS_DDL)
            .execute()
            .await
            .map_err(self.err("create schema_migrations"))?;
        let applied: Vec<u32> = self
            .client
            .query("SELECT DISTINCT version FROM schema_migrations")
            .fetch_all()
            .await
            .map_err(self.err("read schema_migrations"))?;
        for migration in CLICKHOUSE {
            if applied.contains(&migration.version) {
                continue;
            }
            for statement in migration.statements() {
                self.client
                    .query_raw(&statement)
                    .execute()
                    .await
                    .map_err(|e| StoreError::Migration {
                        version: migration.version,
                        name: migration.name.to_string(),
                        message: StoreError::clickhouse(&self.url, "DDL", e).to_string(),
                    })?;
            }
            self.client
                .query("INSERT INTO schema_migrations (version, name) VALUES (?, ?)")
                .bind(migration.version)
                .bind(migration.name)
                .execute()
                .await
                .map_err(self.err("record migration"))?;
            tracing::info!(
                version = migration.version,
                name = migration.name,
                database = %self.database,
                "applied ClickHouse migration"
            );
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let one: u8 = self
            .client
            .query("SELECT toUInt8(1)")
            .fetch_one()
            .await
            .map_err(self.err("ping"))?;
        if one == 1 {
            Ok(())
        } else {
            Err(StoreError::ClickHouse {
                operation: "ping".into(),
                message: format!("SELECT 1 returned {one}"),
            })
        }
    }

    async fn insert_events(&self, events: &[Event]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut insert = self
            .client
            .insert::<EventRow>("events")
            .await
            .map_err(self.err("insert events"))?;
        for event in events {
            let row = EventRow::from(EventColumns::new(event));
            insert
                .write(&row)
                .await
                .map_err(self.err("insert events"))?;
        }
        insert.end().await.map_err(self.err("insert events"))
    }

    async fn trace_events(&self, trace_id: Uuid) -> Result<Vec<Event>, StoreError> {
        let rows: Vec<PayloadRow> = self
            .client
            .query(
                "SELECT toString(id) AS event_id, payload FROM events \
                 WHERE trace_id = toUUID(?) \
                 ORDER BY timestamp_ns, event_id LIMIT 1 BY event_id",
            )
            .bind(trace_id.to_string())
            .fetch_all()
            .await
            .map_err(self.err("read trace events"))?;
        rows.iter()
            .map(|row| decode_payload(&row.id, &row.payload))
            .collect()
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
        let mut query = self.client.query(&sql);
        for trace_id in trace_ids {
            query = query.bind(trace_id.to_string());
        }
        let rows: Vec<PayloadRow> = query
            .fetch_all()
            .await
            .map_err(self.err("read traces' events"))?;
        rows.iter()
            .map(|row| decode_payload(&row.id, &row.payload))
            .collect()
    }

    async fn list_traces(&self, query: &TraceQuery) -> Result<TracePage, StoreError> {
        let (conditions, params) = filters(query);
        let page_sql = format!(
            "SELECT * FROM ({SUMMARY_SQL}){conditions} \
             ORDER BY first_ts DESC, trace_key LIMIT ?, ?"
        );
        let total_sql = format!("SELECT toUInt64(count()) FROM ({SUMMARY_SQL}){conditions}");
        let (rows, total): (Vec<SummaryRow>, u64) = self
            .fetch_page(
                "traces",
                &page_sql,
                &total_sql,
                &params,
                query.offset,
                query.limit,
            )
            .await?;
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
                race_count: row.race_count,
            });
        }
        Ok(TracePage { traces, total })
    }

    async fn upsert_findings(&self, findings: &[RaceFinding]) -> Result<(), StoreError> {
        if findings.is_empty() {
            return Ok(());
        }
        let mut insert = self
            .client
            .insert::<FindingRow>("findings")
            .await
            .map_err(self.err("upsert findings"))?;
        for finding in findings {
            let row = FindingRow::from(finding);
            insert
                .write(&row)
                .await
                .map_err(self.err("upsert findings"))?;
        }
        insert.end().await.map_err(self.err("upsert findings"))
    }

    async fn trace_findings(&self, trace_id: Uuid) -> Result<Vec<RaceFinding>, StoreError> {
        let key = trace_id.to_string();
        // The newest version of each finding of the trace; LIMIT 1 BY drops exact duplicates
        // (the same version inserted twice).
        let sql = format!(
            "SELECT {FINDING_COLUMNS} FROM findings \
             WHERE (first_trace_id = ? OR second_trace_id = ?) \
               AND (id, version) IN (SELECT id, max(version) FROM findings \
                                     WHERE first_trace_id = ? OR second_trace_id = ? GROUP BY id) \
               AND occurrences > 0 \
             ORDER BY severity_rank DESC, variable, id LIMIT 1 BY id"
        );
        let rows: Vec<FindingRow> = self
            .client
            .query(&sql)
            .bind(key.as_str())
            .bind(key.as_str())
            .bind(key.as_str())
            .bind(key.as_str())
            .fetch_all()
            .await
            .map_err(self.err("read trace findings"))?;
        let mut findings = rows
            .into_iter()
            .map(FindingRow::into_finding)
            .collect::<Result<Vec<_>, _>>()?;
        sort_findings(&mut findings);
        Ok(findings)
    }

    async fn list_findings(&self, query: &FindingQuery) -> Result<FindingPage, StoreError> {
        self.list_findings_impl(query).await
    }

    async fn findings_for_variable(
        &self,
        environment: Option<&str>,
        variable: &str,
    ) -> Result<Vec<RaceFinding>, StoreError> {
        self.findings_for_variable_impl(environment, variable).await
    }

    async fn insert_accesses(&self, accesses: &[Access]) -> Result<(), StoreError> {
        self.insert_accesses_impl(accesses).await
    }

    async fn variable_accesses(
        &self,
        environment: Option<&str>,
        variable: &str,
        from_ns: Option<i64>,
        to_ns: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Access>, StoreError> {
        self.variable_accesses_impl(environment, variable, from_ns, to_ns, limit)
            .await
    }

    async fn trace_variable_accesses(
        &self,
        trace_id: Uuid,
        variable: &str,
    ) -> Result<Vec<Access>, StoreError> {
        self.trace_variable_accesses_impl(trace_id, variable).await
    }

    async fn replace_trace_analyses(&self, analyses: &[TraceAnalysis]) -> Result<(), StoreError> {
        self.replace_trace_analyses_impl(analyses).await
    }

    async fn trace_analysis(
        &self,
        trace_id: Uuid,
    ) -> Result<Option<TraceAnalysisSummary>, StoreError> {
        self.trace_analysis_impl(trace_id).await
    }

    async fn trace_anomalies(&self, trace_id: Uuid) -> Result<Vec<DurationAnomalyRow>, StoreError> {
        self.trace_anomalies_impl(trace_id).await
    }

    async fn list_anomalies(&self, query: &AnomalyQuery) -> Result<AnomalyPage, StoreError> {
        self.list_anomalies_impl(query).await
    }

    async fn dependencies(
        &self,
        from_ns: Option<i64>,
        to_ns: Option<i64>,
    ) -> Result<Vec<DependencyStats>, StoreError> {
        self.dependencies_impl(from_ns, to_ns).await
    }

    async fn recent_trace_features(&self, limit: u32) -> Result<Vec<(Uuid, String)>, StoreError> {
        self.recent_trace_features_impl(limit).await
    }

    async fn save_checkpoint(&self, name: &str, payload: &str) -> Result<(), StoreError> {
        self.save_checkpoint_impl(name, payload).await
    }

    async fn load_checkpoint(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.load_checkpoint_impl(name).await
    }

    async fn save_model(&self, model: &ModelRecord) -> Result<(), StoreError> {
        self.save_model_impl(model).await
    }

    async fn latest_model(&self) -> Result<Option<ModelRecord>, StoreError> {
        self.latest_model_impl().await
    }

    async fn prune_older_than(&self, cutoff_ns: i64) -> Result<PruneReport, StoreError> {
        self.prune_impl(cutoff_ns).await
    }
}

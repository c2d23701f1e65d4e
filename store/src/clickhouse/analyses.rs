//! Trace analyses in the ClickHouse store (migration 0003). Row types are RowBinary, so field
//! order = column order.
//!
//! One analysis writes its calls, anomalies and summary with one version (the write time), the
//! summary last; reads keep the rows of each trace's largest summary version ([`LATEST`]) and one
//! row per id (`LIMIT 1 BY id`), so a replay never doubles a count and a re-analysis replaces
//! the previous rows, even before merges ran.

use async_trait::async_trait;
use uuid::Uuid;

use crate::analyses::{
    clusters_json, model_record, ns_to_ms, parse_id as uuid, sort_by_deviations,
};
use crate::clickhouse::analysis_rows::{
    AnalysisRow, AnomalyRow, CallRow, CheckpointRow, EdgeRow, FeaturesRow, ModelRow,
    ANALYSIS_COLUMNS, ANOMALY_COLUMNS,
};
use crate::clickhouse::{bind_all, ClickHouseStore};
use crate::filter::{self, Dialect};
use crate::rows::now_version;
use crate::{
    AnalysisStore, AnomalyPage, AnomalyQuery, DependencyStats, DurationAnomalyRow, ModelRecord,
    StoreError, TimeRange, TraceAnalysis, TraceAnalysisSummary,
};

/// Rows of a trace's latest analysis: `(trace_id, version)` of its newest summary.
pub(crate) const LATEST: &str =
    "(trace_id, version) IN (SELECT trace_id, max(version) FROM trace_analyses GROUP BY trace_id)";

/// One version per write; calls and anomalies first, the summaries (which make them visible)
/// last.
#[async_trait]
impl AnalysisStore for ClickHouseStore {
    async fn replace_trace_analyses(&self, analyses: &[TraceAnalysis]) -> Result<(), StoreError> {
        let version = now_version();
        let mut calls: Vec<CallRow> = Vec::new();
        let mut anomalies: Vec<AnomalyRow> = Vec::new();
        let mut summaries: Vec<AnalysisRow> = Vec::new();
        for analysis in analyses {
            let trace = analysis.summary.trace_id.to_string();
            calls.extend(analysis.calls.iter().map(|c| CallRow {
                id: c.id.to_string(),
                trace_id: trace.clone(),
                caller_service: c.caller_service.clone(),
                callee_service: c.callee_service.clone(),
                kind: c.kind.clone(),
                latency_ns: c.latency_ns,
                is_error: u8::from(c.is_error),
                timestamp_ns: c.timestamp_ns,
                version,
            }));
            anomalies.extend(
                analysis
                    .anomalies
                    .iter()
                    .map(|a| AnomalyRow::new(a, version)),
            );
            summaries.push(AnalysisRow::new(&analysis.summary, version));
        }
        // Summaries last: a reader keys on the newest summary's version, so it never sees the
        // calls or anomalies of an analysis whose summary is not written yet.
        self.insert_rows("service_calls", calls).await?;
        self.insert_rows("duration_anomalies", anomalies).await?;
        self.insert_rows("trace_analyses", summaries).await
    }

    async fn trace_analysis(
        &self,
        trace_id: Uuid,
    ) -> Result<Option<TraceAnalysisSummary>, StoreError> {
        let sql = format!(
            "SELECT {ANALYSIS_COLUMNS} FROM trace_analyses WHERE trace_id = ? \
             ORDER BY version DESC LIMIT 1"
        );
        let rows: Vec<AnalysisRow> = self
            .client
            .query(&sql)
            .bind(trace_id.to_string())
            .fetch_all()
            .await
            .map_err(self.err("read trace analysis"))?;
        rows.into_iter()
            .next()
            .map(AnalysisRow::into_summary)
            .transpose()
    }

    async fn trace_anomalies(&self, trace_id: Uuid) -> Result<Vec<DurationAnomalyRow>, StoreError> {
        let sql = format!(
            "SELECT {ANOMALY_COLUMNS} FROM duration_anomalies \
             WHERE trace_id = ? AND (trace_id, version) IN \
                 (SELECT trace_id, max(version) FROM trace_analyses WHERE trace_id = ? \
                  GROUP BY trace_id) \
             LIMIT 1 BY id"
        );
        let key = trace_id.to_string();
        let rows: Vec<AnomalyRow> = self
            .client
            .query(&sql)
            .bind(key.as_str())
            .bind(key.as_str())
            .fetch_all()
            .await
            .map_err(self.err("read trace anomalies"))?;
        let mut anomalies = rows
            .into_iter()
            .map(AnomalyRow::into_anomaly)
            .collect::<Result<Vec<_>, _>>()?;
        sort_by_deviations(&mut anomalies);
        Ok(anomalies)
    }

    async fn list_anomalies(&self, query: &AnomalyQuery) -> Result<AnomalyPage, StoreError> {
        let filter = filter::anomalies(Dialect::ClickHouse, query);
        let conditions = filter.sql();
        let deduplicated = format!(
            "SELECT {ANOMALY_COLUMNS} FROM duration_anomalies WHERE {conditions} AND {LATEST} \
             LIMIT 1 BY id"
        );
        let sql = format!(
            "SELECT {ANOMALY_COLUMNS} FROM ({deduplicated}) \
             ORDER BY timestamp_ns DESC, deviations DESC, id"
        );
        let page = (query.limit, query.offset);
        let (rows, total): (Vec<AnomalyRow>, u64) =
            self.fetch_page("anomalies", &sql, &filter, page).await?;
        let anomalies = rows
            .into_iter()
            .map(AnomalyRow::into_anomaly)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AnomalyPage { anomalies, total })
    }

    // Nearest-rank percentiles over the sorted latencies of each edge: rank ceil(p x n / 100)
    // = (p x n + 99) / 100 in integer arithmetic.
    async fn dependencies(&self, time: TimeRange) -> Result<Vec<DependencyStats>, StoreError> {
        let filter = filter::calls(Dialect::ClickHouse, time).condition(LATEST);
        let conditions = filter.sql();
        let sql = format!(
            "SELECT caller_service, callee_service, kind, calls, errors, \
                    sorted[intDiv(50 * calls + 99, 100)] AS p50, \
                    sorted[intDiv(95 * calls + 99, 100)] AS p95, \
                    sorted[intDiv(99 * calls + 99, 100)] AS p99 \
             FROM ( \
                 SELECT caller_service, callee_service, kind, toUInt64(count()) AS calls, \
                        toUInt64(sum(is_error)) AS errors, \
                        arraySort(groupArray(latency_ns)) AS sorted \
                 FROM ( \
                     SELECT id, caller_service, callee_service, kind, latency_ns, is_error \
                     FROM service_calls WHERE {conditions} LIMIT 1 BY id \
                 ) \
                 GROUP BY caller_service, callee_service, kind \
             ) \
             ORDER BY caller_service, callee_service, kind"
        );
        let rows: Vec<EdgeRow> = bind_all(self.client.query(&sql), filter.params())
            .fetch_all()
            .await
            .map_err(self.err("read dependencies"))?;
        Ok(rows
            .into_iter()
            .map(|r| DependencyStats {
                caller_service: r.caller_service,
                callee_service: r.callee_service,
                kind: r.kind,
                calls: r.calls,
                errors: r.errors,
                p50_ms: ns_to_ms(r.p50),
                p95_ms: ns_to_ms(r.p95),
                p99_ms: ns_to_ms(r.p99),
            })
            .collect())
    }

    async fn recent_trace_features(&self, limit: u32) -> Result<Vec<(Uuid, String)>, StoreError> {
        let rows: Vec<FeaturesRow> = self
            .client
            .query(
                "SELECT trace_id, features FROM \
                 (SELECT trace_id, features, end_ns FROM trace_analyses \
                  ORDER BY trace_id, version DESC LIMIT 1 BY trace_id) \
                 ORDER BY end_ns DESC, trace_id LIMIT ?",
            )
            .bind(limit)
            .fetch_all()
            .await
            .map_err(self.err("read trace features"))?;
        rows.into_iter()
            .map(|r| Ok((uuid("trace analysis", &r.trace_id)?, r.features)))
            .collect()
    }

    async fn save_checkpoint(&self, name: &str, payload: &str) -> Result<(), StoreError> {
        let row = CheckpointRow {
            name: name.to_string(),
            payload: payload.to_string(),
            version: now_version(),
        };
        self.insert_rows("checkpoints", [row]).await
    }

    async fn load_checkpoint(&self, name: &str) -> Result<Option<String>, StoreError> {
        let rows: Vec<String> = self
            .client
            .query("SELECT payload FROM checkpoints WHERE name = ? ORDER BY version DESC LIMIT 1")
            .bind(name)
            .fetch_all()
            .await
            .map_err(self.err("load checkpoint"))?;
        Ok(rows.into_iter().next())
    }

    async fn save_model(&self, model: &ModelRecord) -> Result<(), StoreError> {
        let row = ModelRow {
            version: model.version,
            trained_at_ns: model.trained_at_ns,
            trained_on: model.trained_on,
            clusters: clusters_json(model),
            payload: model.payload.clone(),
        };
        self.insert_rows("trace_models", [row]).await
    }

    async fn latest_model(&self) -> Result<Option<ModelRecord>, StoreError> {
        let rows: Vec<ModelRow> = self
            .client
            .query(
                "SELECT version, trained_at_ns, trained_on, clusters, payload FROM trace_models \
                 ORDER BY version DESC LIMIT 1",
            )
            .fetch_all()
            .await
            .map_err(self.err("load model"))?;
        rows.into_iter()
            .next()
            .map(|r| {
                model_record(
                    r.version,
                    r.trained_at_ns,
                    r.trained_on,
                    &r.clusters,
                    r.payload,
                )
            })
            .transpose()
    }
}

//! Trace analyses in the ClickHouse store (migration 0003). Row types are RowBinary, so field
//! order = column order.
//!
//! One analysis writes its calls, anomalies and summary with one version (the write time), the
//! summary last; reads keep the rows of each trace's largest summary version ([`LATEST`]) and one
//! row per id (`LIMIT 1 BY id`), so a replay never doubles a count and a re-analysis replaces
//! the previous rows, even before merges ran.

use ::clickhouse::Row;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::analyses::{clusters_json, grades_at_least, model_record, ns_to_ms, sort_by_deviations};
use crate::clickhouse::{bind_all, ClickHouseStore, Param};
use crate::rows::now_version;
use crate::{
    AnomalyGrade, AnomalyPage, AnomalyQuery, DependencyStats, DurationAnomalyRow, ModelRecord,
    StoreError, TraceAnalysis, TraceAnalysisSummary, TraceScores,
};

/// Rows of a trace's latest analysis: `(trace_id, version)` of its newest summary.
const LATEST: &str =
    "(trace_id, version) IN (SELECT trace_id, max(version) FROM trace_analyses GROUP BY trace_id)";

fn corrupt(what: &'static str, id: &str, message: String) -> StoreError {
    StoreError::Corrupt {
        what,
        id: id.to_string(),
        message,
    }
}

fn uuid(what: &'static str, text: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|e| corrupt(what, text, e.to_string()))
}

/// A row of `trace_analyses`.
#[derive(Debug, Row, Serialize, Deserialize)]
struct AnalysisRow {
    trace_id: String,
    start_ns: i64,
    end_ns: i64,
    duration_ns: u64,
    event_count: u64,
    critical_path_ns: u64,
    critical_path_share: f64,
    features: String,
    model_version: Option<u64>,
    isolation_score: Option<f64>,
    cluster_id: Option<u32>,
    centroid_distance: Option<f64>,
    relative_distance: Option<f64>,
    analyzed_at_ns: i64,
    version: u64,
}

const ANALYSIS_COLUMNS: &str = "trace_id, start_ns, end_ns, duration_ns, event_count, \
    critical_path_ns, critical_path_share, features, model_version, isolation_score, cluster_id, \
    centroid_distance, relative_distance, analyzed_at_ns, version";

impl AnalysisRow {
    fn new(s: &TraceAnalysisSummary, version: u64) -> Self {
        let scores = s.scores.as_ref();
        AnalysisRow {
            trace_id: s.trace_id.to_string(),
            start_ns: s.start_ns,
            end_ns: s.end_ns,
            duration_ns: s.duration_ns,
            event_count: s.event_count,
            critical_path_ns: s.critical_path_ns,
            critical_path_share: s.critical_path_share,
            features: s.features.clone(),
            model_version: scores.map(|x| x.model_version),
            isolation_score: scores.map(|x| x.isolation_score),
            cluster_id: scores.map(|x| x.cluster),
            centroid_distance: scores.map(|x| x.centroid_distance),
            relative_distance: scores.map(|x| x.relative_distance),
            analyzed_at_ns: s.analyzed_at_ns,
            version,
        }
    }

    fn into_summary(self) -> Result<TraceAnalysisSummary, StoreError> {
        let scores = match (
            self.model_version,
            self.isolation_score,
            self.cluster_id,
            self.centroid_distance,
            self.relative_distance,
        ) {
            (Some(version), Some(isolation), Some(cluster), Some(distance), Some(relative)) => {
                Some(TraceScores {
                    model_version: version,
                    isolation_score: isolation,
                    cluster,
                    centroid_distance: distance,
                    relative_distance: relative,
                })
            }
            _ => None,
        };
        Ok(TraceAnalysisSummary {
            trace_id: uuid("trace analysis", &self.trace_id)?,
            start_ns: self.start_ns,
            end_ns: self.end_ns,
            duration_ns: self.duration_ns,
            event_count: self.event_count,
            critical_path_ns: self.critical_path_ns,
            critical_path_share: self.critical_path_share,
            features: self.features,
            scores,
            analyzed_at_ns: self.analyzed_at_ns,
        })
    }
}

/// A row of `service_calls`.
#[derive(Debug, Row, Serialize)]
struct CallRow {
    id: String,
    trace_id: String,
    caller_service: String,
    callee_service: String,
    kind: String,
    latency_ns: u64,
    is_error: u8,
    timestamp_ns: i64,
    version: u64,
}

/// A row of `duration_anomalies`.
#[derive(Debug, Row, Serialize, Deserialize)]
struct AnomalyRow {
    id: String,
    trace_id: String,
    event_id: String,
    service: String,
    kind: String,
    location: String,
    actual_ns: u64,
    expected_ns: u64,
    deviations: f64,
    severity: String,
    baseline_samples: u64,
    flagged_steps: u32,
    timestamp_ns: i64,
    version: u64,
}

const ANOMALY_COLUMNS: &str = "id, trace_id, event_id, service, kind, location, actual_ns, \
    expected_ns, deviations, severity, baseline_samples, flagged_steps, timestamp_ns, version";

impl AnomalyRow {
    fn new(a: &DurationAnomalyRow, version: u64) -> Self {
        AnomalyRow {
            id: a.id.to_string(),
            trace_id: a.trace_id.to_string(),
            event_id: a.event_id.to_string(),
            service: a.service.clone(),
            kind: a.kind.clone(),
            location: a.location.clone(),
            actual_ns: a.actual_ns,
            expected_ns: a.expected_ns,
            deviations: a.deviations,
            severity: a.severity.as_str().to_string(),
            baseline_samples: a.baseline_samples,
            flagged_steps: a.flagged_steps,
            timestamp_ns: a.timestamp_ns,
            version,
        }
    }

    fn into_anomaly(self) -> Result<DurationAnomalyRow, StoreError> {
        let severity = AnomalyGrade::parse(&self.severity).ok_or_else(|| {
            corrupt(
                "anomaly",
                &self.id,
                format!("unknown severity {:?}", self.severity),
            )
        })?;
        Ok(DurationAnomalyRow {
            id: uuid("anomaly", &self.id)?,
            trace_id: uuid("anomaly", &self.trace_id)?,
            event_id: uuid("anomaly", &self.event_id)?,
            service: self.service,
            kind: self.kind,
            location: self.location,
            actual_ns: self.actual_ns,
            expected_ns: self.expected_ns,
            deviations: self.deviations,
            severity,
            baseline_samples: self.baseline_samples,
            flagged_steps: self.flagged_steps,
            timestamp_ns: self.timestamp_ns,
        })
    }
}

/// One edge as the dependencies query computes it (latencies in ns).
#[derive(Debug, Row, Deserialize)]
struct EdgeRow {
    caller_service: String,
    callee_service: String,
    kind: String,
    calls: u64,
    errors: u64,
    p50: u64,
    p95: u64,
    p99: u64,
}

#[derive(Debug, Row, Deserialize)]
struct FeaturesRow {
    trace_id: String,
    features: String,
}

#[derive(Debug, Row, Serialize, Deserialize)]
struct CheckpointRow {
    name: String,
    payload: String,
    version: u64,
}

#[derive(Debug, Row, Serialize, Deserialize)]
struct ModelRow {
    version: u64,
    trained_at_ns: i64,
    trained_on: u64,
    clusters: String,
    payload: String,
}

impl ClickHouseStore {
    /// Inserts `rows` into `table` in one INSERT.
    async fn insert_rows<T>(&self, table: &str, rows: &[T]) -> Result<(), StoreError>
    where
        T: ::clickhouse::RowOwned + ::clickhouse::RowWrite,
    {
        if rows.is_empty() {
            return Ok(());
        }
        let operation = format!("insert {table}");
        let mut insert = self
            .client
            .insert::<T>(table)
            .await
            .map_err(self.err(&operation))?;
        for row in rows {
            insert.write(row).await.map_err(self.err(&operation))?;
        }
        insert.end().await.map_err(self.err(&operation))
    }

    /// [`crate::Store::replace_trace_analysis`]: calls and anomalies first, the summary (which
    /// makes them visible) last.
    pub(crate) async fn replace_trace_analysis_impl(
        &self,
        analysis: &TraceAnalysis,
    ) -> Result<(), StoreError> {
        let version = now_version();
        let trace = analysis.summary.trace_id.to_string();
        let calls: Vec<CallRow> = analysis
            .calls
            .iter()
            .map(|c| CallRow {
                id: c.id.to_string(),
                trace_id: trace.clone(),
                caller_service: c.caller_service.clone(),
                callee_service: c.callee_service.clone(),
                kind: c.kind.clone(),
                latency_ns: c.latency_ns,
                is_error: u8::from(c.is_error),
                timestamp_ns: c.timestamp_ns,
                version,
            })
            .collect();
        self.insert_rows("service_calls", &calls).await?;
        let anomalies: Vec<AnomalyRow> = analysis
            .anomalies
            .iter()
            .map(|a| AnomalyRow::new(a, version))
            .collect();
        self.insert_rows("duration_anomalies", &anomalies).await?;
        self.insert_rows(
            "trace_analyses",
            &[AnalysisRow::new(&analysis.summary, version)],
        )
        .await
    }

    /// [`crate::Store::trace_analysis`].
    pub(crate) async fn trace_analysis_impl(
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

    /// [`crate::Store::trace_anomalies`].
    pub(crate) async fn trace_anomalies_impl(
        &self,
        trace_id: Uuid,
    ) -> Result<Vec<DurationAnomalyRow>, StoreError> {
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

    /// [`crate::Store::list_anomalies`].
    pub(crate) async fn list_anomalies_impl(
        &self,
        query: &AnomalyQuery,
    ) -> Result<AnomalyPage, StoreError> {
        let grades = grades_at_least(query.min_severity);
        let mut conditions = format!("severity IN ('{}')", grades.join("', '"));
        let mut params = Vec::new();
        if let Some(service) = &query.service {
            conditions.push_str(" AND service = ?");
            params.push(Param::Str(service.clone()));
        }
        if let Some(from) = query.from_ns {
            conditions.push_str(" AND timestamp_ns >= ?");
            params.push(Param::I64(from));
        }
        if let Some(to) = query.to_ns {
            conditions.push_str(" AND timestamp_ns <= ?");
            params.push(Param::I64(to));
        }
        let deduplicated = format!(
            "SELECT {ANOMALY_COLUMNS} FROM duration_anomalies WHERE {conditions} AND {LATEST} \
             LIMIT 1 BY id"
        );
        let page_sql = format!(
            "SELECT {ANOMALY_COLUMNS} FROM ({deduplicated}) \
             ORDER BY timestamp_ns DESC, deviations DESC, id LIMIT ?, ?"
        );
        let total_sql = format!("SELECT toUInt64(count()) FROM ({deduplicated})");
        let (rows, total): (Vec<AnomalyRow>, u64) = self
            .fetch_page(
                "anomalies",
                &page_sql,
                &total_sql,
                &params,
                query.offset,
                query.limit,
            )
            .await?;
        let anomalies = rows
            .into_iter()
            .map(AnomalyRow::into_anomaly)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AnomalyPage { anomalies, total })
    }

    /// [`crate::Store::dependencies`]: nearest-rank percentiles over the sorted latencies of
    /// each edge, rank ceil(p x n / 100) = (p x n + 99) / 100 in integer arithmetic.
    pub(crate) async fn dependencies_impl(
        &self,
        from_ns: Option<i64>,
        to_ns: Option<i64>,
    ) -> Result<Vec<DependencyStats>, StoreError> {
        let mut conditions = String::from(LATEST);
        let mut params = Vec::new();
        if let Some(from) = from_ns {
            conditions.push_str(" AND timestamp_ns >= ?");
            params.push(Param::I64(from));
        }
        if let Some(to) = to_ns {
            conditions.push_str(" AND timestamp_ns <= ?");
            params.push(Param::I64(to));
        }
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
        let rows: Vec<EdgeRow> = bind_all(self.client.query(&sql), &params)
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

    /// [`crate::Store::recent_trace_features`].
    pub(crate) async fn recent_trace_features_impl(
        &self,
        limit: u32,
    ) -> Result<Vec<(Uuid, String)>, StoreError> {
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

    /// [`crate::Store::save_checkpoint`].
    pub(crate) async fn save_checkpoint_impl(
        &self,
        name: &str,
        payload: &str,
    ) -> Result<(), StoreError> {
        let row = CheckpointRow {
            name: name.to_string(),
            payload: payload.to_string(),
            version: now_version(),
        };
        self.insert_rows("checkpoints", &[row]).await
    }

    /// [`crate::Store::load_checkpoint`].
    pub(crate) async fn load_checkpoint_impl(
        &self,
        name: &str,
    ) -> Result<Option<String>, StoreError> {
        let rows: Vec<String> = self
            .client
            .query("SELECT payload FROM checkpoints WHERE name = ? ORDER BY version DESC LIMIT 1")
            .bind(name)
            .fetch_all()
            .await
            .map_err(self.err("load checkpoint"))?;
        Ok(rows.into_iter().next())
    }

    /// [`crate::Store::save_model`].
    pub(crate) async fn save_model_impl(&self, model: &ModelRecord) -> Result<(), StoreError> {
        let row = ModelRow {
            version: model.version,
            trained_at_ns: model.trained_at_ns,
            trained_on: model.trained_on,
            clusters: clusters_json(model),
            payload: model.payload.clone(),
        };
        self.insert_rows("trace_models", &[row]).await
    }

    /// [`crate::Store::latest_model`].
    pub(crate) async fn latest_model_impl(&self) -> Result<Option<ModelRecord>, StoreError> {
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

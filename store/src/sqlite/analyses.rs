//! Trace analyses in the SQLite store: one transaction replaces a batch of traces' rows;
//! dependencies compute nearest-rank percentiles with window functions in the query.

use async_trait::async_trait;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Transaction};
use uuid::Uuid;

use crate::analyses::{
    clusters_json, model_record, ns_to_ms, parse_grade, parse_id as uuid, parse_kind,
    scores_from_columns, sort_by_deviations, transition_json,
};
use crate::filter::{self, Dialect};
use crate::rows::now_version;
use crate::sqlite::{query_decoded, query_page, read_columns, SqliteStore};
use crate::{
    AnalysisStore, AnomalyPage, AnomalyQuery, DependencyStats, DurationAnomalyRow, ModelRecord,
    StoreError, TimeRange, TraceAnalysis, TraceAnalysisSummary,
};

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Replaces each trace's analysis, all in one transaction: one commit (one WAL sync) for the
/// batch. A transaction per trace made the trace stage's completion wait for a sync per trace
/// (a few milliseconds each, on the one writer connection every other write also waits for).
fn replace_trace_analyses_blocking(
    conn: &mut Connection,
    analyses: &[TraceAnalysis],
) -> Result<(), StoreError> {
    let failed = |e| StoreError::sqlite("replace trace analyses", e);
    let tx = conn.transaction().map_err(failed)?;
    for analysis in analyses {
        replace_trace_analysis_in(&tx, analysis)?;
    }
    tx.commit().map_err(failed)
}

/// Replaces one trace's summary, service calls and anomalies within `tx`.
fn replace_trace_analysis_in(
    tx: &Transaction<'_>,
    analysis: &TraceAnalysis,
) -> Result<(), StoreError> {
    let failed = |e| StoreError::sqlite("replace trace analysis", e);
    let s = &analysis.summary;
    let trace = s.trace_id.to_string();
    for delete in [
        "DELETE FROM service_calls WHERE trace_id = ?1",
        "DELETE FROM duration_anomalies WHERE trace_id = ?1",
    ] {
        tx.prepare_cached(delete)
            .and_then(|mut stmt| stmt.execute([&trace]))
            .map_err(failed)?;
    }
    {
        let mut stmt = tx
            .prepare_cached(
                "INSERT OR REPLACE INTO service_calls (id, trace_id, caller_service, \
                 callee_service, kind, latency_ns, is_error, timestamp_ns) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(failed)?;
        for c in &analysis.calls {
            stmt.execute(params![
                c.id.to_string(),
                trace,
                c.caller_service,
                c.callee_service,
                c.kind,
                to_i64(c.latency_ns),
                c.is_error,
                c.timestamp_ns,
            ])
            .map_err(failed)?;
        }
        let mut stmt = tx
            .prepare_cached(
                "INSERT OR REPLACE INTO duration_anomalies (id, trace_id, event_id, service, kind, \
                 location, actual_ns, expected_ns, deviations, severity, baseline_samples, \
                 flagged_steps, timestamp_ns, anomaly_kind, transition) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )
            .map_err(failed)?;
        for a in &analysis.anomalies {
            stmt.execute(params![
                a.id.to_string(),
                trace,
                a.event_id.to_string(),
                a.service,
                a.kind,
                a.location,
                to_i64(a.actual_ns),
                to_i64(a.expected_ns),
                a.deviations,
                a.severity.as_str(),
                to_i64(a.baseline_samples),
                a.flagged_steps,
                a.timestamp_ns,
                a.anomaly_kind.as_str(),
                transition_json(a),
            ])
            .map_err(failed)?;
        }
    }
    let scores = s.scores.as_ref();
    tx.prepare_cached(
        "INSERT OR REPLACE INTO trace_analyses (trace_id, start_ns, end_ns, duration_ns, \
         event_count, critical_path_ns, critical_path_share, features, model_version, \
         isolation_score, cluster_id, centroid_distance, relative_distance, analyzed_at_ns) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            trace,
            s.start_ns,
            s.end_ns,
            to_i64(s.duration_ns),
            to_i64(s.event_count),
            to_i64(s.critical_path_ns),
            s.critical_path_share,
            s.features,
            scores.map(|x| to_i64(x.model_version)),
            scores.map(|x| x.isolation_score),
            scores.map(|x| x.cluster),
            scores.map(|x| x.centroid_distance),
            scores.map(|x| x.relative_distance),
            s.analyzed_at_ns,
        ])
    })
    .map_err(failed)?;
    Ok(())
}

/// The raw columns of a summary row (decoded outside rusqlite's callback).
type SummaryColumns = (
    String,
    i64,
    i64,
    i64,
    i64,
    i64,
    f64,
    String,
    Option<i64>,
    Option<f64>,
    Option<u32>,
    Option<f64>,
    Option<f64>,
    i64,
);

fn trace_analysis_blocking(
    conn: &Connection,
    trace_id: Uuid,
) -> Result<Option<TraceAnalysisSummary>, StoreError> {
    let failed = |e| StoreError::sqlite("read trace analysis", e);
    let row: Option<SummaryColumns> = conn
        .prepare_cached(
            "SELECT trace_id, start_ns, end_ns, duration_ns, event_count, critical_path_ns, \
             critical_path_share, features, model_version, isolation_score, cluster_id, \
             centroid_distance, relative_distance, analyzed_at_ns \
             FROM trace_analyses WHERE trace_id = ?1",
        )
        .map_err(failed)?
        .query_row([trace_id.to_string()], read_columns)
        .optional()
        .map_err(failed)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let (
        id,
        start,
        end,
        duration,
        events,
        path,
        share,
        features,
        version,
        isolation,
        cluster,
        distance,
        relative,
        at,
    ) = row;
    let scores = scores_from_columns(version.map(to_u64), isolation, cluster, distance, relative);
    Ok(Some(TraceAnalysisSummary {
        trace_id: uuid("trace analysis", &id)?,
        start_ns: start,
        end_ns: end,
        duration_ns: to_u64(duration),
        event_count: to_u64(events),
        critical_path_ns: to_u64(path),
        critical_path_share: share,
        features,
        scores,
        analyzed_at_ns: at,
    }))
}

const ANOMALY_COLUMNS: &str = "id, trace_id, event_id, service, kind, location, actual_ns, \
    expected_ns, deviations, severity, baseline_samples, flagged_steps, timestamp_ns, anomaly_kind, \
    transition";

type AnomalyColumns = (
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    f64,
    String,
    i64,
    u32,
    i64,
    String,
    String,
);

fn into_anomaly(c: AnomalyColumns) -> Result<DurationAnomalyRow, StoreError> {
    let (
        id,
        trace,
        event,
        service,
        kind,
        location,
        actual,
        expected,
        dev,
        sev,
        n,
        steps,
        ts,
        ak,
        tr,
    ) = c;
    let severity = parse_grade(&id, &sev)?;
    let (anomaly_kind, transition) = parse_kind(&id, &ak, &tr)?;
    Ok(DurationAnomalyRow {
        anomaly_kind,
        transition,
        id: uuid("anomaly", &id)?,
        trace_id: uuid("anomaly", &trace)?,
        event_id: uuid("anomaly", &event)?,
        service,
        kind,
        location,
        actual_ns: to_u64(actual),
        expected_ns: to_u64(expected),
        deviations: dev,
        severity,
        baseline_samples: to_u64(n),
        flagged_steps: steps,
        timestamp_ns: ts,
    })
}

fn trace_anomalies_blocking(
    conn: &Connection,
    trace_id: Uuid,
) -> Result<Vec<DurationAnomalyRow>, StoreError> {
    let sql = format!("SELECT {ANOMALY_COLUMNS} FROM duration_anomalies WHERE trace_id = ?1");
    let mut anomalies = query_decoded(
        conn,
        "read trace anomalies",
        &sql,
        [trace_id.to_string()],
        read_columns,
        into_anomaly,
    )?;
    sort_by_deviations(&mut anomalies);
    Ok(anomalies)
}

fn list_anomalies_blocking(
    conn: &Connection,
    query: &AnomalyQuery,
) -> Result<AnomalyPage, StoreError> {
    let filter = filter::anomalies(Dialect::Sqlite, query);
    let conditions = filter.sql();
    let select_sql = format!("SELECT {ANOMALY_COLUMNS} FROM duration_anomalies WHERE {conditions}");
    let page = (query.limit, query.offset);
    let (anomalies, total) = query_page(
        conn,
        "anomalies",
        (&select_sql, "timestamp_ns DESC, deviations DESC, id"),
        &filter,
        page,
        read_columns,
        into_anomaly,
    )?;
    Ok(AnomalyPage { anomalies, total })
}

/// Nearest-rank percentiles per edge: row numbers by latency within each edge, the row at rank
/// ceil(p x n / 100) = (p x n + 99) / 100 in integer arithmetic; `{conditions}` selects the calls.
const DEPENDENCIES_SQL: &str = "
WITH ranked AS (
    SELECT caller_service, callee_service, kind, latency_ns, is_error,
           ROW_NUMBER() OVER (PARTITION BY caller_service, callee_service, kind
                              ORDER BY latency_ns, id) AS rn,
           COUNT(*) OVER (PARTITION BY caller_service, callee_service, kind) AS n
    FROM service_calls
    WHERE {conditions}
)
SELECT caller_service, callee_service, kind, MAX(n), SUM(is_error),
       MAX(CASE WHEN rn = (50 * n + 99) / 100 THEN latency_ns END),
       MAX(CASE WHEN rn = (95 * n + 99) / 100 THEN latency_ns END),
       MAX(CASE WHEN rn = (99 * n + 99) / 100 THEN latency_ns END)
FROM ranked
GROUP BY caller_service, callee_service, kind
ORDER BY caller_service, callee_service, kind";

fn dependencies_blocking(
    conn: &Connection,
    time: TimeRange,
    environments: &[String],
) -> Result<Vec<DependencyStats>, StoreError> {
    let failed = |e| StoreError::sqlite("read dependencies", e);
    let filter = filter::calls(Dialect::Sqlite, time, environments);
    let sql = DEPENDENCIES_SQL.replace("{conditions}", &filter.sql());
    let mut stmt = conn.prepare_cached(&sql).map_err(failed)?;
    let rows = stmt
        .query_map(params_from_iter(filter.params()), |r| {
            Ok(DependencyStats {
                caller_service: r.get(0)?,
                callee_service: r.get(1)?,
                kind: r.get(2)?,
                calls: to_u64(r.get(3)?),
                errors: to_u64(r.get(4)?),
                p50_ms: ns_to_ms(to_u64(r.get(5)?)),
                p95_ms: ns_to_ms(to_u64(r.get(6)?)),
                p99_ms: ns_to_ms(to_u64(r.get(7)?)),
            })
        })
        .map_err(failed)?;
    rows.map(|r| r.map_err(failed)).collect()
}

fn recent_trace_features_blocking(
    conn: &Connection,
    limit: u32,
) -> Result<Vec<(Uuid, String)>, StoreError> {
    let failed = |e| StoreError::sqlite("read trace features", e);
    let mut stmt = conn
        .prepare_cached(
            "SELECT trace_id, features FROM trace_analyses \
             ORDER BY end_ns DESC, trace_id LIMIT ?1",
        )
        .map_err(failed)?;
    let rows = stmt
        .query_map([limit], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))
        .map_err(failed)?;
    rows.map(|row| {
        let (id, features) = row.map_err(failed)?;
        Ok((uuid("trace analysis", &id)?, features))
    })
    .collect()
}

fn save_checkpoint_blocking(
    conn: &Connection,
    name: &str,
    payload: &str,
    version: u64,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT OR REPLACE INTO checkpoints (name, payload, version) VALUES (?1, ?2, ?3)",
        params![name, payload, to_i64(version)],
    )
    .map(|_| ())
    .map_err(|e| StoreError::sqlite("save checkpoint", e))
}

fn load_checkpoint_blocking(conn: &Connection, name: &str) -> Result<Option<String>, StoreError> {
    conn.query_row(
        "SELECT payload FROM checkpoints WHERE name = ?1",
        [name],
        |r| r.get(0),
    )
    .optional()
    .map_err(|e| StoreError::sqlite("load checkpoint", e))
}

fn save_model_blocking(
    conn: &Connection,
    model: &ModelRecord,
    clusters: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT OR REPLACE INTO trace_models (version, trained_at_ns, trained_on, clusters, \
         payload) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            to_i64(model.version),
            model.trained_at_ns,
            to_i64(model.trained_on),
            clusters,
            model.payload
        ],
    )
    .map(|_| ())
    .map_err(|e| StoreError::sqlite("save model", e))
}

fn latest_model_blocking(conn: &Connection) -> Result<Option<ModelRecord>, StoreError> {
    let row: Option<(i64, i64, i64, String, String)> = conn
        .query_row(
            "SELECT version, trained_at_ns, trained_on, clusters, payload FROM trace_models \
             ORDER BY version DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()
        .map_err(|e| StoreError::sqlite("load model", e))?;
    row.map(|(version, at, on, clusters, payload)| {
        model_record(to_u64(version), at, to_u64(on), &clusters, payload)
    })
    .transpose()
}

#[async_trait]
impl AnalysisStore for SqliteStore {
    async fn replace_trace_analyses(&self, analyses: &[TraceAnalysis]) -> Result<(), StoreError> {
        self.write_rows(analyses, replace_trace_analyses_blocking)
            .await
    }

    async fn trace_analysis(
        &self,
        trace_id: Uuid,
    ) -> Result<Option<TraceAnalysisSummary>, StoreError> {
        self.read(move |conn| trace_analysis_blocking(conn, trace_id))
            .await
    }

    async fn trace_anomalies(&self, trace_id: Uuid) -> Result<Vec<DurationAnomalyRow>, StoreError> {
        self.read(move |conn| trace_anomalies_blocking(conn, trace_id))
            .await
    }

    async fn list_anomalies(&self, query: &AnomalyQuery) -> Result<AnomalyPage, StoreError> {
        let query = query.clone();
        self.read(move |conn| list_anomalies_blocking(conn, &query))
            .await
    }

    async fn dependencies(
        &self,
        time: TimeRange,
        environments: &[String],
    ) -> Result<Vec<DependencyStats>, StoreError> {
        let environments = environments.to_vec();
        self.read(move |conn| dependencies_blocking(conn, time, &environments))
            .await
    }

    async fn recent_trace_features(&self, limit: u32) -> Result<Vec<(Uuid, String)>, StoreError> {
        self.read(move |conn| recent_trace_features_blocking(conn, limit))
            .await
    }

    async fn save_checkpoint(&self, name: &str, payload: &str) -> Result<(), StoreError> {
        let (name, payload) = (name.to_string(), payload.to_string());
        let version = now_version();
        self.call(move |conn| save_checkpoint_blocking(conn, &name, &payload, version))
            .await
    }

    async fn load_checkpoint(&self, name: &str) -> Result<Option<String>, StoreError> {
        let name = name.to_string();
        self.read(move |conn| load_checkpoint_blocking(conn, &name))
            .await
    }

    async fn save_model(&self, model: &ModelRecord) -> Result<(), StoreError> {
        let model = model.clone();
        self.call(move |conn| save_model_blocking(conn, &model, &clusters_json(&model)))
            .await
    }

    async fn latest_model(&self) -> Result<Option<ModelRecord>, StoreError> {
        self.read(latest_model_blocking).await
    }
}

//! The stored trace analyses (computed by the trace stage at trace completion):
//!
//! - `GET /api/dependencies?from=&to=`: global service edges with call and error counts and
//!   latency percentiles, computed by the store over deduplicated rows;
//! - `GET /api/traces/{id}/anomalies`: the trace's duration anomalies (actual vs expected,
//!   baseline sample count) and its isolation-forest and k-means scores;
//! - `GET /api/anomalies?service=&severity=&from=&to=&limit=&offset=`: every trace's anomalies,
//!   newest trace first, `severity` the least grade shown;
//! - `GET /api/clusters`: the current model's k-means clusters with sizes and a representative
//!   trace.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::Json;
use raceway_store::{AnalysisStore, AnomalyGrade, AnomalyQuery, DurationAnomalyRow, TimeRange};
use serde_json::{json, Value};

use crate::params;
use crate::traces::{rfc3339, DEFAULT_PAGE, MAX_PAGE};
use crate::ApiError;

type AppStore = State<Arc<dyn AnalysisStore>>;
type RawQuery = Query<HashMap<String, String>>;

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// Parses a grade (`minor`, `warning`, `critical`).
fn grade(raw: &str) -> Result<AnomalyGrade, ApiError> {
    AnomalyGrade::parse(raw).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unknown severity `{raw}`: expected minor, warning or critical"
        ))
    })
}

/// One anomaly as the API shows it.
fn anomaly_json(a: &DurationAnomalyRow) -> Value {
    json!({
        "id": a.id.to_string(),
        "trace_id": a.trace_id.to_string(),
        "event_id": a.event_id.to_string(),
        "service": a.service,
        "kind": a.kind,
        "location": a.location,
        "actual_ms": ms(a.actual_ns),
        "expected_ms": ms(a.expected_ns),
        "actual_ns": a.actual_ns,
        "expected_ns": a.expected_ns,
        "deviations": a.deviations,
        "severity": a.severity,
        "baseline_samples": a.baseline_samples,
        "flagged_steps": a.flagged_steps,
        "trace_start": rfc3339(a.timestamp_ns),
    })
}

/// `GET /api/dependencies?from=&to=`: `{from, to, dependencies: [{caller, callee, kind, calls,
/// errors, p50_ms, p95_ms, p99_ms}]}` over the calls that started in the range.
pub(crate) async fn dependencies(
    State(store): AppStore,
    Query(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let get = |name: &str| raw.get(name).map(String::as_str);
    let from_ns = params::opt_time_ns("from", get("from"))?;
    let to_ns = params::opt_time_ns("to", get("to"))?;
    params::time_range(from_ns, to_ns)?;
    let edges = store.dependencies(TimeRange::new(from_ns, to_ns)).await?;
    let rows: Vec<Value> = edges
        .iter()
        .map(|edge| {
            json!({
                "caller": edge.caller_service,
                "callee": edge.callee_service,
                "kind": edge.kind,
                "calls": edge.calls,
                "errors": edge.errors,
                "p50_ms": edge.p50_ms,
                "p95_ms": edge.p95_ms,
                "p99_ms": edge.p99_ms,
            })
        })
        .collect();
    Ok(Json(json!({
        "from": from_ns.map(rfc3339),
        "to": to_ns.map(rfc3339),
        "dependencies": rows,
    })))
}

/// `GET /api/traces/{id}/anomalies`: `{trace_id, duration_ms, event_count, critical_path_ms,
/// critical_path_share, analyzed_at, scores, anomalies}`; `scores` is null until a model
/// exists. 404 when the trace was not analysed (yet).
pub(crate) async fn trace_anomalies(
    State(store): AppStore,
    Path(raw_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let trace_id = params::trace_id(&raw_id)?;
    let Some(summary) = store.trace_analysis(trace_id).await? else {
        return Err(ApiError::not_found(format!(
            "trace {trace_id} has not been analysed (unknown, or still assembling)"
        )));
    };
    let anomalies = store.trace_anomalies(trace_id).await?;
    let scores = summary.scores.as_ref().map(|s| {
        json!({
            "model_version": s.model_version,
            "isolation_score": s.isolation_score,
            "cluster": s.cluster,
            "centroid_distance": s.centroid_distance,
            "relative_distance": s.relative_distance,
        })
    });
    Ok(Json(json!({
        "trace_id": trace_id.to_string(),
        "start": rfc3339(summary.start_ns),
        "duration_ms": ms(summary.duration_ns),
        "event_count": summary.event_count,
        "critical_path_ms": ms(summary.critical_path_ns),
        "critical_path_share": summary.critical_path_share,
        "analyzed_at": rfc3339(summary.analyzed_at_ns),
        "scores": scores,
        "anomalies": anomalies.iter().map(anomaly_json).collect::<Vec<_>>(),
    })))
}

/// `GET /api/anomalies?service=&severity=&from=&to=&limit=&offset=`: `{anomalies, total, limit,
/// offset}`, newest trace first; `severity` keeps that grade and worse.
pub(crate) async fn list_anomalies(
    State(store): AppStore,
    Query(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let get = |name: &str| raw.get(name).map(String::as_str);
    let from_ns = params::opt_time_ns("from", get("from"))?;
    let to_ns = params::opt_time_ns("to", get("to"))?;
    params::time_range(from_ns, to_ns)?;
    let query = AnomalyQuery {
        service: get("service").map(str::to_string),
        min_severity: get("severity").map(grade).transpose()?,
        from_ns,
        to_ns,
        limit: params::count("limit", get("limit"), DEFAULT_PAGE, 1, MAX_PAGE)?,
        offset: params::count("offset", get("offset"), 0, 0, u32::MAX)?,
    };
    let page = store.list_anomalies(&query).await?;
    Ok(Json(json!({
        "anomalies": page.anomalies.iter().map(anomaly_json).collect::<Vec<_>>(),
        "total": page.total,
        "limit": query.limit,
        "offset": query.offset,
    })))
}

/// `GET /api/clusters`: `{model_version, trained_at, trained_on, clusters: [{cluster, size,
/// representative_trace, mean_distance}]}`; `model_version` null and no clusters before the
/// first training.
pub(crate) async fn clusters(State(store): AppStore) -> Result<Json<Value>, ApiError> {
    let Some(model) = store.latest_model().await? else {
        return Ok(Json(json!({
            "model_version": null,
            "trained_at": null,
            "trained_on": 0,
            "clusters": [],
        })));
    };
    let clusters: Vec<Value> = model
        .clusters
        .iter()
        .map(|c| {
            json!({
                "cluster": c.cluster,
                "size": c.size,
                "representative_trace": c.representative_trace.to_string(),
                "mean_distance": c.mean_distance,
            })
        })
        .collect();
    Ok(Json(json!({
        "model_version": model.version,
        "trained_at": rfc3339(model.trained_at_ns),
        "trained_on": model.trained_on,
        "clusters": clusters,
    })))
}

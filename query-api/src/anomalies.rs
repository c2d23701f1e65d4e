//! The stored trace analyses (computed by the trace stage at trace completion):
//!
//! - `GET /api/dependencies?from=&to=`: global service edges with call and error counts and
//!   latency percentiles, computed by the store over deduplicated rows;
//! - `GET /api/traces/{id}/anomalies`: the trace's anomalies (`duration`: actual vs expected,
//!   baseline sample count; `unusual_sequence`: the first improbable transition) and its
//!   isolation-forest and k-means scores;
//! - `GET /api/anomalies?service=&severity=&kind=&from=&to=&limit=&offset=`: every trace's
//!   anomalies, newest trace first, `severity` the least grade shown, `kind` one kind only;
//! - `GET /api/clusters`: the current model's k-means clusters with sizes and a representative
//!   trace.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::Json;
use raceway_analysis::trace::DependencyEdge;
use raceway_store::{
    AnalysisStore, AnomalyGrade, AnomalyKind, AnomalyQuery, ClusterRow, DependencyStats,
    DurationAnomalyRow, SequenceTransition, TraceScores,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ListErrors, TraceErrors};
use crate::params::{Listing, Page, PageInfo, TimeRange, TraceId};
use crate::tenant::Scope;
use crate::traces::{rfc3339, TraceIdPath};
use crate::ApiError;

type AppStore = State<Arc<dyn AnalysisStore>>;

pub(crate) fn ms(ns: u64) -> f64 {
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

/// Parses an anomaly kind (`duration`, `unusual_sequence`).
fn anomaly_kind(raw: &str) -> Result<AnomalyKind, ApiError> {
    AnomalyKind::parse(raw).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unknown kind `{raw}`: expected duration or unusual_sequence"
        ))
    })
}

/// One anomaly of a trace. `duration`: a step much slower than its baseline (`kind` and
/// `location` are the step's). `unusual_sequence`: one actor's steps in an order unlike its
/// entry point's training traces (`kind` and `location` are the entry point's, `event_id` the
/// step the first improbable `transition` leads to, `deviations` MADs below the entry point's
/// median score, `baseline_samples` its training sequences, `flagged_steps` the improbable
/// transitions, durations 0).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AnomalyRow {
    pub anomaly_kind: AnomalyKind,
    /// One sentence saying what is unusual, for people.
    pub description: String,
    /// For `unusual_sequence`: the first improbable transition; null otherwise.
    pub transition: Option<SequenceTransition>,
    pub id: String,
    pub trace_id: String,
    pub event_id: String,
    pub service: String,
    pub kind: String,
    pub location: String,
    pub actual_ms: f64,
    pub expected_ms: f64,
    pub actual_ns: u64,
    pub expected_ns: u64,
    /// Scales off the baseline: above the step's median duration (`duration`), below the entry
    /// point's median score (`unusual_sequence`).
    pub deviations: f64,
    /// `minor`, `warning` or `critical`.
    #[schema(value_type = String)]
    pub severity: AnomalyGrade,
    pub baseline_samples: u64,
    pub flagged_steps: u32,
    /// RFC 3339.
    pub trace_start: String,
}

impl From<&DurationAnomalyRow> for AnomalyRow {
    fn from(a: &DurationAnomalyRow) -> Self {
        AnomalyRow {
            anomaly_kind: a.anomaly_kind,
            description: description(a),
            transition: a.transition.clone(),
            id: a.id.to_string(),
            trace_id: a.trace_id.to_string(),
            event_id: a.event_id.to_string(),
            service: a.service.clone(),
            kind: a.kind.clone(),
            location: a.location.clone(),
            actual_ms: ms(a.actual_ns),
            expected_ms: ms(a.expected_ns),
            actual_ns: a.actual_ns,
            expected_ns: a.expected_ns,
            deviations: a.deviations,
            severity: a.severity,
            baseline_samples: a.baseline_samples,
            flagged_steps: a.flagged_steps,
            trace_start: rfc3339(a.timestamp_ns),
        }
    }
}

/// What is unusual about anomaly `a`, in one sentence.
pub fn description(a: &DurationAnomalyRow) -> String {
    match (a.anomaly_kind, &a.transition) {
        (AnomalyKind::UnusualSequence, Some(t)) => format!(
            "unusual sequence from {} {}: {} -> {} has probability {:.3} ({:.1} MADs below the \
             usual score of {} traces)",
            a.kind, a.location, t.from, t.to, t.probability, a.deviations, a.baseline_samples
        ),
        (AnomalyKind::UnusualSequence, None) => format!(
            "unusual sequence from {} {} ({:.1} MADs below the usual score)",
            a.kind, a.location, a.deviations
        ),
        (AnomalyKind::Duration, _) => format!(
            "{} {} took {:.1} ms, expected {:.1} ms ({:.1} deviations)",
            a.kind,
            a.location,
            ms(a.actual_ns),
            ms(a.expected_ns),
            a.deviations
        ),
    }
}

/// The statistics of a trace's edge, as the store computes them over every trace.
pub(crate) fn edge_stats(edge: &DependencyEdge) -> DependencyStats {
    DependencyStats {
        caller_service: edge.caller_service.clone(),
        callee_service: edge.callee_service.clone(),
        kind: edge.kind.as_str().to_string(),
        calls: edge.calls,
        errors: edge.errors,
        p50_ms: edge.p50_ms,
        p95_ms: edge.p95_ms,
        p99_ms: edge.p99_ms,
    }
}

/// `GET /api/dependencies`: the global service graph over a time range.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DependenciesBody {
    /// The range's bounds as given (RFC 3339), null when open.
    pub from: Option<String>,
    pub to: Option<String>,
    pub dependencies: Vec<DependencyStats>,
}

/// `GET /api/dependencies?from=&to=`: the service edges of the calls that started in the range.
#[utoipa::path(get, path = "/api/dependencies", tag = "analyses", params(TimeRange),
    responses((status = 200, body = DependenciesBody), ListErrors))]
pub(crate) async fn dependencies(
    State(store): AppStore,
    scope: Scope,
    Query(range): Query<TimeRange>,
) -> Result<Json<DependenciesBody>, ApiError> {
    let (from_ns, to_ns) = range.parse()?;
    let edges = store
        .dependencies(
            raceway_store::TimeRange::new(from_ns, to_ns),
            &scope.environments(None)?,
        )
        .await?;
    Ok(Json(DependenciesBody {
        from: from_ns.map(rfc3339),
        to: to_ns.map(rfc3339),
        dependencies: edges,
    }))
}

/// A trace's scores under the current trace models.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScoresBody {
    pub model_version: u64,
    /// Isolation-forest score: near 1 is anomalous, near 0.5 ordinary.
    pub isolation_score: f64,
    /// The nearest k-means cluster.
    pub cluster: u32,
    pub centroid_distance: f64,
    /// Distance relative to the cluster's mean distance.
    pub relative_distance: f64,
}

impl From<&TraceScores> for ScoresBody {
    fn from(s: &TraceScores) -> Self {
        ScoresBody {
            model_version: s.model_version,
            isolation_score: s.isolation_score,
            cluster: s.cluster,
            centroid_distance: s.centroid_distance,
            relative_distance: s.relative_distance,
        }
    }
}

/// `GET /api/traces/{id}/anomalies`: the stored analysis of one trace.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TraceAnomalies {
    pub trace_id: String,
    /// When the trace stage analysed it, RFC 3339.
    pub analyzed_at: String,
    /// Its scores under the trace models; null until a model exists.
    pub scores: Option<ScoresBody>,
    /// When the trace started, RFC 3339.
    pub start: String,
    /// First event to end of the last one.
    pub duration_ms: f64,
    /// Length of the critical path.
    pub critical_path_ms: f64,
    /// `critical_path_ms / duration_ms`.
    pub critical_path_share: f64,
    /// Events at completion.
    pub event_count: u64,
    pub anomalies: Vec<AnomalyRow>,
}

/// `GET /api/traces/{id}/anomalies`. 404 when the trace was not analysed (yet).
#[utoipa::path(get, path = "/api/traces/{id}/anomalies", tag = "analyses", params(TraceIdPath),
    responses((status = 200, body = TraceAnomalies), TraceErrors))]
pub(crate) async fn trace_anomalies(
    State(store): AppStore,
    TraceId(trace_id): TraceId,
) -> Result<Json<TraceAnomalies>, ApiError> {
    let Some(summary) = store.trace_analysis(trace_id).await? else {
        return Err(ApiError::not_found(format!(
            "trace {trace_id} has not been analysed (unknown, or still assembling)"
        )));
    };
    let anomalies = store.trace_anomalies(trace_id).await?;
    Ok(Json(TraceAnomalies {
        trace_id: trace_id.to_string(),
        start: rfc3339(summary.start_ns),
        duration_ms: ms(summary.duration_ns),
        event_count: summary.event_count,
        critical_path_ms: ms(summary.critical_path_ns),
        critical_path_share: summary.critical_path_share,
        analyzed_at: rfc3339(summary.analyzed_at_ns),
        scores: summary.scores.as_ref().map(ScoresBody::from),
        anomalies: anomalies.iter().map(AnomalyRow::from).collect(),
    }))
}

/// Filters of `GET /api/anomalies` (with [`TimeRange`] and [`Page`]).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AnomalyParams {
    /// Only anomalies of this service.
    service: Option<String>,
    /// The least grade shown: `minor`, `warning` or `critical`.
    severity: Option<String>,
    /// Only anomalies of this kind: `duration` or `unusual_sequence`.
    kind: Option<String>,
}

/// `GET /api/anomalies`: one page of anomalies, newest trace first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AnomaliesPage {
    pub anomalies: Vec<AnomalyRow>,
    #[serde(flatten)]
    pub page: PageInfo,
}

/// `GET /api/anomalies?service=&severity=&kind=&from=&to=&limit=&offset=`.
#[utoipa::path(get, path = "/api/anomalies", tag = "analyses",
    params(AnomalyParams, TimeRange, Page),
    responses((status = 200, body = AnomaliesPage), ListErrors))]
pub(crate) async fn list_anomalies(
    State(store): AppStore,
    scope: Scope,
    list: Listing<AnomalyParams>,
) -> Result<Json<AnomaliesPage>, ApiError> {
    let query = AnomalyQuery {
        environments: scope.environments(None)?,
        min_severity: list.filters.severity.as_deref().map(grade).transpose()?,
        anomaly_kind: list.filters.kind.as_deref().map(anomaly_kind).transpose()?,
        service: list.filters.service.clone(),
        from_ns: list.from_ns,
        to_ns: list.to_ns,
        limit: list.limit,
        offset: list.offset,
    };
    let page = store.list_anomalies(&query).await?;
    Ok(Json(AnomaliesPage {
        anomalies: page.anomalies.iter().map(AnomalyRow::from).collect(),
        page: list.info(page.total),
    }))
}

/// One k-means cluster of the trace model.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClusterBody {
    pub cluster: u32,
    pub size: u64,
    pub representative_trace: String,
    pub mean_distance: f64,
}

impl From<&ClusterRow> for ClusterBody {
    fn from(c: &ClusterRow) -> Self {
        ClusterBody {
            cluster: c.cluster,
            size: c.size,
            representative_trace: c.representative_trace.to_string(),
            mean_distance: c.mean_distance,
        }
    }
}

/// `GET /api/clusters`: the current trace model.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClustersBody {
    /// Null before the first training.
    pub model_version: Option<u64>,
    /// RFC 3339, null before the first training.
    pub trained_at: Option<String>,
    /// Traces the model was trained on.
    pub trained_on: u64,
    pub clusters: Vec<ClusterBody>,
}

/// `GET /api/clusters`: the current model's clusters; none before the first training. The
/// model spans every environment: 403 for a caller confined to a tenant.
#[utoipa::path(get, path = "/api/clusters", tag = "analyses",
    responses((status = 200, body = ClustersBody), ListErrors))]
pub(crate) async fn clusters(
    State(store): AppStore,
    scope: Scope,
) -> Result<Json<ClustersBody>, ApiError> {
    scope.require_everything("the trace model")?;
    let model = store.latest_model().await?;
    Ok(Json(match model {
        None => ClustersBody {
            model_version: None,
            trained_at: None,
            trained_on: 0,
            clusters: Vec::new(),
        },
        Some(model) => ClustersBody {
            model_version: Some(model.version),
            trained_at: Some(rfc3339(model.trained_at_ns)),
            trained_on: model.trained_on,
            clusters: model.clusters.iter().map(ClusterBody::from).collect(),
        },
    }))
}

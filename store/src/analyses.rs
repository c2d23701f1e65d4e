//! The stored results of the trace analyses: one summary per completed trace, its
//! calls between services, its duration anomalies, and the state the trace stage checkpoints
//! (duration baselines, trace models).
//!
//! These are the store's own row types: the runtime converts the analysis crate's results into
//! them, so the store depends on nothing but `raceway-schemas`. Numbers of the models (features,
//! model payloads) are opaque JSON text here.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Everything the trace stage stores for one analysis of one trace.
/// [`crate::AnalysisStore::replace_trace_analysis`] replaces the trace's previous summary, calls and
/// anomalies with these, so a re-analysed trace keeps only its latest results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceAnalysis {
    /// The trace's summary.
    pub summary: TraceAnalysisSummary,
    /// Its calls between services; every row's `trace_id` is the summary's.
    pub calls: Vec<ServiceCallRow>,
    /// Its duration anomalies; every row's `trace_id` is the summary's.
    pub anomalies: Vec<DurationAnomalyRow>,
}

/// The summary of one analysed trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceAnalysisSummary {
    /// The trace.
    pub trace_id: Uuid,
    /// Its first event, ns since the epoch.
    pub start_ns: i64,
    /// Its last event (or the end of the longest step), ns since the epoch.
    pub end_ns: i64,
    /// Wall-clock duration, ns.
    pub duration_ns: u64,
    /// Distinct events analysed.
    pub event_count: u64,
    /// Total duration of the critical path, ns.
    pub critical_path_ns: u64,
    /// The critical path's share of the wall-clock duration (0 to 1).
    pub critical_path_share: f64,
    /// The trace's model features, as JSON text (the analysis crate's `TraceFeatures`).
    pub features: String,
    /// The trace's scores under the model current at analysis time; none before a model exists.
    pub scores: Option<TraceScores>,
    /// When the analysis ran, ns since the epoch.
    pub analyzed_at_ns: i64,
}

/// The scores of one trace under one model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceScores {
    /// The model version that scored it.
    pub model_version: u64,
    /// Isolation-forest score in (0, 1]: near 1 is unusual.
    pub isolation_score: f64,
    /// The nearest k-means cluster.
    pub cluster: u32,
    /// Distance to that cluster's centroid (standardised units).
    pub centroid_distance: f64,
    /// `centroid_distance` over the cluster's mean member distance.
    pub relative_distance: f64,
}

/// One call from one service to another in one trace. Deterministic `id`, so a replayed
/// analysis writes the same rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceCallRow {
    /// Deterministic id of the call.
    pub id: Uuid,
    /// The trace.
    pub trace_id: Uuid,
    /// The calling service.
    pub caller_service: String,
    /// The called service.
    pub callee_service: String,
    /// How it called (`http`, `message`).
    pub kind: String,
    /// How long the call took, ns.
    pub latency_ns: u64,
    /// True when the call failed.
    pub is_error: bool,
    /// When the call started, ns since the epoch.
    pub timestamp_ns: i64,
}

/// Calls from one service to another, aggregated over deduplicated rows at query time. The
/// query API serves it as is (`caller`, `callee`, ...), named `DependencyRow` in its document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = DependencyRow))]
pub struct DependencyStats {
    /// The calling service.
    #[serde(rename = "caller")]
    pub caller_service: String,
    /// The called service.
    #[serde(rename = "callee")]
    pub callee_service: String,
    /// How it called (`http`, `message`).
    pub kind: String,
    /// Distinct calls.
    pub calls: u64,
    /// How many of them failed.
    pub errors: u64,
    /// Median latency, ms (nearest rank).
    pub p50_ms: f64,
    /// 95th percentile latency, ms (nearest rank).
    pub p95_ms: f64,
    /// 99th percentile latency, ms (nearest rank).
    pub p99_ms: f64,
}

/// The grade of a duration anomaly: minor 2-3, warning 3-5, critical above 5 deviations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyGrade {
    /// 2 to 3 deviations.
    Minor,
    /// 3 to 5 deviations.
    Warning,
    /// Above 5 deviations.
    Critical,
}

impl AnomalyGrade {
    /// Every grade, mildest first.
    pub const ALL: [AnomalyGrade; 3] = [
        AnomalyGrade::Minor,
        AnomalyGrade::Warning,
        AnomalyGrade::Critical,
    ];

    /// The stored and serialised name: `minor`, `warning`, `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyGrade::Minor => "minor",
            AnomalyGrade::Warning => "warning",
            AnomalyGrade::Critical => "critical",
        }
    }

    /// The grade named `name` ([`AnomalyGrade::as_str`]).
    pub fn parse(name: &str) -> Option<AnomalyGrade> {
        Self::ALL.into_iter().find(|g| g.as_str() == name)
    }
}

/// What an anomaly is about: `duration` (a step slower than its baseline) or `unusual_sequence`
/// (an actor's steps in an order unlike its entry point's usual ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// A step slower than its baseline.
    #[default]
    Duration,
    /// An actor's steps in an order unlike its entry point's usual ones.
    UnusualSequence,
}

impl AnomalyKind {
    /// Every kind.
    pub const ALL: [AnomalyKind; 2] = [AnomalyKind::Duration, AnomalyKind::UnusualSequence];

    /// The stored and serialised name: `duration`, `unusual_sequence`.
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyKind::Duration => "duration",
            AnomalyKind::UnusualSequence => "unusual_sequence",
        }
    }

    /// The kind named `name` ([`AnomalyKind::as_str`]).
    pub fn parse(name: &str) -> Option<AnomalyKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// The first improbable transition of an unusual sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SequenceTransition {
    /// The earlier step, `kind:location`.
    pub from: String,
    /// The next step, `kind:location`, or `$end` when the sequence stopped there.
    pub to: String,
    /// Its probability under the entry point's model.
    pub probability: f64,
}

/// One anomaly of a trace. `duration`: a step slower than its baseline, one row per (trace,
/// service, kind, location). `unusual_sequence`: one actor's steps unlike its entry point's
/// (one row per (trace, service, entry point, thread)), where `kind` and `location` are the entry
/// point's, `event_id` is the event of the first improbable `transition`, `deviations` counts
/// MADs below the entry point's median score, `baseline_samples` its training sequences,
/// `flagged_steps` the sequence's improbable transitions, and the durations are 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DurationAnomalyRow {
    /// What the anomaly is about.
    #[serde(default)]
    pub anomaly_kind: AnomalyKind,
    /// Deterministic id: (trace, key).
    pub id: Uuid,
    /// The trace.
    pub trace_id: Uuid,
    /// The slowest deviating step.
    pub event_id: Uuid,
    /// The step's service.
    pub service: String,
    /// The step's event kind.
    pub kind: String,
    /// The step's location.
    pub location: String,
    /// The step's duration, ns.
    pub actual_ns: u64,
    /// The baseline's median, ns.
    pub expected_ns: u64,
    /// How many scales slower than expected.
    pub deviations: f64,
    /// Grade of `deviations`.
    pub severity: AnomalyGrade,
    /// Samples the baseline stands for.
    pub baseline_samples: u64,
    /// Steps of the trace under this key at or above the minor threshold.
    pub flagged_steps: u32,
    /// For `unusual_sequence`: the first improbable transition.
    #[serde(default)]
    pub transition: Option<SequenceTransition>,
    /// When the trace started, ns since the epoch (for time filters and ordering).
    pub timestamp_ns: i64,
}

/// Which anomalies [`crate::AnalysisStore::list_anomalies`] returns. Every filter that is `Some` must
/// match. Deserializes with defaults, like [`crate::TraceQuery`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnomalyQuery {
    /// Only anomalies of this service.
    pub service: Option<String>,
    /// Only anomalies of this grade or worse.
    pub min_severity: Option<AnomalyGrade>,
    /// Only anomalies of this kind.
    pub anomaly_kind: Option<AnomalyKind>,
    /// Only anomalies of traces whose every event is in one of these environments (a
    /// tenant's); empty: every trace.
    pub environments: Vec<String>,
    /// Only anomalies of traces started at or after this time (ns since epoch).
    pub from_ns: Option<i64>,
    /// Only anomalies of traces started at or before this time (ns since epoch).
    pub to_ns: Option<i64>,
    /// At most this many anomalies in the page.
    pub limit: u32,
    /// Skip this many matching anomalies first.
    pub offset: u32,
}

impl AnomalyQuery {
    /// The time filter of the query.
    pub fn time(&self) -> crate::TimeRange {
        crate::TimeRange::new(self.from_ns, self.to_ns)
    }

    /// The page size of [`AnomalyQuery::default`].
    pub const DEFAULT_LIMIT: u32 = 50;
}

impl Default for AnomalyQuery {
    fn default() -> Self {
        AnomalyQuery {
            service: None,
            min_severity: None,
            anomaly_kind: None,
            environments: Vec::new(),
            from_ns: None,
            to_ns: None,
            limit: Self::DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

/// A page of [`crate::AnalysisStore::list_anomalies`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyPage {
    /// Newest trace first; ties by deviations (largest first), then id.
    pub anomalies: Vec<DurationAnomalyRow>,
    /// How many anomalies match the filters, regardless of `limit` and `offset`.
    pub total: u64,
}

/// One k-means cluster of a trace model, as `GET /api/clusters` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterRow {
    /// The cluster's number.
    pub cluster: u32,
    /// Training traces in it.
    pub size: u64,
    /// The member nearest the centroid.
    pub representative_trace: Uuid,
    /// Mean distance of the members to the centroid (standardised units).
    pub mean_distance: f64,
}

/// One version of the trace models, persisted by the trace stage after each retraining.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRecord {
    /// Strictly increasing; the largest is the current model.
    pub version: u64,
    /// When it was trained, ns since the epoch.
    pub trained_at_ns: i64,
    /// How many traces it was trained on.
    pub trained_on: u64,
    /// Its k-means clusters.
    pub clusters: Vec<ClusterRow>,
    /// The model itself, as JSON text (the analysis crate's `TraceModels`).
    pub payload: String,
}

/// Sorts anomalies the way [`crate::AnalysisStore::trace_anomalies`] promises: deviations desc, id.
pub(crate) fn sort_by_deviations(anomalies: &mut [DurationAnomalyRow]) {
    anomalies.sort_by(|a, b| {
        b.deviations
            .total_cmp(&a.deviations)
            .then_with(|| a.id.cmp(&b.id))
    });
}

/// The grade names at or above `min` (all when `None`), for `IN (...)` filters.
pub(crate) fn grades_at_least(min: Option<AnomalyGrade>) -> Vec<&'static str> {
    AnomalyGrade::ALL
        .into_iter()
        .filter(|g| min.is_none_or(|m| *g >= m))
        .map(AnomalyGrade::as_str)
        .collect()
}

/// ns to ms.
pub(crate) fn ns_to_ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// A [`ModelRecord`] from its columns; `clusters` is JSON text.
pub(crate) fn model_record(
    version: u64,
    trained_at_ns: i64,
    trained_on: u64,
    clusters: &str,
    payload: String,
) -> Result<ModelRecord, crate::StoreError> {
    let clusters: Vec<ClusterRow> =
        serde_json::from_str(clusters).map_err(|e| crate::StoreError::Corrupt {
            what: "model",
            id: version.to_string(),
            message: format!("clusters are not JSON: {e}"),
        })?;
    Ok(ModelRecord {
        version,
        trained_at_ns,
        trained_on,
        clusters,
        payload,
    })
}

/// The clusters of a model as stored: JSON text.
pub(crate) fn clusters_json(model: &ModelRecord) -> String {
    serde_json::json!(model.clusters).to_string()
}

/// Parses a stored id of a `what` row.
pub(crate) fn parse_id(what: &'static str, text: &str) -> Result<Uuid, crate::StoreError> {
    Uuid::parse_str(text).map_err(|e| crate::StoreError::Corrupt {
        what,
        id: text.to_string(),
        message: e.to_string(),
    })
}

/// The stored kind and transition (JSON text, empty for none) of anomaly `id`.
pub(crate) fn parse_kind(
    id: &str,
    kind: &str,
    transition: &str,
) -> Result<(AnomalyKind, Option<SequenceTransition>), crate::StoreError> {
    let corrupt = |message: String| crate::StoreError::Corrupt {
        what: "anomaly",
        id: id.to_string(),
        message,
    };
    let kind = AnomalyKind::parse(kind).ok_or_else(|| corrupt(format!("unknown kind {kind:?}")))?;
    if transition.is_empty() {
        return Ok((kind, None));
    }
    let transition = serde_json::from_str(transition)
        .map_err(|e| corrupt(format!("transition is not JSON: {e}")))?;
    Ok((kind, Some(transition)))
}

/// The transition of an anomaly as stored: JSON text, empty for none.
pub(crate) fn transition_json(anomaly: &DurationAnomalyRow) -> String {
    anomaly
        .transition
        .as_ref()
        .map(|t| serde_json::json!(t).to_string())
        .unwrap_or_default()
}

/// Parses the stored grade of anomaly `id`.
pub(crate) fn parse_grade(id: &str, text: &str) -> Result<AnomalyGrade, crate::StoreError> {
    AnomalyGrade::parse(text).ok_or_else(|| crate::StoreError::Corrupt {
        what: "anomaly",
        id: id.to_string(),
        message: format!("unknown severity {text:?}"),
    })
}

/// The scores of a summary from their nullable columns: all present, or none.
pub(crate) fn scores_from_columns(
    model_version: Option<u64>,
    isolation_score: Option<f64>,
    cluster: Option<u32>,
    centroid_distance: Option<f64>,
    relative_distance: Option<f64>,
) -> Option<TraceScores> {
    Some(TraceScores {
        model_version: model_version?,
        isolation_score: isolation_score?,
        cluster: cluster?,
        centroid_distance: centroid_distance?,
        relative_distance: relative_distance?,
    })
}

//! Row types of the analysis tables of the ClickHouse store (migrations 0003 and 0005; RowBinary, so
//! field order = column order) and their conversions.

use ::clickhouse::Row;
use serde::{Deserialize, Serialize};

use crate::analyses::{
    parse_grade, parse_id as uuid, parse_kind, scores_from_columns, transition_json,
};
use crate::{DurationAnomalyRow, StoreError, TraceAnalysisSummary};

/// A row of `trace_analyses`.
#[derive(Debug, Row, Serialize, Deserialize)]
pub(crate) struct AnalysisRow {
    pub trace_id: String,
    pub start_ns: i64,
    pub end_ns: i64,
    pub duration_ns: u64,
    pub event_count: u64,
    pub critical_path_ns: u64,
    pub critical_path_share: f64,
    pub features: String,
    pub model_version: Option<u64>,
    pub isolation_score: Option<f64>,
    pub cluster_id: Option<u32>,
    pub centroid_distance: Option<f64>,
    pub relative_distance: Option<f64>,
    pub analyzed_at_ns: i64,
    pub version: u64,
}

pub(crate) const ANALYSIS_COLUMNS: &str = "trace_id, start_ns, end_ns, duration_ns, event_count, \
    critical_path_ns, critical_path_share, features, model_version, isolation_score, cluster_id, \
    centroid_distance, relative_distance, analyzed_at_ns, version";

impl AnalysisRow {
    pub(crate) fn new(s: &TraceAnalysisSummary, version: u64) -> Self {
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

    pub(crate) fn into_summary(self) -> Result<TraceAnalysisSummary, StoreError> {
        let scores = scores_from_columns(
            self.model_version,
            self.isolation_score,
            self.cluster_id,
            self.centroid_distance,
            self.relative_distance,
        );
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
pub(crate) struct CallRow {
    pub id: String,
    pub trace_id: String,
    pub caller_service: String,
    pub callee_service: String,
    pub kind: String,
    pub latency_ns: u64,
    pub is_error: u8,
    pub timestamp_ns: i64,
    pub version: u64,
}

/// A row of `duration_anomalies`.
#[derive(Debug, Row, Serialize, Deserialize)]
pub(crate) struct AnomalyRow {
    pub id: String,
    pub trace_id: String,
    pub event_id: String,
    pub service: String,
    pub kind: String,
    pub location: String,
    pub actual_ns: u64,
    pub expected_ns: u64,
    pub deviations: f64,
    pub severity: String,
    pub baseline_samples: u64,
    pub flagged_steps: u32,
    pub timestamp_ns: i64,
    pub version: u64,
    pub anomaly_kind: String,
    pub transition: String,
}

pub(crate) const ANOMALY_COLUMNS: &str =
    "id, trace_id, event_id, service, kind, location, actual_ns, \
    expected_ns, deviations, severity, baseline_samples, flagged_steps, timestamp_ns, version, \
    anomaly_kind, transition";

impl AnomalyRow {
    pub(crate) fn new(a: &DurationAnomalyRow, version: u64) -> Self {
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
            anomaly_kind: a.anomaly_kind.as_str().to_string(),
            transition: transition_json(a),
        }
    }

    pub(crate) fn into_anomaly(self) -> Result<DurationAnomalyRow, StoreError> {
        let severity = parse_grade(&self.id, &self.severity)?;
        let (anomaly_kind, transition) =
            parse_kind(&self.id, &self.anomaly_kind, &self.transition)?;
        Ok(DurationAnomalyRow {
            anomaly_kind,
            transition,
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
pub(crate) struct EdgeRow {
    pub caller_service: String,
    pub callee_service: String,
    pub kind: String,
    pub calls: u64,
    pub errors: u64,
    pub p50: u64,
    pub p95: u64,
    pub p99: u64,
}

/// A trace's features, as [`crate::Store::recent_trace_features`] reads them.
#[derive(Debug, Row, Deserialize)]
pub(crate) struct FeaturesRow {
    pub trace_id: String,
    pub features: String,
}

/// A row of `checkpoints`.
#[derive(Debug, Row, Serialize, Deserialize)]
pub(crate) struct CheckpointRow {
    pub name: String,
    pub payload: String,
    pub version: u64,
}

/// A row of `trace_models`.
#[derive(Debug, Row, Serialize, Deserialize)]
pub(crate) struct ModelRow {
    pub version: u64,
    pub trained_at_ns: i64,
    pub trained_on: u64,
    pub clusters: String,
    pub payload: String,
}

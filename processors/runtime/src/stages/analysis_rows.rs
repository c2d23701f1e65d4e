//! Conversions from the analysis crate's results to the store's rows (the store depends on no
//! analysis type, so the runtime translates).

use raceway_analysis::anomalies::{
    AnomalySeverity, ClusterSummary, DurationAnomaly, SequenceAnomaly, TraceScore, TrainingInputs,
};
use raceway_analysis::trace::{ServiceCall, TraceReport};
use raceway_store::{
    AnomalyGrade, AnomalyKind, ClusterRow, DurationAnomalyRow, SequenceTransition, ServiceCallRow,
    TraceAnalysisSummary, TraceScores,
};

/// The store's row of one service call.
pub(crate) fn call_row(call: &ServiceCall) -> ServiceCallRow {
    ServiceCallRow {
        id: call.id,
        trace_id: call.trace_id,
        caller_service: call.caller_service.clone(),
        callee_service: call.callee_service.clone(),
        kind: call.kind.as_str().to_string(),
        latency_ns: call.latency_ns,
        is_error: call.is_error,
        timestamp_ns: call.timestamp_ns,
    }
}

/// The store's grade of an anomaly severity.
pub(crate) fn grade(severity: AnomalySeverity) -> AnomalyGrade {
    match severity {
        AnomalySeverity::Minor => AnomalyGrade::Minor,
        AnomalySeverity::Warning => AnomalyGrade::Warning,
        AnomalySeverity::Critical => AnomalyGrade::Critical,
    }
}

/// The store's row of one duration anomaly of a trace that started at `trace_start_ns`.
pub(crate) fn anomaly_row(anomaly: &DurationAnomaly, trace_start_ns: i64) -> DurationAnomalyRow {
    DurationAnomalyRow {
        anomaly_kind: AnomalyKind::Duration,
        id: anomaly.id,
        trace_id: anomaly.trace_id,
        event_id: anomaly.event_id,
        service: anomaly.key.service.clone(),
        kind: anomaly.key.kind.clone(),
        location: anomaly.key.location.clone(),
        actual_ns: anomaly.actual_ns,
        expected_ns: anomaly.expected_ns,
        deviations: anomaly.deviations,
        severity: grade(anomaly.severity),
        baseline_samples: anomaly.baseline_samples,
        flagged_steps: anomaly.flagged_steps,
        transition: None,
        timestamp_ns: trace_start_ns,
    }
}

/// The store's row of one unusual sequence of a trace that started at `trace_start_ns`: the entry
/// point's kind and location, the first improbable transition and the event it leads to.
pub(crate) fn sequence_row(anomaly: &SequenceAnomaly, trace_start_ns: i64) -> DurationAnomalyRow {
    let entry = &anomaly.key.entry;
    let (kind, location) = entry.split_once(':').unwrap_or((entry.as_str(), ""));
    let t = &anomaly.transition;
    DurationAnomalyRow {
        anomaly_kind: AnomalyKind::UnusualSequence,
        id: anomaly.id,
        trace_id: anomaly.trace_id,
        event_id: t.event_id,
        service: anomaly.key.service.clone(),
        kind: kind.to_string(),
        location: location.to_string(),
        actual_ns: 0,
        expected_ns: 0,
        deviations: anomaly.deviations,
        severity: grade(anomaly.severity),
        baseline_samples: anomaly.training_sequences as u64,
        flagged_steps: anomaly.improbable_transitions,
        transition: Some(SequenceTransition {
            from: t.from.clone(),
            to: t.to.clone(),
            probability: t.probability,
        }),
        timestamp_ns: trace_start_ns,
    }
}

/// The store's scores of a trace.
pub(crate) fn scores(score: &TraceScore) -> TraceScores {
    TraceScores {
        model_version: score.model_version,
        isolation_score: score.isolation_score,
        cluster: u32::try_from(score.cluster).unwrap_or(u32::MAX),
        centroid_distance: score.centroid_distance,
        relative_distance: score.relative_distance,
    }
}

/// The store's summary of a trace's report.
pub(crate) fn summary(
    report: &TraceReport,
    event_count: usize,
    inputs: &TrainingInputs,
    score: Option<&TraceScore>,
    analyzed_at_ns: i64,
) -> TraceAnalysisSummary {
    let tree = &report.tree;
    TraceAnalysisSummary {
        trace_id: tree.trace_id,
        start_ns: tree.start_ns,
        end_ns: tree.end_ns,
        duration_ns: tree.wall_clock_ns(),
        event_count: event_count as u64,
        critical_path_ns: report.critical_path.total_duration_ns,
        critical_path_share: report.critical_path.share_of_trace,
        // Numbers, strings and a UUID always serialise.
        features: serde_json::to_string(inputs).unwrap_or_default(),
        scores: score.map(scores),
        analyzed_at_ns,
    }
}

/// The store's row of one k-means cluster.
pub(crate) fn cluster_row(cluster: &ClusterSummary) -> ClusterRow {
    ClusterRow {
        cluster: u32::try_from(cluster.cluster).unwrap_or(u32::MAX),
        size: cluster.size as u64,
        representative_trace: cluster.representative_trace,
        mean_distance: cluster.mean_distance,
    }
}

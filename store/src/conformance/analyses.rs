//! Checks of the stored trace analyses: summaries, service calls and dependencies, anomalies
//! (duration and unusual sequences), checkpoints and model versions.

use super::*;
use crate::{
    AnomalyGrade, AnomalyKind, AnomalyQuery, ClusterRow, DurationAnomalyRow, ModelRecord,
    SequenceTransition, ServiceCallRow, TraceAnalysis, TraceAnalysisSummary, TraceScores,
};

const MS: i64 = 1_000_000;

/// An analysis of `trace` started at `BASE_NS + start_offset_ns`, without calls or anomalies.
pub fn analysis(trace: Uuid, start_offset_ns: i64) -> TraceAnalysis {
    TraceAnalysis {
        summary: TraceAnalysisSummary {
            trace_id: trace,
            start_ns: BASE_NS + start_offset_ns,
            end_ns: BASE_NS + start_offset_ns + 25 * MS,
            duration_ns: 25_000_000,
            event_count: 7,
            critical_path_ns: 20_000_000,
            critical_path_share: 0.8,
            features: r#"{"events":7,"services":2}"#.into(),
            scores: Some(TraceScores {
                model_version: 3,
                isolation_score: 0.625,
                cluster: 1,
                centroid_distance: 1.5,
                relative_distance: 0.75,
            }),
            analyzed_at_ns: BASE_NS + SECOND,
        },
        calls: Vec::new(),
        anomalies: Vec::new(),
    }
}

/// A call of `trace` from `caller` to `callee` taking `latency_ms`, at `BASE_NS + offset_ns`.
pub fn call(
    trace: Uuid,
    caller: &str,
    callee: &str,
    latency_ms: u64,
    offset_ns: i64,
) -> ServiceCallRow {
    ServiceCallRow {
        id: Uuid::new_v4(),
        trace_id: trace,
        caller_service: caller.into(),
        callee_service: callee.into(),
        kind: "http".into(),
        latency_ns: latency_ms * 1_000_000,
        is_error: false,
        timestamp_ns: BASE_NS + offset_ns,
    }
}

/// A duration anomaly of `trace` on `service` with `deviations` and the matching grade.
pub fn anomaly(trace: Uuid, service: &str, deviations: f64, start_ns: i64) -> DurationAnomalyRow {
    let severity = if deviations > 5.0 {
        AnomalyGrade::Critical
    } else if deviations >= 3.0 {
        AnomalyGrade::Warning
    } else {
        AnomalyGrade::Minor
    };
    DurationAnomalyRow {
        anomaly_kind: AnomalyKind::Duration,
        id: Uuid::new_v4(),
        trace_id: trace,
        event_id: Uuid::new_v4(),
        service: service.into(),
        kind: "FunctionCall".into(),
        location: "bank::transfer 'x'".into(),
        actual_ns: 60_000_000,
        expected_ns: 10_000_000,
        deviations,
        severity,
        baseline_samples: 30,
        flagged_steps: 1,
        transition: None,
        timestamp_ns: start_ns,
    }
}

/// An unusual sequence of `trace` on `service`, `deviations` MADs below its median.
pub fn sequence_anomaly(
    trace: Uuid,
    service: &str,
    deviations: f64,
    start_ns: i64,
) -> DurationAnomalyRow {
    DurationAnomalyRow {
        anomaly_kind: AnomalyKind::UnusualSequence,
        kind: "HttpRequest".into(),
        location: "POST /transfer".into(),
        actual_ns: 0,
        expected_ns: 0,
        baseline_samples: 100,
        flagged_steps: 2,
        transition: Some(SequenceTransition {
            from: "StateRead:account.rs:11".into(),
            to: "StateChange:account.rs:30 \"ü\"".into(),
            probability: 0.0107,
        }),
        ..anomaly(trace, service, deviations, start_ns)
    }
}

fn sorted_by_deviations(mut anomalies: Vec<DurationAnomalyRow>) -> Vec<DurationAnomalyRow> {
    crate::analyses::sort_by_deviations(&mut anomalies);
    anomalies
}

/// Every field of a summary and of its anomalies survives the store; a trace never analysed
/// has none; a summary without scores reads back without scores.
pub async fn trace_analysis_round_trip(store: &dyn Store) {
    let trace = Uuid::new_v4();
    let mut a = analysis(trace, 0);
    let start = a.summary.start_ns;
    a.anomalies = vec![
        anomaly(trace, "bank", 2.5, start),
        anomaly(trace, "ledger ünïcode", 7.25, start),
        sequence_anomaly(trace, "bank", 33.5, start),
    ];
    a.calls = vec![call(trace, "api", "bank", 5, 0)];
    store.replace_trace_analysis(&a).await.expect("replace");
    assert_eq!(
        store.trace_analysis(trace).await.expect("read"),
        Some(a.summary.clone())
    );
    assert_eq!(
        store.trace_anomalies(trace).await.expect("anomalies"),
        sorted_by_deviations(a.anomalies.clone())
    );
    let none = Uuid::new_v4();
    assert_eq!(store.trace_analysis(none).await.expect("read"), None);
    assert!(store.trace_anomalies(none).await.expect("none").is_empty());

    let unscored = Uuid::new_v4();
    let mut b = analysis(unscored, SECOND);
    b.summary.scores = None;
    store.replace_trace_analysis(&b).await.expect("replace");
    assert_eq!(
        store.trace_analysis(unscored).await.expect("read"),
        Some(b.summary)
    );
}

/// A re-analysis replaces the trace's summary, calls and anomalies: rows the new analysis no
/// longer has disappear from every read.
pub async fn replace_trace_analysis_replaces_previous(store: &dyn Store) {
    let trace = Uuid::new_v4();
    let mut first = analysis(trace, 0);
    let start = first.summary.start_ns;
    first.calls = (0..3).map(|i| call(trace, "api", "bank", 10, i)).collect();
    first.anomalies = vec![
        anomaly(trace, "bank", 6.0, start),
        anomaly(trace, "api", 2.0, start),
    ];
    store.replace_trace_analysis(&first).await.expect("first");
    let mut second = analysis(trace, 0);
    second.summary.event_count = 9;
    second.calls = vec![call(trace, "api", "ledger", 4, 0)];
    second.anomalies = vec![anomaly(trace, "ledger", 3.5, start)];
    store.replace_trace_analysis(&second).await.expect("second");

    assert_eq!(
        store.trace_analysis(trace).await.expect("read"),
        Some(second.summary.clone())
    );
    assert_eq!(
        store.trace_anomalies(trace).await.expect("anomalies"),
        second.anomalies
    );
    let edges = store.dependencies(TimeRange::ALL, &[]).await.expect("deps");
    assert_eq!(edges.len(), 1, "{edges:?}");
    assert_eq!(
        (edges[0].callee_service.as_str(), edges[0].calls),
        ("ledger", 1)
    );
    let page = store
        .list_anomalies(&AnomalyQuery::default())
        .await
        .expect("list");
    assert_eq!(page.total, 1);
    assert_eq!(page.anomalies, second.anomalies);
}

/// Edges count distinct calls and errors with nearest-rank percentiles, filter by time, and
/// replayed analyses (the same rows written again) don't double any count.
pub async fn dependencies_count_once_with_percentiles(store: &dyn Store) {
    let a = Uuid::new_v4();
    let mut first = analysis(a, 0);
    first.calls = (1..=100u64)
        .map(|ms| {
            let mut c = call(a, "api", "bank", ms, ms as i64 * MS);
            c.is_error = ms % 10 == 0;
            c
        })
        .collect();
    let b = Uuid::new_v4();
    let mut second = analysis(b, 0);
    second.calls = (0..3)
        .map(|i| {
            let mut c = call(b, "api", "audit", 7, i);
            c.kind = "message".into();
            c
        })
        .collect();
    for _ in 0..3 {
        store.replace_trace_analysis(&first).await.expect("a");
        store.replace_trace_analysis(&second).await.expect("b");
    }
    let edges = store.dependencies(TimeRange::ALL, &[]).await.expect("deps");
    assert_eq!(edges.len(), 2, "{edges:?}");
    let audit = &edges[0];
    assert_eq!(
        (
            audit.caller_service.as_str(),
            audit.callee_service.as_str(),
            audit.kind.as_str()
        ),
        ("api", "audit", "message")
    );
    assert_eq!((audit.calls, audit.errors), (3, 0));
    assert_eq!((audit.p50_ms, audit.p99_ms), (7.0, 7.0));
    let bank = &edges[1];
    assert_eq!(bank.callee_service, "bank");
    assert_eq!((bank.calls, bank.errors), (100, 10));
    assert_eq!((bank.p50_ms, bank.p95_ms, bank.p99_ms), (50.0, 95.0, 99.0));

    // Calls at 61..=100 ms after BASE_NS: 40 of them, percentiles over those only.
    let late = store
        .dependencies(
            TimeRange::new(Some(BASE_NS + 61 * MS), Some(BASE_NS + SECOND)),
            &[],
        )
        .await
        .expect("range");
    assert_eq!(late.len(), 1, "{late:?}");
    assert_eq!((late[0].calls, late[0].errors), (40, 4));
    assert_eq!(late[0].p50_ms, 80.0);
    assert!(store
        .dependencies(TimeRange::new(Some(BASE_NS + 2 * SECOND), None), &[])
        .await
        .expect("empty")
        .is_empty());
}

/// Anomalies list newest trace first, filter by service, minimum grade, time and kind, paginate,
/// and count replayed rows once.
pub async fn list_anomalies_filters_and_paginates(store: &dyn Store) {
    let mut expected = Vec::new();
    for i in 0..4i64 {
        let trace = Uuid::new_v4();
        let mut a = analysis(trace, i * SECOND);
        let start = a.summary.start_ns;
        a.anomalies = vec![
            anomaly(trace, "bank", 6.0 + i as f64, start),
            anomaly(trace, "api", 2.5, start),
        ];
        store.replace_trace_analysis(&a).await.expect("replace");
        store.replace_trace_analysis(&a).await.expect("replay");
        expected.push(a.anomalies);
    }
    let newest_first: Vec<DurationAnomalyRow> = expected.iter().rev().flatten().cloned().collect();
    let all = store
        .list_anomalies(&AnomalyQuery::default())
        .await
        .expect("all");
    assert_eq!(all.total, 8);
    assert_eq!(all.anomalies, newest_first);

    let page = store
        .list_anomalies(&AnomalyQuery {
            limit: 3,
            offset: 2,
            ..AnomalyQuery::default()
        })
        .await
        .expect("page");
    assert_eq!(page.total, 8);
    assert_eq!(page.anomalies, newest_first[2..5].to_vec());

    let critical = store
        .list_anomalies(&AnomalyQuery {
            min_severity: Some(AnomalyGrade::Warning),
            ..AnomalyQuery::default()
        })
        .await
        .expect("critical");
    assert_eq!(critical.total, 4);
    assert!(critical
        .anomalies
        .iter()
        .all(|a| a.severity == AnomalyGrade::Critical));

    let api_in_range = store
        .list_anomalies(&AnomalyQuery {
            service: Some("api".into()),
            from_ns: Some(BASE_NS + SECOND),
            to_ns: Some(BASE_NS + 2 * SECOND),
            ..AnomalyQuery::default()
        })
        .await
        .expect("filtered");
    assert_eq!(api_in_range.total, 2);
    assert_eq!(
        api_in_range.anomalies,
        vec![expected[2][1].clone(), expected[1][1].clone()]
    );

    let trace = Uuid::new_v4();
    let mut a = analysis(trace, 5 * SECOND);
    a.anomalies = vec![sequence_anomaly(trace, "bank", 4.0, a.summary.start_ns)];
    store.replace_trace_analysis(&a).await.expect("replace");
    let of_kind = |kind| AnomalyQuery {
        anomaly_kind: Some(kind),
        ..AnomalyQuery::default()
    };
    let sequences = store
        .list_anomalies(&of_kind(AnomalyKind::UnusualSequence))
        .await
        .expect("sequences");
    assert_eq!(sequences.anomalies, a.anomalies);
    assert_eq!(sequences.total, 1);
    let durations = store
        .list_anomalies(&of_kind(AnomalyKind::Duration))
        .await
        .expect("durations");
    assert_eq!(durations.total, 8);
}

/// The features of the most recently ended traces, newest first, one per trace however often
/// it was analysed.
pub async fn recent_trace_features_newest_first(store: &dyn Store) {
    let traces: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
    for (i, trace) in traces.iter().enumerate() {
        let mut a = analysis(*trace, i as i64 * SECOND);
        a.summary.features = format!("{{\"n\":{i}}}");
        store.replace_trace_analysis(&a).await.expect("replace");
        store.replace_trace_analysis(&a).await.expect("replay");
    }
    let recent = store.recent_trace_features(2).await.expect("recent");
    assert_eq!(
        recent,
        vec![
            (traces[2], "{\"n\":2}".to_string()),
            (traces[1], "{\"n\":1}".to_string())
        ]
    );
    assert_eq!(store.recent_trace_features(10).await.expect("all").len(), 3);
}

/// Checkpoints: the latest save of a name wins, names are separate. Models: the largest version
/// is current, saving a version again is harmless.
pub async fn checkpoints_and_models_latest_wins(store: &dyn Store) {
    assert_eq!(
        store.load_checkpoint("baselines").await.expect("none"),
        None
    );
    store
        .save_checkpoint("baselines", "{\"v\":1}")
        .await
        .expect("save");
    store
        .save_checkpoint("other", "{\"o\":true}")
        .await
        .expect("save other");
    store
        .save_checkpoint("baselines", "{\"v\":2, \"text\":\"it's\"}")
        .await
        .expect("save again");
    assert_eq!(
        store.load_checkpoint("baselines").await.expect("load"),
        Some("{\"v\":2, \"text\":\"it's\"}".to_string())
    );
    assert_eq!(
        store.load_checkpoint("other").await.expect("load other"),
        Some("{\"o\":true}".to_string())
    );

    assert_eq!(store.latest_model().await.expect("none"), None);
    let model = |version: u64| ModelRecord {
        version,
        trained_at_ns: BASE_NS + version as i64,
        trained_on: 200,
        clusters: vec![
            ClusterRow {
                cluster: 0,
                size: 150,
                representative_trace: Uuid::from_u128(7),
                mean_distance: 0.5,
            },
            ClusterRow {
                cluster: 1,
                size: 50,
                representative_trace: Uuid::from_u128(9),
                mean_distance: 1.25,
            },
        ],
        payload: format!("{{\"version\":{version}}}"),
    };
    store.save_model(&model(1)).await.expect("v1");
    store.save_model(&model(2)).await.expect("v2");
    store.save_model(&model(1)).await.expect("v1 again");
    assert_eq!(store.latest_model().await.expect("latest"), Some(model(2)));
}

/// Several traces' analyses written in one call read back like one call each.
pub async fn replace_trace_analyses_writes_each_trace(store: &dyn Store) {
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let mut first = analysis(a, 0);
    first.calls = vec![call(a, "api", "bank", 5, 0)];
    let mut second = analysis(b, SECOND);
    second.anomalies = vec![anomaly(b, "bank", 4.0, second.summary.start_ns)];
    store
        .replace_trace_analyses(&[first.clone(), second.clone()])
        .await
        .expect("replace both");
    assert_eq!(
        store.trace_analysis(a).await.expect("a"),
        Some(first.summary)
    );
    assert_eq!(
        store.trace_analysis(b).await.expect("b"),
        Some(second.summary)
    );
    assert_eq!(
        store.trace_anomalies(b).await.expect("anomalies"),
        second.anomalies
    );
    assert!(store.replace_trace_analyses(&[]).await.is_ok());
}

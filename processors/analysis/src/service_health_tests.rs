use super::*;

const MS: u64 = 1_000_000;
/// The recent window starts here; baseline samples come before it.
const RECENT: i64 = 1_000_000_000_000;

fn sample(start_ns: i64, latency_ms: u64) -> TraceSample {
    TraceSample {
        start_ns,
        latency_ns: latency_ms * MS,
        errored: false,
        anomalous: false,
    }
}

/// `count` baseline samples at 100 ms, +-5 ms.
fn baseline(count: usize) -> Vec<TraceSample> {
    (0..count)
        .map(|i| sample(i as i64, 95 + (i as u64 % 11)))
        .collect()
}

/// Recent samples with these latencies (ms).
fn recent(latencies: &[u64]) -> Vec<TraceSample> {
    latencies
        .iter()
        .enumerate()
        .map(|(i, &ms)| sample(RECENT + i as i64, ms))
        .collect()
}

fn health(baseline: Vec<TraceSample>, recent: Vec<TraceSample>) -> ServiceHealth {
    let samples: Vec<TraceSample> = baseline.into_iter().chain(recent).collect();
    service_health(&samples, RECENT)
}

#[test]
fn windows_split_at_the_recent_start_with_rates() {
    let mut samples = recent(&[10, 20, 30, 40]);
    samples[0].errored = true;
    samples[1].anomalous = true;
    samples[2].anomalous = true;
    let result = health(baseline(3), samples);
    assert_eq!(result.recent.traces, 4);
    assert_eq!(result.baseline.traces, 3);
    assert_eq!(
        (
            result.recent.p50_ns,
            result.recent.p95_ns,
            result.recent.p99_ns
        ),
        (20 * MS, 40 * MS, 40 * MS)
    );
    assert_eq!(result.recent.error_rate, 0.25);
    assert_eq!(result.recent.anomaly_rate, 0.5);
    assert_eq!(result.trend, Trend::InsufficientData, "3 baseline traces");
}

#[test]
fn same_latency_is_stable() {
    let result = health(baseline(30), recent(&[98, 101, 103, 99, 100, 102]));
    assert_eq!(result.trend, Trend::Stable);
    assert!(result.comparison.p50_shift.unwrap().abs() < 1.0);
}

#[test]
fn a_slower_median_is_degrading_and_a_faster_one_improving() {
    let slower = health(baseline(30), recent(&[180, 190, 200, 210, 220]));
    assert_eq!(slower.trend, Trend::Degrading);
    assert!(slower.comparison.p50_shift.unwrap() >= RULES.shift_deviations);
    let faster = health(baseline(30), recent(&[40, 45, 50, 55, 60]));
    assert_eq!(faster.trend, Trend::Improving);
}

#[test]
fn one_outlier_in_either_window_changes_nothing() {
    let mut history = baseline(30);
    history[3].latency_ns = 30_000 * MS;
    let result = health(history, recent(&[99, 100, 30_000, 101, 100]));
    assert_eq!(result.trend, Trend::Stable);
    assert_eq!(result.comparison.p95_shift, None, "too few recent traces");
}

#[test]
fn a_slower_tail_is_degrading_with_enough_traces() {
    let mut latencies = vec![100; 24];
    latencies.extend([1_000; 3]);
    let result = health(baseline(30), recent(&latencies));
    assert!(result.comparison.p50_shift.unwrap().abs() < 1.0);
    assert!(result.comparison.p95_shift.unwrap() >= RULES.shift_deviations);
    assert_eq!(result.trend, Trend::Degrading);
}

#[test]
fn more_errors_are_degrading_but_one_is_not() {
    let mut failing = recent(&[100; 10]);
    failing[0].errored = true;
    assert_eq!(health(baseline(30), failing.clone()).trend, Trend::Stable);
    failing[1].errored = true;
    let result = health(baseline(30), failing);
    assert_eq!(result.comparison.error_rate_change, 0.2);
    assert_eq!(result.trend, Trend::Degrading);
}

#[test]
fn fewer_errors_are_improving() {
    let mut history = baseline(30);
    for s in history.iter_mut().take(6) {
        s.errored = true;
    }
    let result = health(history, recent(&[100; 10]));
    assert_eq!(result.trend, Trend::Improving);
}

#[test]
fn a_perfectly_steady_service_tolerates_jitter() {
    let history: Vec<TraceSample> = (0..20).map(|i| sample(i, 10)).collect();
    let result = health(history, recent(&[10, 11, 10, 11, 11]));
    assert_eq!(result.baseline.mad_ns, 0.0);
    assert_eq!(result.comparison.scale_ns, RULES.absolute_floor_ns);
    assert_eq!(result.trend, Trend::Stable);
}

#[test]
fn no_samples_answer_zeros() {
    let result = service_health(&[], RECENT);
    assert_eq!(result.recent, WindowFigures::default());
    assert_eq!(result.comparison.p50_shift, None);
    assert_eq!(result.trend, Trend::InsufficientData);
}

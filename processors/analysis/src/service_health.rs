//! Service health: a service's latency percentiles and its error and anomaly rates over a recent
//! window, and whether it is degrading, stable or improving against its own earlier history.
//!
//! # Samples
//!
//! One [`TraceSample`] per trace of the service: its latency in that trace (from its first to
//! its last recorded event: how long the service was busy with the request, as far as its
//! events show), whether it recorded an `Error` event there, and whether the trace stage flagged
//! one of its steps as a duration anomaly.
//!
//! # Rules
//!
//! - **Windows**: samples starting at or after `recent_from_ns` are the recent window; the
//!   earlier ones are the baseline, the service's own history as far back as the caller read it.
//! - **Percentiles**: nearest rank (the value at rank ceil(p x n / 100) of the sorted
//!   latencies), as the store computes dependency percentiles: always a latency that was
//!   observed, never an interpolation between two.
//! - **Rates**: error rate = recent traces with an error / recent traces; anomaly rate = recent
//!   traces with an anomaly / recent traces.
//! - **Scale**: max([`MAD_TO_SIGMA`] x the baseline's MAD, `relative_floor` (0.1) x its median,
//!   `absolute_floor_ns` (1 ms)), the robust spread of the duration baselines
//!   (`anomalies::baseline`).
//! - **Shifts**: (recent p50 - baseline p50) / scale, and the same for p95 once both windows
//!   have `min_tail_traces` (20) traces.
//! - **Trend** ([`Trend`]), once the baseline has `min_baseline_traces` (10) traces and the
//!   recent window `min_recent_traces` (5) (else `insufficient_data`); thresholds in [`RULES`]:
//!   - `degrading` when a shift is at least `shift_deviations` (3), or the error rate rose by
//!     at least `error_rate_margin` (0.05) with at least `min_recent_errors` (2) recent errors;
//!   - else `improving` when the p50 shift is at most -`shift_deviations`, or the error rate
//!     fell by at least `error_rate_margin`;
//!   - else `stable`.
//!
//! # Why
//!
//! Against the service's own history, not a global threshold: 200 ms is healthy for a report
//! service and a regression for a cache. Median and MAD instead of mean and standard deviation:
//! one 30 s timeout in the history inflates the standard deviation until a real doubling of the
//! median goes unnoticed, and one in the recent window moves the mean enough to call a healthy
//! service degrading; the median and MAD ignore a minority of outliers. The floors keep a very
//! steady service (MAD near 0) from turning 1 ms of jitter into many deviations. The p95 is
//! compared only with `min_tail_traces` traces, where it is not simply the slowest trace; the
//! error rule wants `min_recent_errors` errors, so that one failed request among five is not a
//! trend. With fewer traces than the minimums, a median is a few requests' luck and the trend
//! would flap between calls: the answer says so instead of guessing.

use serde::{Deserialize, Serialize};

use crate::anomalies::reservoir::MAD_TO_SIGMA;
use crate::anomalies::Reservoir;
pub use crate::percentile::nearest_rank;

/// The thresholds of the trend (see the module's rules).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrendRules {
    /// Deviations of a shift that make a trend.
    pub shift_deviations: f64,
    /// The scale is at least this share of the baseline's median.
    pub relative_floor: f64,
    /// The scale is at least this, ns.
    pub absolute_floor_ns: f64,
    /// A change of the error rate (a proportion) that makes a trend.
    pub error_rate_margin: f64,
    /// Recent traces with an error that a rising error rate needs.
    pub min_recent_errors: u64,
    /// Baseline traces a trend needs.
    pub min_baseline_traces: usize,
    /// Recent traces a trend needs.
    pub min_recent_traces: usize,
    /// Traces in each window before their p95 is compared.
    pub min_tail_traces: usize,
}

/// The rules [`service_health`] applies.
pub const RULES: TrendRules = TrendRules {
    shift_deviations: 3.0,
    relative_floor: 0.1,
    absolute_floor_ns: 1_000_000.0,
    error_rate_margin: 0.05,
    min_recent_errors: 2,
    min_baseline_traces: 10,
    min_recent_traces: 5,
    min_tail_traces: 20,
};

/// One trace of the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceSample {
    /// The service's first event in the trace, ns since the epoch.
    pub start_ns: i64,
    /// From its first to its last event in the trace, ns.
    pub latency_ns: u64,
    /// It recorded an `Error` event in the trace.
    pub errored: bool,
    /// The trace stage flagged one of its steps in the trace as a duration anomaly.
    pub anomalous: bool,
}

/// The figures of one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WindowFigures {
    /// Traces in the window.
    pub traces: u64,
    /// Nearest-rank latency percentiles, ns (0 without traces).
    pub p50_ns: u64,
    /// 95th percentile, ns.
    pub p95_ns: u64,
    /// 99th percentile, ns.
    pub p99_ns: u64,
    /// Median absolute deviation of the latencies, ns.
    pub mad_ns: f64,
    /// Traces with an error.
    pub error_traces: u64,
    /// Traces with a duration anomaly.
    pub anomalous_traces: u64,
    /// `error_traces / traces` (0 without traces).
    pub error_rate: f64,
    /// `anomalous_traces / traces` (0 without traces).
    pub anomaly_rate: f64,
}

/// Where the service is heading, against its own baseline (see the module's rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    /// Slower, or failing more, than its history.
    Degrading,
    /// Neither.
    Stable,
    /// Faster, or failing less, and nothing worse.
    Improving,
    /// Too few traces in a window to tell.
    InsufficientData,
}

impl Trend {
    /// The serialised name: `degrading`, `stable`, `improving`, `insufficient_data`.
    pub fn as_str(self) -> &'static str {
        match self {
            Trend::Degrading => "degrading",
            Trend::Stable => "stable",
            Trend::Improving => "improving",
            Trend::InsufficientData => "insufficient_data",
        }
    }
}

/// What the trend compared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrendComparison {
    /// The robust scale of the baseline, ns.
    pub scale_ns: f64,
    /// (recent p50 - baseline p50) / scale; none without traces in both windows.
    #[serde(default)]
    pub p50_shift: Option<f64>,
    /// (recent p95 - baseline p95) / scale; none below `min_tail_traces` in either window.
    #[serde(default)]
    pub p95_shift: Option<f64>,
    /// Recent error rate - baseline error rate.
    pub error_rate_change: f64,
}

/// A service's health.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceHealth {
    /// The recent window.
    pub recent: WindowFigures,
    /// The earlier history.
    pub baseline: WindowFigures,
    /// What the trend compared.
    pub comparison: TrendComparison,
    /// The verdict.
    pub trend: Trend,
}

/// The health of a service from its traces (any order): those starting at or after
/// `recent_from_ns` against the earlier ones.
pub fn service_health(samples: &[TraceSample], recent_from_ns: i64) -> ServiceHealth {
    let (recent, baseline): (Vec<TraceSample>, Vec<TraceSample>) =
        samples.iter().partition(|s| s.start_ns >= recent_from_ns);
    let recent_figures = figures(&recent);
    let baseline_figures = figures(&baseline);
    let comparison = compare(&recent, &recent_figures, &baseline, &baseline_figures);
    let enough =
        baseline.len() >= RULES.min_baseline_traces && recent.len() >= RULES.min_recent_traces;
    let trend = if enough {
        judge(&comparison, &recent_figures)
    } else {
        Trend::InsufficientData
    };
    ServiceHealth {
        recent: recent_figures,
        baseline: baseline_figures,
        comparison,
        trend,
    }
}

fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn figures(samples: &[TraceSample]) -> WindowFigures {
    let mut latencies: Vec<u64> = samples.iter().map(|s| s.latency_ns).collect();
    latencies.sort_unstable();
    let traces = samples.len() as u64;
    let error_traces = samples.iter().filter(|s| s.errored).count() as u64;
    let anomalous_traces = samples.iter().filter(|s| s.anomalous).count() as u64;
    WindowFigures {
        traces,
        p50_ns: nearest_rank(&latencies, 50),
        p95_ns: nearest_rank(&latencies, 95),
        p99_ns: nearest_rank(&latencies, 99),
        mad_ns: robust_spread(&latencies).1,
        error_traces,
        anomalous_traces,
        error_rate: rate(error_traces, traces),
        anomaly_rate: rate(anomalous_traces, traces),
    }
}

/// (median, MAD) of the latencies, through a reservoir large enough to hold them all (so
/// exact).
fn robust_spread(latencies: &[u64]) -> (f64, f64) {
    let capacity = u32::try_from(latencies.len()).unwrap_or(u32::MAX);
    let mut reservoir = Reservoir::new(capacity, 0);
    for &latency in latencies {
        reservoir.insert(latency as f64, 0);
    }
    reservoir.refresh();
    let stats = reservoir.stats();
    (stats.median, stats.mad)
}

fn compare(
    recent: &[TraceSample],
    recent_figures: &WindowFigures,
    baseline: &[TraceSample],
    baseline_figures: &WindowFigures,
) -> TrendComparison {
    let mut latencies: Vec<u64> = baseline.iter().map(|s| s.latency_ns).collect();
    latencies.sort_unstable();
    let (median, mad) = robust_spread(&latencies);
    let scale_ns = (MAD_TO_SIGMA * mad)
        .max(RULES.relative_floor * median)
        .max(RULES.absolute_floor_ns);
    let shift = |recent: u64, baseline: u64| (recent as f64 - baseline as f64) / scale_ns;
    let both = !recent.is_empty() && !baseline.is_empty();
    let tails = recent.len() >= RULES.min_tail_traces && baseline.len() >= RULES.min_tail_traces;
    TrendComparison {
        scale_ns,
        p50_shift: both.then(|| shift(recent_figures.p50_ns, baseline_figures.p50_ns)),
        p95_shift: tails.then(|| shift(recent_figures.p95_ns, baseline_figures.p95_ns)),
        error_rate_change: recent_figures.error_rate - baseline_figures.error_rate,
    }
}

fn judge(comparison: &TrendComparison, recent: &WindowFigures) -> Trend {
    let slower = [comparison.p50_shift, comparison.p95_shift]
        .into_iter()
        .flatten()
        .any(|shift| shift >= RULES.shift_deviations);
    let failing_more = comparison.error_rate_change >= RULES.error_rate_margin
        && recent.error_traces >= RULES.min_recent_errors;
    if slower || failing_more {
        return Trend::Degrading;
    }
    let faster = comparison
        .p50_shift
        .is_some_and(|shift| shift <= -RULES.shift_deviations);
    let failing_less = comparison.error_rate_change <= -RULES.error_rate_margin;
    if faster || failing_less {
        Trend::Improving
    } else {
        Trend::Stable
    }
}

#[cfg(test)]
#[path = "service_health_tests.rs"]
mod tests;

//! Service health and hotspots, over a window ending now (or at `to`):
//!
//! - `GET /api/services?window=`: every service with its trace, event, finding and anomaly
//!   counts in the window;
//! - `GET /api/services/{name}/health?window=`: the service's latency percentiles, error and
//!   anomaly rates in the window, and its trend against its own earlier history (the
//!   [`BASELINE_WINDOWS`] windows before it), computed by `raceway_analysis::service_health`;
//! - `GET /api/hotspots?window=&limit=`: the variables and locations involved in the most
//!   findings and anomalies.
//!
//! A tenant's caller sees only its environments' figures (the store reads are confined to
//! them); a service it has no event of answers 404, like a missing one.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::Uri;
use axum::Json;
use raceway_analysis::service_health::{
    service_health, TraceSample, Trend, WindowFigures, ERROR_RATE_MARGIN, SHIFT_DEVIATIONS,
};
use raceway_store::{
    LocationHotspot, ServiceCounts, ServiceStore, ServiceTraceRow, TimeRange, VariableHotspot,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::anomalies::ms;
use crate::error::{ListErrors, TraceErrors};
use crate::params::{self, opt_time_ns};
use crate::tenant::Scope;
use crate::traces::rfc3339;
use crate::ApiError;

type AppStore = State<Arc<dyn ServiceStore>>;

/// The window when `window` is absent.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(3_600);
/// The longest window (a year).
pub const MAX_WINDOW: Duration = Duration::from_secs(366 * 86_400);
/// The baseline of a service's health: this many windows before the recent one.
pub const BASELINE_WINDOWS: u32 = 7;
/// The most traces a health answer reads (newest first): the baseline of a very busy service is
/// its most recent traces.
pub const MAX_HEALTH_TRACES: u32 = 50_000;
/// Hotspots listed when `limit` is absent, and the most.
const DEFAULT_HOTSPOTS: u32 = 10;
const MAX_HOTSPOTS: u32 = 100;

/// The `window` and `to` query parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct WindowParams {
    /// How far back from `to`: a duration such as `15m`, `1h`, `7d` (default `1h`, at most a
    /// year).
    window: Option<String>,
    /// The window's end: RFC 3339 or ns since the epoch (default now).
    to: Option<String>,
}

/// A window `[from_ns, to_ns]` and how it was written.
#[derive(Debug, Clone, Copy)]
struct Window {
    length: Duration,
    from_ns: i64,
    to_ns: i64,
}

impl Window {
    /// The window `length` before `to_ns` (inclusive bounds).
    fn ending(to_ns: i64, length: Duration) -> Window {
        let nanos = i64::try_from(length.as_nanos()).unwrap_or(i64::MAX);
        Window {
            length,
            from_ns: to_ns.saturating_sub(nanos),
            to_ns,
        }
    }

    fn range(&self) -> TimeRange {
        TimeRange::new(Some(self.from_ns), Some(self.to_ns))
    }

    fn label(&self) -> String {
        humantime::format_duration(self.length).to_string()
    }
}

impl WindowParams {
    /// The window; 400 naming `window` or `to` when either does not parse or `window` is out of
    /// range.
    fn parse(&self) -> Result<Window, ApiError> {
        let length = match self.window.as_deref() {
            None => DEFAULT_WINDOW,
            Some(raw) => parse_window(raw)?,
        };
        let to_ns = opt_time_ns("to", self.to.as_deref())?.unwrap_or_else(now_ns);
        Ok(Window::ending(to_ns, length))
    }
}

fn parse_window(raw: &str) -> Result<Duration, ApiError> {
    let bad = |why: String| {
        ApiError::bad_request(format!(
            "`window={raw}` {why}: write a duration such as 15m, 1h or 7d"
        ))
    };
    let length =
        humantime::parse_duration(raw).map_err(|e| bad(format!("is not a duration ({e})")))?;
    if length.is_zero() || length > MAX_WINDOW {
        return Err(bad("must be longer than 0 and at most a year".into()));
    }
    Ok(length)
}

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// Parses the query string into `T`, a 400 (JSON) naming what does not parse.
fn query<T: DeserializeOwned>(uri: &Uri) -> Result<T, ApiError> {
    Query::<T>::try_from_uri(uri)
        .map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

/// One service's activity in the window.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ServiceRow {
    pub service: String,
    /// Distinct traces with an event of the service in the window.
    pub trace_count: u64,
    /// Its distinct events in the window.
    pub event_count: u64,
    /// Distinct findings (data races, lost updates, lock-order inversions) with the service on
    /// either side, spanning a time that overlaps the window.
    pub race_count: u64,
    /// Its duration anomalies in traces started in the window.
    pub anomaly_count: u64,
}

impl From<ServiceCounts> for ServiceRow {
    fn from(c: ServiceCounts) -> Self {
        ServiceRow {
            service: c.service,
            trace_count: c.trace_count,
            event_count: c.event_count,
            race_count: c.race_count,
            anomaly_count: c.anomaly_count,
        }
    }
}

/// `GET /api/services`: the services of the window, sorted by name.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ServicesBody {
    /// The window's length as a duration (`1h`).
    pub window: String,
    /// Its bounds, RFC 3339.
    pub from: String,
    pub to: String,
    pub services: Vec<ServiceRow>,
}

/// `GET /api/services?window=&to=`: every service with its counts over the window.
#[utoipa::path(get, path = "/api/services", tag = "services", params(WindowParams),
    responses((status = 200, body = ServicesBody), ListErrors))]
pub(crate) async fn list_services(
    State(store): AppStore,
    scope: Scope,
    uri: Uri,
) -> Result<Json<ServicesBody>, ApiError> {
    let window = query::<WindowParams>(&uri)?.parse()?;
    let counts = store
        .service_counts(window.range(), &scope.environments(None)?)
        .await?;
    Ok(Json(ServicesBody {
        window: window.label(),
        from: rfc3339(window.from_ns),
        to: rfc3339(window.to_ns),
        services: counts.into_iter().map(ServiceRow::from).collect(),
    }))
}

/// The figures of one window of a service's health.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HealthWindow {
    /// Its bounds, RFC 3339.
    pub from: String,
    pub to: String,
    /// Traces of the service in it.
    pub traces: u64,
    /// Nearest-rank percentiles of the service's latency per trace (its first to its last
    /// event), ms; 0 without traces.
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// Median absolute deviation of those latencies, ms.
    pub mad_ms: f64,
    /// Traces in which the service recorded an `Error` event.
    pub error_traces: u64,
    /// Traces with a duration anomaly of the service.
    pub anomalous_traces: u64,
    /// `error_traces / traces` (0 to 1).
    pub error_rate: f64,
    /// `anomalous_traces / traces` (0 to 1).
    pub anomaly_rate: f64,
}

impl HealthWindow {
    fn new(figures: &WindowFigures, from_ns: i64, to_ns: i64) -> HealthWindow {
        HealthWindow {
            from: rfc3339(from_ns),
            to: rfc3339(to_ns),
            traces: figures.traces,
            p50_ms: ms(figures.p50_ns),
            p95_ms: ms(figures.p95_ns),
            p99_ms: ms(figures.p99_ns),
            mad_ms: figures.mad_ns / 1e6,
            error_traces: figures.error_traces,
            anomalous_traces: figures.anomalous_traces,
            error_rate: figures.error_rate,
            anomaly_rate: figures.anomaly_rate,
        }
    }
}

/// What the trend compared, with the thresholds it used.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TrendBody {
    /// `degrading`, `stable`, `improving` or `insufficient_data`.
    pub trend: String,
    /// The baseline's robust spread (1.4826 x MAD, floored), ms: the unit of the shifts.
    pub scale_ms: f64,
    /// (recent p50 - baseline p50) / scale; null without traces in both windows.
    pub p50_shift: Option<f64>,
    /// (recent p95 - baseline p95) / scale; null below 20 traces in either window.
    pub p95_shift: Option<f64>,
    /// Recent error rate minus baseline error rate.
    pub error_rate_change: f64,
    /// A shift of at least this many scales is degrading (at most minus this, improving).
    pub shift_threshold: f64,
    /// An error-rate change of at least this is degrading (minus this, improving).
    pub error_rate_threshold: f64,
}

/// `GET /api/services/{name}/health`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ServiceHealthBody {
    pub service: String,
    /// The recent window's length (`1h`).
    pub window: String,
    /// The recent window: what the percentiles and rates describe.
    pub recent: HealthWindow,
    /// The service's earlier history the trend compares with.
    pub baseline: HealthWindow,
    pub trend: TrendBody,
}

/// The `{name}` path segment of `GET /api/services/{name}/health`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct ServicePath {
    /// The service (its events' `service_name`).
    name: String,
}

fn sample(row: &ServiceTraceRow) -> TraceSample {
    TraceSample {
        start_ns: row.first_ns,
        latency_ns: u64::try_from(row.last_ns.saturating_sub(row.first_ns)).unwrap_or(0),
        errored: row.error_count > 0,
        anomalous: row.anomaly_count > 0,
    }
}

/// `GET /api/services/{name}/health?window=&to=`: the service's health in the window and its
/// trend against the [`BASELINE_WINDOWS`] windows before. 404 when the service has no event
/// (that the caller may read) at all.
#[utoipa::path(get, path = "/api/services/{name}/health", tag = "services",
    params(ServicePath, WindowParams),
    responses((status = 200, body = ServiceHealthBody), TraceErrors))]
pub(crate) async fn service_health_route(
    State(store): AppStore,
    scope: Scope,
    Path(ServicePath { name }): Path<ServicePath>,
    uri: Uri,
) -> Result<Json<ServiceHealthBody>, ApiError> {
    let recent = query::<WindowParams>(&uri)?.parse()?;
    let environments = scope.environments(None)?;
    let history = Window::ending(recent.to_ns, recent.length * (BASELINE_WINDOWS + 1));
    let rows = store
        .service_traces(&name, history.range(), &environments, MAX_HEALTH_TRACES)
        .await?;
    if rows.is_empty() && !service_exists(&*store, &name, &environments).await? {
        return Err(ApiError::not_found(format!("no service `{name}`")));
    }
    let samples: Vec<TraceSample> = rows.iter().map(sample).collect();
    let health = service_health(&samples, recent.from_ns);
    Ok(Json(ServiceHealthBody {
        service: name,
        window: recent.label(),
        recent: HealthWindow::new(&health.recent, recent.from_ns, recent.to_ns),
        baseline: HealthWindow::new(&health.baseline, history.from_ns, recent.from_ns),
        trend: TrendBody {
            trend: health.trend.as_str().to_string(),
            scale_ms: health.comparison.scale_ns / 1e6,
            p50_shift: health.comparison.p50_shift,
            p95_shift: health.comparison.p95_shift,
            error_rate_change: health.comparison.error_rate_change,
            shift_threshold: SHIFT_DEVIATIONS,
            error_rate_threshold: ERROR_RATE_MARGIN,
        },
    }))
}

/// Whether the service has any event the caller may read, at any time.
async fn service_exists(
    store: &dyn ServiceStore,
    name: &str,
    environments: &[String],
) -> Result<bool, ApiError> {
    let any = store
        .service_traces(name, TimeRange::ALL, environments, 1)
        .await?;
    Ok(!any.is_empty())
}

/// Whether `trend` names a degrading service (for clients that filter on it).
pub fn is_degrading(trend: &str) -> bool {
    trend == Trend::Degrading.as_str()
}

/// The `window`, `to` and `limit` query parameters of `GET /api/hotspots`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct HotspotParams {
    /// Most variables and most locations listed, 1 to 100 (default 10).
    #[param(value_type = Option<u32>)]
    limit: Option<String>,
}

/// A variable (for lock-order inversions: the locks) in findings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VariableHotspotRow {
    pub environment: String,
    pub variable: String,
    /// Distinct findings on it, of every kind.
    pub findings: u64,
    pub data_races: u64,
    pub lost_updates: u64,
    pub lock_order_inversions: u64,
}

impl From<VariableHotspot> for VariableHotspotRow {
    fn from(v: VariableHotspot) -> Self {
        VariableHotspotRow {
            environment: v.environment,
            variable: v.variable,
            findings: v.findings,
            data_races: v.data_races,
            lost_updates: v.lost_updates,
            lock_order_inversions: v.lock_order_inversions,
        }
    }
}

/// A code location of a service in findings and duration anomalies.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LocationHotspotRow {
    pub service: String,
    pub location: String,
    /// Distinct findings with an event at it.
    pub findings: u64,
    /// Duration anomalies whose slowest step is at it.
    pub anomalies: u64,
    /// `findings + anomalies`: the ranking.
    pub total: u64,
}

impl From<LocationHotspot> for LocationHotspotRow {
    fn from(l: LocationHotspot) -> Self {
        LocationHotspotRow {
            total: l.total(),
            service: l.service,
            location: l.location,
            findings: l.findings,
            anomalies: l.anomalies,
        }
    }
}

/// `GET /api/hotspots`: most involved first, ties by name.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HotspotsBody {
    /// The window's length (`1h`) and bounds, RFC 3339.
    pub window: String,
    pub from: String,
    pub to: String,
    pub limit: u32,
    pub variables: Vec<VariableHotspotRow>,
    pub locations: Vec<LocationHotspotRow>,
}

/// `GET /api/hotspots?window=&to=&limit=`: the variables and locations involved in the most
/// findings (spanning a time that overlaps the window) and anomalies (of traces started in it).
#[utoipa::path(get, path = "/api/hotspots", tag = "services",
    params(WindowParams, HotspotParams),
    responses((status = 200, body = HotspotsBody), ListErrors))]
pub(crate) async fn hotspots(
    State(store): AppStore,
    scope: Scope,
    uri: Uri,
) -> Result<Json<HotspotsBody>, ApiError> {
    let window = query::<WindowParams>(&uri)?.parse()?;
    let options = query::<HotspotParams>(&uri)?;
    let limit = params::limit(options.limit.as_deref(), DEFAULT_HOTSPOTS, MAX_HOTSPOTS)?;
    let found = store
        .hotspots(window.range(), &scope.environments(None)?, limit)
        .await?;
    Ok(Json(HotspotsBody {
        window: window.label(),
        from: rfc3339(window.from_ns),
        to: rfc3339(window.to_ns),
        limit,
        variables: found.variables.into_iter().map(Into::into).collect(),
        locations: found.locations.into_iter().map(Into::into).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_as_durations_and_bad_ones_name_the_parameter() {
        assert_eq!(parse_window("1h").unwrap(), DEFAULT_WINDOW);
        assert_eq!(parse_window("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_window("7d").unwrap(), Duration::from_secs(7 * 86_400));
        for bad in ["soon", "0s", "2years", ""] {
            let err = parse_window(bad).unwrap_err();
            assert!(err.message.contains("`window="), "{}", err.message);
        }
    }

    #[test]
    fn a_window_ends_at_its_end() {
        let window = Window::ending(10_000_000_000, Duration::from_secs(3));
        assert_eq!(
            (window.from_ns, window.to_ns),
            (7_000_000_000, 10_000_000_000)
        );
        assert_eq!(window.label(), "3s");
    }
}

//! Service health and hotspots, over a window ending now (or at `to`):
//!
//! - `GET /api/services?window=`: every service with its trace, event, finding and anomaly
//!   counts in the window;
//! - `GET /api/services/{name}/health?window=`: the service's latency percentiles, error and
//!   anomaly rates in the window, and its trend against its own earlier history (the
//!   [`BASELINE_WINDOWS`] windows before it), computed by `raceway_analysis::service_health`;
//! - `GET /api/services/health?window=`: the first list with every listed service's health, in
//!   one answer (a page showing every service's health would otherwise make one request per
//!   service);
//! - `GET /api/hotspots?window=&limit=`: the variables and locations involved in the most
//!   findings and anomalies.
//!
//! A tenant's caller sees only its environments' figures (the store reads are confined to
//! them); a service it has no event of answers 404, like a missing one.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::Uri;
use axum::Json;
use futures::{StreamExt, TryStreamExt};
use raceway_analysis::service_health::{
    service_health, ServiceHealth, TraceSample, TrendRules, RULES,
};
use raceway_store::{
    Hotspots, ServiceCounts, ServiceStore, ServiceTraceRow, ServiceTracesQuery, ServiceWindow,
    TimeRange,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

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

    /// The store's window: this one, in `environments`.
    fn within(&self, environments: Vec<String>) -> ServiceWindow {
        ServiceWindow {
            time: TimeRange::new(Some(self.from_ns), Some(self.to_ns)),
            environments,
        }
    }

    fn info(&self) -> WindowInfo {
        WindowInfo {
            window: humantime::format_duration(self.length).to_string(),
            from: rfc3339(self.from_ns),
            to: rfc3339(self.to_ns),
        }
    }
}

/// The window an answer covers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WindowInfo {
    /// Its length as a duration (`1h`).
    pub window: String,
    /// Its bounds, RFC 3339.
    pub from: String,
    pub to: String,
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

/// `GET /api/services`: the services of the window, sorted by name.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ServicesBody {
    #[serde(flatten)]
    pub window: WindowInfo,
    pub services: Vec<ServiceCounts>,
}

/// A request's window (`window`, `to`) and the store window it reads: the same bounds, confined
/// to the caller's environments. 400 naming the parameter that does not parse.
pub(crate) struct Windowed {
    window: Window,
    store: ServiceWindow,
}

impl<S: Send + Sync> FromRequestParts<S> for Windowed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let window = query::<WindowParams>(&parts.uri)?.parse()?;
        let store = window.within(Scope::of(parts).environments(None)?);
        Ok(Windowed { window, store })
    }
}

/// Parses the query string into `T`, a 400 (JSON) naming what does not parse.
fn query<T: DeserializeOwned>(uri: &Uri) -> Result<T, ApiError> {
    Query::<T>::try_from_uri(uri)
        .map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

/// `GET /api/services?window=&to=`: every service with its counts over the window.
#[utoipa::path(get, path = "/api/services", tag = "services", params(WindowParams),
    responses((status = 200, body = ServicesBody), ListErrors))]
pub(crate) async fn list_services(
    State(store): AppStore,
    Windowed {
        window,
        store: within,
    }: Windowed,
) -> Result<Json<ServicesBody>, ApiError> {
    let services = store.service_counts(&within).await?;
    let window = window.info();
    Ok(Json(ServicesBody { window, services }))
}

/// `GET /api/services/{name}/health`: the figures of the recent window and of the service's
/// history before it (latencies in ns: from the service's first to its last event of a trace;
/// nearest-rank percentiles), the trend and what it compared, and the rules it applied.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ServiceHealthBody {
    pub service: String,
    /// The recent window.
    #[serde(flatten)]
    pub window: WindowInfo,
    /// Where the history starts (it ends where the recent window starts), RFC 3339.
    pub history_from: String,
    #[serde(flatten)]
    pub health: ServiceHealth,
    pub rules: TrendRules,
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
    Path(ServicePath { name }): Path<ServicePath>,
    Windowed {
        window: recent,
        store: within,
    }: Windowed,
) -> Result<Json<ServiceHealthBody>, ApiError> {
    match health_of(&*store, name.clone(), &recent, within.environments).await? {
        Some(health) => Ok(Json(health)),
        None => Err(ApiError::not_found(format!("no service `{name}`"))),
    }
}

/// The health of `name` in the `recent` window, `None` when the service has no event the
/// caller may read, at any time.
async fn health_of(
    store: &dyn ServiceStore,
    name: String,
    recent: &Window,
    environments: Vec<String>,
) -> Result<Option<ServiceHealthBody>, ApiError> {
    let history = Window::ending(recent.to_ns, recent.length * (BASELINE_WINDOWS + 1));
    let query = ServiceTracesQuery {
        service: name.clone(),
        window: history.within(environments.clone()),
        limit: MAX_HEALTH_TRACES,
    };
    let rows = store.service_traces(&query).await?;
    if rows.is_empty() && !service_exists(store, &name, environments).await? {
        return Ok(None);
    }
    let samples: Vec<TraceSample> = rows.iter().map(sample).collect();
    Ok(Some(ServiceHealthBody {
        service: name,
        window: recent.info(),
        history_from: rfc3339(history.from_ns),
        health: service_health(&samples, recent.from_ns),
        rules: RULES,
    }))
}

/// Health answers computed at once: the store's reads of several services overlap, within what
/// the embedded store's read pool (4 connections) serves in parallel.
const CONCURRENT_HEALTH_READS: usize = 4;

/// `GET /api/services/health`: the services of the window, sorted by name, and the health of
/// each, in the same order.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ServicesHealthBody {
    #[serde(flatten)]
    pub window: WindowInfo,
    pub services: Vec<ServiceCounts>,
    pub health: Vec<ServiceHealthBody>,
}

/// `GET /api/services/health?window=&to=`: `GET /api/services` with every listed service's
/// `GET /api/services/{name}/health`, in one answer.
#[utoipa::path(get, path = "/api/services/health", tag = "services", params(WindowParams),
    responses((status = 200, body = ServicesHealthBody), ListErrors))]
pub(crate) async fn services_health(
    State(store): AppStore,
    Windowed {
        window,
        store: within,
    }: Windowed,
) -> Result<Json<ServicesHealthBody>, ApiError> {
    let services = store.service_counts(&within).await?;
    let names: Vec<String> = services.iter().map(|c| c.service.clone()).collect();
    let (store, recent) = (&*store, &window);
    let reads = names
        .into_iter()
        .map(|name| health_of(store, name, recent, within.environments.clone()));
    let health: Vec<ServiceHealthBody> = futures::stream::iter(reads)
        .buffered(CONCURRENT_HEALTH_READS)
        .try_collect::<Vec<_>>()
        .await?
        .into_iter()
        .flatten()
        .collect();
    let window = window.info();
    Ok(Json(ServicesHealthBody {
        window,
        services,
        health,
    }))
}

/// Whether the service has any event the caller may read, at any time.
async fn service_exists(
    store: &dyn ServiceStore,
    name: &str,
    environments: Vec<String>,
) -> Result<bool, ApiError> {
    let any = ServiceTracesQuery {
        service: name.to_string(),
        window: ServiceWindow {
            time: TimeRange::ALL,
            environments,
        },
        limit: 1,
    };
    Ok(!store.service_traces(&any).await?.is_empty())
}

/// The `window`, `to` and `limit` query parameters of `GET /api/hotspots`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct HotspotParams {
    /// Most variables and most locations listed, 1 to 100 (default 10).
    #[param(value_type = Option<u32>)]
    limit: Option<String>,
}

/// `GET /api/hotspots`: most involved first, ties by name.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HotspotsBody {
    #[serde(flatten)]
    pub window: WindowInfo,
    pub limit: u32,
    #[serde(flatten)]
    pub hotspots: Hotspots,
}

/// `GET /api/hotspots?window=&to=&limit=`: the variables and locations involved in the most
/// findings (spanning a time that overlaps the window) and anomalies (of traces started in it).
#[utoipa::path(get, path = "/api/hotspots", tag = "services",
    params(WindowParams, HotspotParams),
    responses((status = 200, body = HotspotsBody), ListErrors))]
pub(crate) async fn hotspots(
    State(store): AppStore,
    Windowed {
        window,
        store: within,
    }: Windowed,
    uri: Uri,
) -> Result<Json<HotspotsBody>, ApiError> {
    let options = query::<HotspotParams>(&uri)?;
    let limit = params::limit(options.limit.as_deref(), DEFAULT_HOTSPOTS, MAX_HOTSPOTS)?;
    let hotspots = store.hotspots(&within, limit).await?;
    let window = window.info();
    Ok(Json(HotspotsBody {
        window,
        limit,
        hotspots,
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
        assert_eq!(window.info().window, "3s");
    }
}

//! Trace routes: the list, one trace in causal order, and its races.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, SecondsFormat};
use raceway_analysis::trace_causality;
use raceway_schemas::json::EventJson;
use raceway_schemas::{Event, RaceFinding};
use raceway_store::{
    AccessStore, EventStore, EventsWithJson, FindingStore, Lifecycle, TraceQuery, TraceSort,
    TraceSummary,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::coalesce::list_key;
use crate::error::{ListErrors, TraceErrors};
use crate::finding_values::with_recorded_values;
use crate::params::{self, Listing, Page, PageInfo, StoredTrace, TimeRange, TraceId};
use crate::stores::ListReads;
use crate::tenant::Scope;
use crate::trace_body::trace_body;
use crate::ApiError;

type AppStore = State<Arc<dyn EventStore>>;

/// Page size of the paginated lists when `limit` is absent.
pub(crate) const DEFAULT_PAGE: u32 = 50;
/// Largest `limit` of the paginated lists.
pub(crate) const MAX_PAGE: u32 = 1000;

/// `{"status": "ok"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthBody {
    /// Always `ok`.
    pub status: String,
}

/// `GET /health`: the API answers and the store is reachable.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, body = HealthBody), ListErrors))]
pub(crate) async fn health(
    State(store): State<Arc<dyn Lifecycle>>,
) -> Result<Json<HealthBody>, ApiError> {
    store.ping().await?;
    Ok(Json(HealthBody {
        status: "ok".into(),
    }))
}

/// Query parameters of `GET /api/traces` (with [`TimeRange`] and [`Page`]). Read as text and
/// parsed by [`ListParams::query`], so a bad value gets a JSON 400 that names it.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Only traces with an event of this service.
    service: Option<String>,
    /// Only traces with an event in this environment.
    environment: Option<String>,
    /// Only traces with (`true`) or without (`false`) findings.
    #[param(value_type = Option<bool>)]
    has_races: Option<String>,
    /// Only traces with at least this many events.
    #[param(value_type = Option<u32>)]
    min_events: Option<String>,
    /// A whole trace id (that trace only) or a prefix of at least 4 of its characters (every
    /// trace whose id starts with it); case-insensitive.
    trace_id: Option<String>,
    /// `time` (most recent first, the default), `duration` (longest first) or `races` (most
    /// findings first); ties by trace id.
    #[param(value_type = Option<String>)]
    sort: Option<String>,
}

/// Shortest `trace_id` prefix: shorter ones match too many traces to narrow anything.
const MIN_TRACE_PREFIX: usize = 4;

impl ListParams {
    /// The store query of these filters and `list`'s time range and page; 400 on a bad value.
    fn query(list: &Listing<ListParams>) -> Result<TraceQuery, ApiError> {
        let filters = &list.filters;
        let min_events = filters
            .min_events
            .as_deref()
            .map(|raw| params::count("min_events", Some(raw), 0, 0, u32::MAX))
            .transpose()?;
        let sort = filters
            .sort
            .as_deref()
            .map(|raw| {
                TraceSort::parse(raw).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "`sort` must be time, duration or races, got `{raw}`"
                    ))
                })
            })
            .transpose()?;
        Ok(TraceQuery {
            has_races: filters
                .has_races
                .as_deref()
                .map(params::flag("has_races"))
                .transpose()?,
            service: filters.service.clone(),
            environment: filters.environment.clone(),
            min_events: min_events.map(u64::from),
            trace_id: filters.trace_id.as_deref().map(trace_prefix).transpose()?,
            sort: sort.unwrap_or_default(),
            // The caller confines it to a tenant's environments.
            environments: Vec::new(),
            from_ns: list.from_ns,
            to_ns: list.to_ns,
            limit: list.limit,
            offset: list.offset,
        })
    }
}

/// A `trace_id` filter in the stored form (lowercase): 400 unless it is 4 to 36 hex digits
/// and hyphens.
fn trace_prefix(raw: &str) -> Result<String, ApiError> {
    let is_id_text = raw.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if is_id_text && (MIN_TRACE_PREFIX..=36).contains(&raw.len()) {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(ApiError::bad_request(format!(
            "`trace_id` must be a trace id or a prefix of at least {MIN_TRACE_PREFIX} of its \
             characters (hex digits and hyphens), got `{raw}`"
        )))
    }
}

/// One row of `GET /api/traces`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TraceRow {
    pub trace_id: String,
    pub event_count: u64,
    pub services: Vec<String>,
    /// RFC 3339.
    pub first_timestamp: String,
    /// RFC 3339.
    pub last_timestamp: String,
    /// From the first event to the end of the trace: its last event, or the end of its longest
    /// step once analysed (measured durations count), as on the trace's own page.
    pub duration_ms: f64,
    /// Findings involving the trace.
    pub race_count: u64,
    /// Duration anomalies of the trace's latest analysis (0 before it is analysed; clients read
    /// 0 from a server that does not send it).
    #[serde(default)]
    pub anomaly_count: u64,
}

impl From<TraceSummary> for TraceRow {
    fn from(summary: TraceSummary) -> Self {
        TraceRow {
            trace_id: summary.trace_id.to_string(),
            event_count: summary.event_count,
            services: summary.services,
            first_timestamp: rfc3339(summary.first_timestamp_ns),
            last_timestamp: rfc3339(summary.last_timestamp_ns),
            duration_ms: (summary.end_ns - summary.first_timestamp_ns) as f64 / 1e6,
            race_count: summary.race_count,
            anomaly_count: summary.anomaly_count,
        }
    }
}

/// `GET /api/traces`: one page of traces, in the asked order.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TracesPage {
    pub traces: Vec<TraceRow>,
    #[serde(flatten)]
    pub page: PageInfo,
}

/// Nanoseconds since the epoch as RFC 3339 (UTC, only the sub-second digits needed).
pub(crate) fn rfc3339(ns: i64) -> String {
    DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// `GET /api/traces?service=&environment=&trace_id=&min_events=&has_races=&from=&to=&sort=
/// &limit=&offset=`.
#[utoipa::path(get, path = "/api/traces", tag = "traces", params(ListParams, TimeRange, Page),
    responses((status = 200, body = TracesPage), ListErrors))]
pub(crate) async fn list_traces(
    State(store): AppStore,
    State(lists): State<ListReads>,
    scope: Scope,
    list: Listing<ListParams>,
) -> Result<Json<TracesPage>, ApiError> {
    let mut query = ListParams::query(&list)?;
    query.environments = scope.environments(None)?;
    let page = lists
        .traces
        .read(list_key(&query)?, move || async move {
            Ok(store.list_traces(&query).await?)
        })
        .await?;
    Ok(Json(TracesPage {
        traces: page.traces.into_iter().map(TraceRow::from).collect(),
        page: list.info(page.total),
    }))
}

/// One event of `GET /api/traces/{id}`: the wire format plus its final clock.
// Documented here; the route's bytes are written by `crate::trace_body`, which must match.
#[derive(Debug, Serialize, ToSchema)]
#[cfg_attr(not(test), allow(dead_code))]
pub struct TraceEvent {
    /// The event in the Raceway JSON wire format.
    #[serde(flatten)]
    #[schema(value_type = raceway_schemas::openapi::WireEvent)]
    pub event: EventJson<Event>,
    /// The clock happens-before was decided with (the SDK's or the derived one).
    #[schema(schema_with = raceway_schemas::openapi::clock_pairs)]
    pub final_clock: Vec<(String, u64)>,
}

/// `GET /api/traces/{id}`: the trace's events in causal order.
// Documented here; the route's bytes are written by `crate::trace_body`, which must match.
#[derive(Debug, Serialize, ToSchema)]
#[cfg_attr(not(test), allow(dead_code))]
pub struct TraceEvents {
    pub trace_id: String,
    /// True when every event carried the SDK's clock, false when happens-before was derived.
    pub trusted_clocks: bool,
    pub events: Vec<TraceEvent>,
}

/// The trace id path parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct TraceIdPath {
    /// The trace (UUID).
    pub(crate) id: String,
}

/// `GET /api/traces/{id}`: the trace's events in causal order, each with its final clock.
// The body is `TraceEvents`, written straight from the events by `crate::trace_body` (a doc
// comment here would be the OpenAPI document's summary).
#[utoipa::path(get, path = "/api/traces/{id}", tag = "traces", params(TraceIdPath),
    responses((status = 200, body = TraceEvents), TraceErrors))]
pub(crate) async fn get_trace(
    StoredTrace {
        id: trace_id,
        events: EventsWithJson { events, json },
    }: StoredTrace<EventsWithJson>,
) -> Result<Response, ApiError> {
    // The stored texts are sent as they are; the events hold what the causality reads.
    let causality = trace_causality(&events);
    let body = trace_body(trace_id, &events, &json, &causality)
        .map_err(|e| ApiError::internal(format!("could not encode trace {trace_id}: {e}")))?;
    Ok(([(CONTENT_TYPE, "application/json")], body).into_response())
}

/// `{"races": [...]}`: findings, newest version of each.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TraceRaces {
    pub races: Vec<RaceFinding>,
}

/// `GET /api/traces/{id}/races`: findings involving the trace, cross-trace ones included, each
/// side with its recorded values.
#[utoipa::path(get, path = "/api/traces/{id}/races", tag = "races", params(TraceIdPath),
    responses((status = 200, body = TraceRaces), ListErrors))]
pub(crate) async fn trace_races(
    State(store): State<Arc<dyn FindingStore>>,
    State(accesses): State<Arc<dyn AccessStore>>,
    scope: Scope,
    TraceId(trace_id): TraceId,
) -> Result<Json<TraceRaces>, ApiError> {
    let races = scope.findings(store.trace_findings(trace_id).await?);
    let races = with_recorded_values(accesses.as_ref(), races).await?;
    Ok(Json(TraceRaces { races }))
}

//! Trace routes: the list, one trace in causal order, and its races.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, SecondsFormat};
use raceway_analysis::trace_causality;
use raceway_schemas::json::encode_event;
use raceway_schemas::RaceFinding;
use raceway_store::{EventStore, FindingStore, Lifecycle, TraceQuery, TraceSummary};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ListErrors, TraceErrors};
use crate::params::{self, Listing, Page, PageInfo, StoredTrace, TimeRange, TraceId};
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

/// Query parameters of `GET /api/traces` (with [`TimeRange`] and [`Page`]).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Only traces with an event of this service.
    service: Option<String>,
    /// Only traces with (`true`) or without (`false`) findings.
    #[param(value_type = Option<bool>)]
    has_races: Option<String>,
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
    /// From the first event's timestamp to the last one's.
    pub duration_ms: f64,
    /// Findings involving the trace.
    pub race_count: u64,
}

impl From<TraceSummary> for TraceRow {
    fn from(summary: TraceSummary) -> Self {
        TraceRow {
            trace_id: summary.trace_id.to_string(),
            event_count: summary.event_count,
            services: summary.services,
            first_timestamp: rfc3339(summary.first_timestamp_ns),
            last_timestamp: rfc3339(summary.last_timestamp_ns),
            duration_ms: (summary.last_timestamp_ns - summary.first_timestamp_ns) as f64 / 1e6,
            race_count: summary.race_count,
        }
    }
}

/// `GET /api/traces`: one page of traces, newest first.
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

/// `GET /api/traces?service=&from=&to=&has_races=&limit=&offset=`.
#[utoipa::path(get, path = "/api/traces", tag = "traces", params(ListParams, TimeRange, Page),
    responses((status = 200, body = TracesPage), ListErrors))]
pub(crate) async fn list_traces(
    State(store): AppStore,
    list: Listing<ListParams>,
) -> Result<Json<TracesPage>, ApiError> {
    let query = TraceQuery {
        has_races: list
            .filters
            .has_races
            .as_deref()
            .map(params::flag("has_races"))
            .transpose()?,
        service: list.filters.service.clone(),
        from_ns: list.from_ns,
        to_ns: list.to_ns,
        limit: list.limit,
        offset: list.offset,
    };
    let page = store.list_traces(&query).await?;
    Ok(Json(TracesPage {
        traces: page.traces.into_iter().map(TraceRow::from).collect(),
        page: list.info(page.total),
    }))
}

/// One event of `GET /api/traces/{id}`: the wire format plus its final clock.
#[derive(Debug, Serialize, ToSchema)]
pub struct TraceEvent {
    /// The event in the Raceway JSON wire format.
    #[serde(flatten)]
    #[schema(value_type = raceway_schemas::openapi::WireEvent)]
    pub event: Value,
    /// The clock happens-before was decided with (the SDK's or the derived one).
    #[schema(schema_with = raceway_schemas::openapi::clock_pairs)]
    pub final_clock: Vec<(String, u64)>,
}

/// `GET /api/traces/{id}`: the trace's events in causal order.
#[derive(Debug, Serialize, ToSchema)]
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
#[utoipa::path(get, path = "/api/traces/{id}", tag = "traces", params(TraceIdPath),
    responses((status = 200, body = TraceEvents), TraceErrors))]
pub(crate) async fn get_trace(
    StoredTrace {
        id: trace_id,
        events,
    }: StoredTrace,
) -> Result<Json<TraceEvents>, ApiError> {
    let causality = trace_causality(&events);
    let ordered = causality
        .causal_order
        .iter()
        .map(|&index| TraceEvent {
            event: encode_event(&events[index]),
            final_clock: causality.per_event[index].clock.to_pairs(),
        })
        .collect();
    Ok(Json(TraceEvents {
        trace_id: trace_id.to_string(),
        trusted_clocks: causality.trusted,
        events: ordered,
    }))
}

/// `{"races": [...]}`: findings, newest version of each.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TraceRaces {
    pub races: Vec<RaceFinding>,
}

/// `GET /api/traces/{id}/races`: findings involving the trace, cross-trace ones included.
#[utoipa::path(get, path = "/api/traces/{id}/races", tag = "races", params(TraceIdPath),
    responses((status = 200, body = TraceRaces), ListErrors))]
pub(crate) async fn trace_races(
    State(store): State<Arc<dyn FindingStore>>,
    TraceId(trace_id): TraceId,
) -> Result<Json<TraceRaces>, ApiError> {
    let races = store.trace_findings(trace_id).await?;
    Ok(Json(TraceRaces { races }))
}

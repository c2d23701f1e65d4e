//! Trace routes: the list, one trace in causal order, and its races.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{DateTime, SecondsFormat};
use raceway_analysis::trace_causality;
use raceway_schemas::json::encode_event;
use raceway_schemas::RaceFinding;
use raceway_store::{EventStore, FindingStore, Lifecycle, TraceQuery, TraceSummary};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::params;
use crate::ApiError;

type AppStore = State<Arc<dyn EventStore>>;

/// Page size of the paginated lists when `limit` is absent.
pub(crate) const DEFAULT_PAGE: u32 = 50;
/// Largest `limit` of the paginated lists.
pub(crate) const MAX_PAGE: u32 = 1000;

/// `GET /health`: the API answers and the store is reachable.
pub(crate) async fn health(
    State(store): State<Arc<dyn Lifecycle>>,
) -> Result<Json<Value>, ApiError> {
    store.ping().await?;
    Ok(Json(json!({"status": "ok"})))
}

/// Query parameters of `GET /api/traces`.
#[derive(Debug, Deserialize)]
pub(crate) struct ListParams {
    service: Option<String>,
    from: Option<String>,
    to: Option<String>,
    has_races: Option<bool>,
    limit: Option<u32>,
    offset: Option<u32>,
}

/// One row of `GET /api/traces`.
#[derive(Debug, Serialize)]
struct TraceRow {
    trace_id: String,
    event_count: u64,
    services: Vec<String>,
    first_timestamp: String,
    last_timestamp: String,
    race_count: u64,
}

impl From<TraceSummary> for TraceRow {
    fn from(summary: TraceSummary) -> Self {
        TraceRow {
            trace_id: summary.trace_id.to_string(),
            event_count: summary.event_count,
            services: summary.services,
            first_timestamp: rfc3339(summary.first_timestamp_ns),
            last_timestamp: rfc3339(summary.last_timestamp_ns),
            race_count: summary.race_count,
        }
    }
}

/// Nanoseconds since the epoch as RFC 3339 (UTC, only the sub-second digits needed).
pub(crate) fn rfc3339(ns: i64) -> String {
    DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// `GET /api/traces?service=&from=&to=&has_races=&limit=&offset=`.
pub(crate) async fn list_traces(
    State(store): AppStore,
    Query(params): Query<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_PAGE}, got {limit}"
        )));
    }
    let query = TraceQuery {
        service: params.service,
        from_ns: params
            .from
            .as_deref()
            .map(|raw| params::time_ns("from", raw))
            .transpose()?,
        to_ns: params
            .to
            .as_deref()
            .map(|raw| params::time_ns("to", raw))
            .transpose()?,
        has_races: params.has_races,
        limit,
        offset: params.offset.unwrap_or(0),
    };
    let page = store.list_traces(&query).await?;
    let rows: Vec<TraceRow> = page.traces.into_iter().map(TraceRow::from).collect();
    Ok(Json(json!({
        "traces": rows,
        "total": page.total,
        "limit": query.limit,
        "offset": query.offset,
    })))
}

/// `GET /api/traces/{id}`: the trace's events in causal order, each with its final clock.
pub(crate) async fn get_trace(
    State(store): AppStore,
    Path(raw_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let trace_id = params::trace_id(&raw_id)?;
    let events = store.trace_events(trace_id).await?;
    if events.is_empty() {
        return Err(ApiError::not_found(format!("no trace {trace_id}")));
    }
    let causality = trace_causality(&events);
    let ordered: Vec<Value> = causality
        .causal_order
        .iter()
        .map(|&index| {
            let mut value = encode_event(&events[index]);
            if let Value::Object(fields) = &mut value {
                let clock = causality.per_event[index].clock.to_pairs();
                fields.insert("final_clock".into(), json!(clock));
            }
            value
        })
        .collect();
    Ok(Json(json!({
        "trace_id": trace_id.to_string(),
        "trusted_clocks": causality.trusted,
        "events": ordered,
    })))
}

/// `GET /api/traces/{id}/races`: findings involving the trace, cross-trace ones included.
pub(crate) async fn trace_races(
    State(store): State<Arc<dyn FindingStore>>,
    Path(raw_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let trace_id = params::trace_id(&raw_id)?;
    let races: Vec<RaceFinding> = store.trace_findings(trace_id).await?;
    Ok(Json(json!({ "races": races })))
}

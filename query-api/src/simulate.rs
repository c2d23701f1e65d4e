//! `POST /api/traces/{id}/simulate`: what-if simulation of a stored trace with the pure
//! [`raceway_analysis::simulate`] (its module doc states the rules): delays and failures in,
//! the critical path, services' times, affected services and SLA breaches before and after out.
//!
//! `?format=csv` answers the per-event comparison as CSV instead (one row per event: start and
//! duration before and after, empty after-columns for the steps a failure skipped).
//!
//! A body that is not a simulation spec, or names a service the trace never calls or an event it
//! does not hold, is a 400 naming the problem; an unknown trace is a 404.

use axum::body::Bytes;
use axum::extract::Query;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::Json;
use raceway_analysis::simulate::{simulate, EventComparison, Simulation, SimulationSpec};
use raceway_analysis::trace::trace_tree;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::analyses::blocking;
use crate::error::TraceErrors;
use crate::params::StoredTrace;
use crate::traces::TraceIdPath;
use crate::ApiError;

/// The `format` query parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SimulateParams {
    /// `json` (default) or `csv`: the per-event comparison as CSV.
    format: Option<String>,
}

/// `POST /api/traces/{id}/simulate`.
#[utoipa::path(post, path = "/api/traces/{id}/simulate", tag = "analyses",
    params(TraceIdPath, SimulateParams),
    request_body = SimulationSpec,
    responses(
        (status = 200, description = "The simulation (JSON), or with `format=csv` the per-event comparison",
            content((Simulation = "application/json"), (String = "text/csv"))),
        TraceErrors))]
pub(crate) async fn simulate_trace(
    StoredTrace { id, events }: StoredTrace,
    Query(params): Query<SimulateParams>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let csv = match params.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown format `{other}`: expected json or csv"
            )))
        }
    };
    // An empty body is the empty spec: the trace as it was.
    let spec: SimulationSpec = if body.iter().all(u8::is_ascii_whitespace) {
        SimulationSpec::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("the body is not a simulation spec: {e}")))?
    };
    let simulation = blocking(move || {
        simulate(&trace_tree(&events), &spec).map_err(|e| ApiError::bad_request(e.to_string()))
    })
    .await?;
    if !csv {
        return Ok(Json(simulation).into_response());
    }
    let text = csv_rows(&simulation.events)
        .map_err(|e| ApiError::internal(format!("writing the CSV failed: {e}")))?;
    let disposition = format!("attachment; filename=\"simulation-{id}.csv\"");
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (CONTENT_DISPOSITION, disposition),
        ],
        text,
    )
        .into_response())
}

/// The per-event comparison as CSV, with a header row (written field by field: the csv crate
/// cannot serialise the rows' flattened event).
fn csv_rows(events: &[EventComparison]) -> Result<String, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record([
        "event_id",
        "service",
        "kind",
        "location",
        "before_start_ms",
        "before_duration_ms",
        "after_start_ms",
        "after_duration_ms",
    ])?;
    let number = |n: Option<f64>| n.map(|n| format!("{n:.3}")).unwrap_or_default();
    for row in events {
        let e = &row.event;
        writer.write_record([
            e.event_id.to_string(),
            e.service.clone(),
            e.kind.clone(),
            e.location.clone(),
            number(Some(row.before_start_ms)),
            number(Some(row.before_duration_ms)),
            number(row.after_start_ms),
            number(row.after_duration_ms),
        ])?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

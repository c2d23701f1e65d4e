//! The `POST /events` handler.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use raceway_schemas::json::{decode_events_body, redact_sensitive_headers};
use serde::Serialize;
use serde_json::json;

use crate::auth::is_authorized;
use crate::batching::batch_records;
use crate::GatewayState;

/// One event the gateway did not accept, and why.
#[derive(Debug, Serialize)]
struct Rejection {
    index: usize,
    field: String,
    reason: String,
}

/// `GET /health`: the gateway process is alive.
pub(crate) async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// `POST /events`: validates, redacts, groups per trace and produces; 200 once durable.
pub(crate) async fn post_events(
    State(state): State<GatewayState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let response = accept_events(&state, &headers, &body).await;
    state
        .metrics
        .requests
        .with_label_values(&[response.status().as_str()])
        .inc();
    response
}

async fn accept_events(state: &GatewayState, headers: &HeaderMap, body: &[u8]) -> Response {
    if !is_authorized(headers, &state.config.api_keys) {
        return error(
            StatusCode::UNAUTHORIZED,
            "missing or unknown API key: send `Authorization: Bearer KEY` or `X-Raceway-Key: KEY`",
        );
    }
    let decoded = match decode_events_body(body) {
        Ok(decoded) => decoded,
        Err(err) => return error(StatusCode::BAD_REQUEST, &err.to_string()),
    };

    let mut events = Vec::with_capacity(decoded.len());
    let mut rejected = Vec::new();
    for (index, result) in decoded.into_iter().enumerate() {
        match result {
            Ok(mut event) => {
                redact_sensitive_headers(&mut event);
                events.push(event);
            }
            Err(field_error) => rejected.push(Rejection {
                index,
                field: field_error.field,
                reason: field_error.reason,
            }),
        }
    }
    state.metrics.events_rejected.inc_by(rejected.len() as u64);
    if !rejected.is_empty() {
        tracing::info!(rejected = rejected.len(), "rejected invalid events");
    }

    let accepted = events.len();
    let records = match batch_records(events, state.config.max_record_bytes) {
        Ok(records) => records,
        Err(err) => return error(StatusCode::PAYLOAD_TOO_LARGE, &err.to_string()),
    };
    if !records.is_empty() {
        let produce = state.bus.produce(&state.config.events_topic, records);
        let outcome = tokio::time::timeout(state.config.produce_timeout, produce).await;
        let failure = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(err)) if !err.is_retryable() => {
                tracing::error!(error = %err, "the bus refused events");
                return error(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string());
            }
            Ok(Err(err)) => Some(err.to_string()),
            Err(_) => Some(format!(
                "not durable within {} ms",
                state.config.produce_timeout.as_millis()
            )),
        };
        if let Some(reason) = failure {
            tracing::warn!(%reason, "could not make events durable on the bus");
            let mut response = error(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("the event bus cannot take events right now ({reason}); retry later"),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            return response;
        }
    }
    state.metrics.events_accepted.inc_by(accepted as u64);
    (
        StatusCode::OK,
        Json(json!({"success": true, "accepted": accepted, "rejected": rejected})),
    )
        .into_response()
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"success": false, "error": message}))).into_response()
}

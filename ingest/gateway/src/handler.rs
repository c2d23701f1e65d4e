//! The `POST /events` handler.
//!
//! Decoding a request's JSON and encoding its Avro records are the CPU work of a request (a
//! 2,000-event body takes milliseconds): both run on tokio's blocking pool ([`off_runtime`]), so
//! a large body does not hold one of the runtime's worker threads (two on a two-core machine)
//! while other requests, `/health` and the bus's produce futures wait behind it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use raceway_auth::Principal;
use raceway_bus::BusError;
use raceway_schemas::json::{decode_events_body, redact_sensitive_headers, FieldError};
use raceway_schemas::openapi::WireEvent;
use raceway_schemas::Event;
use serde::Serialize;
use utoipa::ToSchema;

use crate::batching::batch_records;
use crate::rate_limit::{ClientKey, Decision};
use crate::rate_limit_key::rate_limit_key;
use crate::GatewayState;

/// The events of a body, each decoded or with the field that is wrong.
type DecodedEvents = Vec<Result<Event, FieldError>>;

/// One event the gateway did not accept, and why.
#[derive(Debug, Serialize, ToSchema)]
struct Rejection {
    index: usize,
    field: String,
    reason: String,
}

/// The body of `POST /events`.
#[derive(ToSchema)]
#[allow(dead_code)] // Describes what `decode_events_body` reads; never built.
struct EventsBody {
    events: Vec<WireEvent>,
}

/// The answer of `POST /events` when the body was read: each event accepted or rejected.
#[derive(Serialize, ToSchema)]
struct Accepted {
    /// True.
    success: bool,
    /// Events produced to the bus (durable).
    accepted: usize,
    /// Events refused, with the field that is wrong.
    rejected: Vec<Rejection>,
}

/// The answer of `POST /events` when the request as a whole was refused.
#[derive(Serialize, ToSchema)]
struct Refused {
    /// False.
    success: bool,
    /// Why, for a person.
    error: String,
}

/// `{"status": "ok"}`.
#[derive(Serialize, ToSchema)]
pub(crate) struct Alive {
    status: &'static str,
}

/// `GET /health`: the gateway process is alive.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, body = Alive)))]
pub(crate) async fn health() -> Json<Alive> {
    Json(Alive { status: "ok" })
}

/// `POST /events`: validates, redacts, groups per trace and produces; 200 once durable.
#[utoipa::path(post, path = "/events", tag = "ingest",
    request_body = EventsBody,
    responses(
        (status = 200, description = "Every valid event is durable on the bus", body = Accepted),
        (status = 400, description = "The body is not a Raceway JSON events body", body = Refused),
        (status = 401, description = "A key is configured and none or a wrong one was sent", body = Refused),
        (status = 413, description = "Body or event count over the limits", body = Refused),
        (status = 429, description = "Over the rate limit; see Retry-After", body = Refused),
        (status = 503, description = "The bus did not take the events in time", body = Refused)))]
pub(crate) async fn post_events(State(state): State<GatewayState>, request: Request) -> Response {
    let response = accept_events(&state, request).await;
    let status = response.status();
    state
        .metrics
        .requests
        .with_label_values(&[status.as_str()])
        .inc();
    let refused = match status {
        StatusCode::PAYLOAD_TOO_LARGE => Some("too_large"),
        StatusCode::TOO_MANY_REQUESTS => Some("rate_limited"),
        _ => None,
    };
    if let Some(reason) = refused {
        state
            .metrics
            .requests_rejected
            .with_label_values(&[reason])
            .inc();
    }
    if let Some(limiter) = &state.limiter {
        let tracked = i64::try_from(limiter.tracked()).unwrap_or(i64::MAX);
        state.metrics.rate_limit_clients.set(tracked);
    }
    response
}

async fn accept_events(state: &GatewayState, request: Request) -> Response {
    let (client, decoded) = match admit(state, request).await {
        Ok(admitted) => admitted,
        Err(refusal) => return refusal,
    };
    let cost = event_cost(&decoded);
    let response = produce_events(state, decoded).await;
    // Nothing was accepted: the client will retry the same events, which must not cost twice
    // (a broker outage would otherwise push every retrying client into 429s).
    if !response.status().is_success() {
        if let Some(limiter) = &state.limiter {
            limiter.refund(&client, cost);
        }
    }
    response
}

/// Runs `work` (CPU-bound: decoding or encoding a whole request) on tokio's blocking pool; a
/// 500 if it panicked.
async fn off_runtime<T, F>(work: F) -> Result<T, Response>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        tracing::error!(error = %e, "request work failed");
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the gateway failed to process the request",
        )
    })
}

/// The valid events of a request, redacted, and the refused ones with their reasons.
fn split_valid(decoded: DecodedEvents) -> (Vec<Event>, Vec<Rejection>) {
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
    (events, rejected)
}

/// Validates and redacts the decoded events and produces the valid ones; 200 once durable.
async fn produce_events(state: &GatewayState, decoded: DecodedEvents) -> Response {
    let max_record_bytes = state.config.max_record_bytes;
    let topic = &state.config.events_topic;
    // Records are grouped per partition, so the topic's partition count comes first (cached by
    // the bus after the first look-up).
    let timeout = state.config.produce_timeout;
    let partitions = if decoded.iter().any(Result::is_ok) {
        match on_bus(timeout, state.bus.partitions(topic)).await {
            Ok(partitions) => partitions,
            Err(answer) => return answer,
        }
    } else {
        1
    };
    let prepared = off_runtime(move || {
        let (events, rejected) = split_valid(decoded);
        let accepted = events.len();
        let records = batch_records(events, max_record_bytes, partitions);
        (accepted, rejected, records)
    })
    .await;
    let (accepted, rejected, records) = match prepared {
        Ok(prepared) => prepared,
        Err(response) => return response,
    };
    state.metrics.events_rejected.inc_by(rejected.len() as u64);
    if !rejected.is_empty() {
        tracing::info!(rejected = rejected.len(), "rejected invalid events");
    }
    let records = match records {
        Ok(records) => records,
        Err(err) => return error(StatusCode::PAYLOAD_TOO_LARGE, &err.to_string()),
    };
    let produced = records.len() as u64;
    if !records.is_empty() {
        let started = Instant::now();
        let durable = on_bus(timeout, state.bus.produce(topic, records)).await;
        state
            .metrics
            .produce_seconds
            .observe(started.elapsed().as_secs_f64());
        if let Err(answer) = durable {
            return answer;
        }
    }
    state.metrics.events_accepted.inc_by(accepted as u64);
    state.metrics.records_produced.inc_by(produced);
    (
        StatusCode::OK,
        Json(Accepted {
            success: true,
            accepted,
            rejected,
        }),
    )
        .into_response()
}

/// Runs `work` on the bus within `timeout`; its result, or the answer [`bus_failure`] gives.
async fn on_bus<T>(
    timeout: Duration,
    work: impl std::future::Future<Output = Result<T, BusError>>,
) -> Result<T, Response> {
    match tokio::time::timeout(timeout, work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(bus_failure(Some(err), timeout)),
        Err(_) => Err(bus_failure(None, timeout)),
    }
}

/// The answer when the bus failed (`Some`) or did not answer within `timeout` (`None`): 500 for
/// an error retrying cannot fix, otherwise 503 with `Retry-After` (the back-pressure of a full or
/// unreachable bus).
fn bus_failure(failure: Option<BusError>, timeout: Duration) -> Response {
    let reason = match failure {
        Some(err) if !err.is_retryable() => {
            tracing::error!(error = %err, "the bus refused events");
            return error(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string());
        }
        Some(err) => err.to_string(),
        None => format!("not durable within {} ms", timeout.as_millis()),
    };
    tracing::warn!(%reason, "could not make events durable on the bus");
    let mut response = error(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("the event bus cannot take events right now ({reason}); retry later"),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// Checks the content type, applies the size, batch, tenant and rate limits, and decodes the body into events (each
/// valid or not); the error answer when the request goes no further.
async fn admit(
    state: &GatewayState,
    request: Request,
) -> Result<(ClientKey, DecodedEvents), Response> {
    let config = &state.config;
    if !is_json(request.headers()) {
        return Err(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "POST /events takes `Content-Type: application/json`",
        ));
    }
    let caller = request.extensions().get::<Principal>().cloned();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let client = rate_limit_key(
        caller.as_ref(),
        request.headers(),
        peer,
        config.trust_forwarded_for,
    );
    // A client that already owes tokens is refused before its body is read.
    if let Some(limited) = rate_limited(state, &client, None) {
        return Err(limited);
    }
    if declared_length(request.headers()).is_some_and(|length| length > config.max_body_bytes) {
        return Err(body_too_large(config.max_body_bytes));
    }
    // The `DefaultBodyLimit` layer of the router caps this read at `max_body_bytes`: a longer
    // body (chunked, or with a lying Content-Length) fails as soon as it crosses the limit.
    let body = match Bytes::from_request(request, &()).await {
        Ok(body) => body,
        Err(BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_))) => {
            return Err(body_too_large(config.max_body_bytes))
        }
        Err(err) => return Err(error(StatusCode::BAD_REQUEST, &err.body_text())),
    };
    let decoded = off_runtime(move || decode_events_body(&body))
        .await?
        .map_err(|err| error(StatusCode::BAD_REQUEST, &err.to_string()))?;
    if decoded.len() > config.max_events_per_batch {
        return Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "{} events in one request, over the gateway's limit of {} per request; send them \
                 in several POST /events requests",
                decoded.len(),
                config.max_events_per_batch
            ),
        ));
    }
    if let Some(tenant) = caller.as_ref().and_then(|c| c.tenant.as_ref()) {
        let foreign = decoded
            .iter()
            .flatten()
            .find(|event| !tenant.owns(&event.metadata.environment));
        if let Some(event) = foreign {
            return Err(error(
                StatusCode::FORBIDDEN,
                &format!(
                    "environment `{}` is not one of tenant {}'s environments",
                    event.metadata.environment, tenant.name
                ),
            ));
        }
    }
    if let Some(limited) = rate_limited(state, &client, Some(event_cost(&decoded))) {
        return Err(limited);
    }
    Ok((client, decoded))
}

/// Tokens a request costs: every event offered, valid or not, since validating it is the work
/// being limited.
fn event_cost(decoded: &DecodedEvents) -> u64 {
    u64::try_from(decoded.len()).unwrap_or(u64::MAX)
}

/// `Some(429)` when the rate limit refuses the client: with `cost`, charges that many events;
/// without, only checks that the client owes nothing.
fn rate_limited(state: &GatewayState, client: &ClientKey, cost: Option<u64>) -> Option<Response> {
    let limiter = state.limiter.as_ref()?;
    let now = Instant::now();
    let decision = match cost {
        Some(events) => limiter.charge(client.clone(), events, now),
        None => limiter.check_owing(client, now),
    };
    let Decision::Limited { retry_after } = decision else {
        return None;
    };
    let seconds = retry_after_secs(retry_after);
    let limit = limiter.limit();
    let who = match client {
        ClientKey::Tenant(tenant) => format!("tenant {tenant}"),
        ClientKey::Credential(_) => "this credential".to_string(),
        ClientKey::Ip(ip) => format!("client {ip}"),
        ClientKey::Unknown => "clients without a known address".to_string(),
    };
    // Debug, not info: a flooding client would flood the log; the metrics count every 429.
    tracing::debug!(client = ?client, events = ?cost, retry_after = seconds, "rate limited");
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        &format!(
            "rate limit of {} events/s (burst {}) exceeded for {who}; retry after {seconds} s",
            limit.events_per_second(),
            limit.burst()
        ),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    Some(response)
}

/// Whole seconds for `Retry-After`, rounded up (and at least 1) so that after waiting that long
/// the client has the tokens it was missing.
fn retry_after_secs(wait: Duration) -> u64 {
    let whole = wait.as_secs();
    let rounded = if wait.subsec_nanos() > 0 {
        whole.saturating_add(1)
    } else {
        whole
    };
    rounded.max(1)
}

/// `Content-Type: application/json`, parameters (`; charset=utf-8`) allowed.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn body_too_large(limit: usize) -> Response {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!(
            "request body over the gateway's limit of {limit} bytes; send the events in several \
             smaller POST /events requests"
        ),
    )
}

fn error(status: StatusCode, message: &str) -> Response {
    let body = Refused {
        success: false,
        error: message.to_string(),
    };
    (status, Json(body)).into_response()
}

//! reqwest requests that carry the trace context (feature `client`).
//!
//! [`TracedRequest::send_traced`] records `HttpRequest`, sends `traceparent` and
//! `raceway-clock`, and on the response joins the server's clock (the `raceway-clock` response
//! header of [`super::server::RacewayLayer`]) and records `HttpResponse`: the server's handling
//! happens between the two. It works with the task's current actor ([`crate::with_current`]),
//! or with an explicit one ([`TracedRequest::send_with`]).

use std::future::Future;
use std::time::Instant;

use raceway_schemas::{EventKind, HttpRequest, HttpResponse};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{RequestBuilder, Response};

use super::{parse_raceway_clock, RACEWAY_CLOCK};
use crate::actor::Actor;
use crate::task::with_current;

/// Sends a reqwest request with the trace context; see the module documentation.
pub trait TracedRequest {
    /// Sends with the task's current actor (a plain send when there is none).
    fn send_traced(self) -> impl Future<Output = reqwest::Result<Response>> + Send;

    /// Sends with `actor`.
    fn send_with(self, actor: &mut Actor)
        -> impl Future<Output = reqwest::Result<Response>> + Send;
}

impl TracedRequest for RequestBuilder {
    async fn send_traced(self) -> reqwest::Result<Response> {
        let (client, request) = self.build_split();
        let mut request = request?;
        let headers = with_current(|actor| before_send(actor, &request));
        if let Some(headers) = headers {
            request.headers_mut().extend(headers);
        }
        let started = Instant::now();
        let response = client.execute(request).await?;
        with_current(|actor| after_response(actor, &response, started));
        Ok(response)
    }

    async fn send_with(self, actor: &mut Actor) -> reqwest::Result<Response> {
        let (client, request) = self.build_split();
        let mut request = request?;
        let headers = before_send(actor, &request);
        request.headers_mut().extend(headers);
        let started = Instant::now();
        let response = client.execute(request).await?;
        after_response(actor, &response, started);
        Ok(response)
    }
}

/// Records the request and returns the propagation headers.
fn before_send(actor: &mut Actor, request: &reqwest::Request) -> HeaderMap {
    actor.record(EventKind::HttpRequest(HttpRequest {
        method: request.method().to_string(),
        url: request.url().to_string(),
        headers: Vec::new(),
        body: None,
    }));
    let mut headers = HeaderMap::new();
    for (name, value) in actor.outgoing_context().headers() {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    headers
}

/// Joins the server's clock, if it sent one, and records the response.
fn after_response(actor: &mut Actor, response: &Response, started: Instant) {
    if let Some(value) = response.headers().get(RACEWAY_CLOCK) {
        match value.to_str().map(parse_raceway_clock) {
            Ok(Ok(context)) => actor.join_clock(&context.clock),
            Ok(Err(error)) => tracing::warn!(%error, "raceway: ignoring the response clock"),
            Err(_) => tracing::warn!("raceway: response clock is not text"),
        }
    }
    actor.record(EventKind::HttpResponse(HttpResponse {
        status: response.status().as_u16(),
        headers: Vec::new(),
        body: None,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }));
}

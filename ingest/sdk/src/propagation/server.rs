//! [`RacewayLayer`]: a tower layer for axum/hyper servers (feature `server`).
//!
//! For each request it reads `traceparent` and `raceway-clock`, continues the caller's trace
//! (or starts one) with a new actor that is the current actor of the handler's task
//! ([`crate::with_current`], [`crate::spawn`]), records `HttpRequest` and `HttpResponse`, and
//! returns the server's clock in the response's `raceway-clock` header, which the caller
//! joins ([`super::client`]), so the caller's next steps happen after the handler's.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{HeaderValue, Request, Response};
use raceway_schemas::{EventKind, HttpRequest, HttpResponse};
use tower::{Layer, Service};

use super::{TraceContext, RACEWAY_CLOCK, TRACEPARENT};
use crate::task::with_actor;
use crate::tracer::Tracer;

/// The tower layer: `Router::new().route(...).layer(RacewayLayer::new(tracer))`.
#[derive(Debug, Clone)]
pub struct RacewayLayer {
    tracer: Tracer,
}

impl RacewayLayer {
    /// A layer recording through `tracer`.
    pub fn new(tracer: Tracer) -> RacewayLayer {
        RacewayLayer { tracer }
    }
}

impl<S> Layer<S> for RacewayLayer {
    type Service = RacewayService<S>;

    fn layer(&self, inner: S) -> RacewayService<S> {
        RacewayService {
            inner,
            tracer: self.tracer.clone(),
        }
    }
}

/// The service [`RacewayLayer`] wraps around the application's.
#[derive(Debug, Clone)]
pub struct RacewayService<S> {
    inner: S,
    tracer: Tracer,
}

impl<S, B, R> Service<Request<B>> for RacewayService<S>
where
    S: Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<R>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The clone that was polled ready handles this request (tower's usual hand-over).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        if !self.tracer.is_enabled() {
            return Box::pin(inner.call(request));
        }
        let headers = request.headers();
        let context = TraceContext::from_headers(|name| {
            headers.get(name).and_then(|value| value.to_str().ok())
        })
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "raceway: ignoring the request's trace context");
            None
        });
        let label = format!("{} {}", request.method(), request.uri().path());
        let mut actor = self.tracer.continue_trace(&label, context.as_ref());
        actor.record(EventKind::HttpRequest(HttpRequest {
            method: request.method().to_string(),
            url: request.uri().to_string(),
            headers: Vec::new(),
            body: None,
        }));
        let started = Instant::now();
        Box::pin(async move {
            let (result, mut actor) = with_actor(actor, inner.call(request)).await;
            let mut response = result?;
            actor.record(EventKind::HttpResponse(HttpResponse {
                status: response.status().as_u16(),
                headers: Vec::new(),
                body: None,
                duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            }));
            let reply = actor.outgoing_context();
            for (name, value) in [
                (RACEWAY_CLOCK, reply.raceway_clock()),
                (TRACEPARENT, reply.traceparent()),
            ] {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    response.headers_mut().insert(name, value);
                }
            }
            actor.finish();
            Ok(response)
        })
    }
}

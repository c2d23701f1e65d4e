//! Serving HTTP routers until shutdown, and the /metrics and /ready routes.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use prometheus::{Encoder, Registry, TextEncoder};

use crate::cli::Guard;
use crate::tls::{with_peer_addr, TlsListener, TlsPeer};
use raceway_processors::readiness::Readiness;
use tokio::sync::watch;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// `GET /metrics` (Prometheus text) over `registry`.
pub fn metrics_router(registry: Registry) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(metrics))
        .with_state(registry)
}

/// `GET /metrics`: every metric of the process, Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format",
               content_type = "text/plain", body = String)))]
async fn metrics(State(registry): State<Registry>) -> Response {
    let mut buffer = Vec::new();
    let encoder = TextEncoder::new();
    match encoder.encode(&registry.gather(), &mut buffer) {
        Ok(()) => (
            [(header::CONTENT_TYPE, encoder.format_type().to_string())],
            buffer,
        )
            .into_response(),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response(),
    }
}

/// `GET /ready`: 200 when every processor stage of the process has joined its group, holds
/// partitions and is caught up, else 503; the JSON body says which stage is not and why, and
/// whether the process is drained (`drained`, `drained_since`: see
/// `raceway_processors::readiness`).
pub fn ready_router(readiness: Readiness) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(ready))
        .with_state(readiness)
}

/// `GET /ready`: whether every processor stage of the process is caught up.
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses(
        (status = 200, description = "Every stage holds partitions and is caught up", body = Object),
        (status = 503, description = "Some stage is not; the body says which and why", body = Object)))]
async fn ready(State(readiness): State<Readiness>) -> (StatusCode, Json<serde_json::Value>) {
    let (ready, body) = readiness.status();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// Binds `addr` (a clear error when it is taken) and serves `router` behind access control (and
/// TLS when configured) until shutdown.
pub async fn serve(
    addr: SocketAddr,
    router: Router,
    guard: Guard,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let router = raceway_auth::protect(router, Arc::new(guard.auth));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (is another raceway running?)"))?;
    let local = listener.local_addr()?;
    tracing::info!(address = %local, tls = guard.tls.is_some(), "listening");
    // Connect info gives handlers the peer address (the gateway's per-IP rate limit).
    match guard.tls {
        Some(acceptor) => axum::serve(
            TlsListener::new(listener, acceptor),
            with_peer_addr(router).into_make_service_with_connect_info::<TlsPeer>(),
        )
        .with_graceful_shutdown(crate::shutdown::wait(shutdown))
        .await
        .context("HTTPS server failed"),
        None => axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(crate::shutdown::wait(shutdown))
        .await
        .context("HTTP server failed"),
    }
}

//! The HTTP ingest gateway: `POST /events` in the Raceway JSON format of the existing SDKs.
//!
//! The gateway validates each event on its own (a bad event is rejected with the field and the
//! reason; the rest of the batch goes on), redacts credentials from recorded HTTP headers, groups
//! the valid events per trace into Avro `EventBatch` records (key = trace_id) and produces them to
//! the events topic. It answers 200 only once the bus says the records are durable.

mod auth;
mod batching;
mod handler;
mod metrics;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use raceway_processors::bus::Bus;

pub use batching::{batch_records, BatchingError};
pub use metrics::GatewayMetrics;

/// What the gateway needs to know; every field has a CLI option in the `raceway` binary.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Topic the event batches are produced to.
    pub events_topic: String,
    /// Accepted API keys; empty means no authentication.
    pub api_keys: Vec<String>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Largest Avro record produced to the bus; bigger per-trace batches are split.
    pub max_record_bytes: usize,
    /// How long a request waits for the bus to make its events durable before answering 503.
    pub produce_timeout: Duration,
}

impl GatewayConfig {
    /// Defaults that accept a 10,000-event batch and keep records under the broker's 1 MB limit.
    pub fn new(events_topic: impl Into<String>) -> Self {
        GatewayConfig {
            events_topic: events_topic.into(),
            api_keys: Vec::new(),
            max_body_bytes: 64 * 1024 * 1024,
            max_record_bytes: 900 * 1024,
            produce_timeout: Duration::from_secs(10),
        }
    }
}

/// Shared state of the gateway's handlers.
#[derive(Clone)]
pub struct GatewayState {
    pub(crate) config: Arc<GatewayConfig>,
    pub(crate) bus: Arc<dyn Bus>,
    pub(crate) metrics: GatewayMetrics,
}

impl GatewayState {
    /// Builds the state from its parts.
    pub fn new(config: GatewayConfig, bus: Arc<dyn Bus>, metrics: GatewayMetrics) -> Self {
        GatewayState {
            config: Arc::new(config),
            bus,
            metrics,
        }
    }
}

/// The gateway's routes when it runs alone: `POST /events` and `GET /health`.
pub fn router(state: GatewayState) -> Router {
    events_router(state).route("/health", get(handler::health))
}

/// Just `POST /events`, to merge into a router that has its own `/health` (`raceway up`).
pub fn events_router(state: GatewayState) -> Router {
    let body_limit = state.config.max_body_bytes;
    Router::new()
        .route("/events", post(handler::post_events))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

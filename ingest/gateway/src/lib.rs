//! The HTTP ingest gateway: `POST /events` in the Raceway JSON format of the existing SDKs.
//!
//! The gateway validates each event on its own (a bad event is rejected with the field and the
//! reason; the rest of the batch goes on), redacts credentials from recorded HTTP headers, groups
//! the valid events into Avro `EventBatch` records, one per partition of the events topic with the
//! request's traces of that partition (keyed by one of their ids: see `batching`), and produces
//! them to the events topic. It answers 200 only once the bus says the records are durable.
//!
//! Limits: a body over [`GatewayConfig::max_body_bytes`] is refused with 413 while it is read
//! (never buffered whole), as is a request of more than [`GatewayConfig::max_events_per_batch`]
//! events. With [`GatewayConfig::rate_limit`] set, each tenant, else each credential (or, without
//! credentials, each client IP) gets a token bucket counted in events, and a client over it gets
//! 429 with `Retry-After`. The body must be `Content-Type: application/json` (415 otherwise): a web
//! page can send a `text/plain` POST to any site without a preflight.
//!
//! Authentication is not done here: `raceway_auth::protect` wraps the routers and puts the
//! caller (a `raceway_auth::Principal`) in the request's extensions; a caller confined to a tenant
//! may only post events of the tenant's environments (403 otherwise).

mod batching;
mod handler;
mod metrics;
mod rate_limit;
mod rate_limit_key;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::DefaultBodyLimit;
use raceway_bus::Bus;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use batching::{batch_records, BatchingError};
pub use metrics::GatewayMetrics;
pub use rate_limit::{RateLimit, RateLimitError};

use rate_limit::RateLimiter;

/// Default [`GatewayConfig::max_body_bytes`]: 64 MiB, room for a 10,000-event batch of large events.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Default [`GatewayConfig::max_events_per_batch`]: well above the 10,000-event batches the
/// gateway is sized for, so only a runaway client meets it.
pub const DEFAULT_MAX_EVENTS_PER_BATCH: usize = 50_000;
/// Default [`GatewayConfig::max_record_bytes`]: under the broker's 1 MB message limit.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 900 * 1024;
/// Default [`GatewayConfig::produce_timeout`].
pub const DEFAULT_PRODUCE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the gateway needs to know; every field has a CLI option in the `raceway` binary.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Topic the event batches are produced to.
    pub events_topic: String,
    /// Largest request body accepted, in bytes; bigger ones get 413 before being read whole.
    pub max_body_bytes: usize,
    /// Most events accepted in one request; more get 413.
    pub max_events_per_batch: usize,
    /// Largest Avro record produced to the bus; bigger per-trace batches are split.
    pub max_record_bytes: usize,
    /// How long a request waits for the bus to make its events durable before answering 503.
    pub produce_timeout: Duration,
    /// Events per second per tenant, credential, or client IP without credentials; `None` means
    /// unlimited.
    pub rate_limit: Option<RateLimit>,
    /// Take the client IP from the last `X-Forwarded-For` address instead of the peer address;
    /// only safe behind a proxy that appends it, since clients can send the header themselves.
    pub trust_forwarded_for: bool,
}

impl GatewayConfig {
    /// Defaults that accept a 10,000-event batch and keep records under the broker's 1 MB limit;
    /// no rate limit.
    pub fn new(events_topic: impl Into<String>) -> Self {
        GatewayConfig {
            events_topic: events_topic.into(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_events_per_batch: DEFAULT_MAX_EVENTS_PER_BATCH,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            produce_timeout: DEFAULT_PRODUCE_TIMEOUT,
            rate_limit: None,
            trust_forwarded_for: false,
        }
    }
}

/// Shared state of the gateway's handlers.
#[derive(Clone)]
pub struct GatewayState {
    pub(crate) config: Arc<GatewayConfig>,
    pub(crate) bus: Arc<dyn Bus>,
    pub(crate) metrics: GatewayMetrics,
    pub(crate) limiter: Option<Arc<RateLimiter>>,
}

impl GatewayState {
    /// Builds the state from its parts.
    pub fn new(config: GatewayConfig, bus: Arc<dyn Bus>, metrics: GatewayMetrics) -> Self {
        let limiter = config
            .rate_limit
            .map(|limit| Arc::new(RateLimiter::new(limit, Instant::now())));
        GatewayState {
            config: Arc::new(config),
            bus,
            metrics,
            limiter,
        }
    }
}

/// The gateway's routes when it runs alone: `POST /events` and `GET /health`.
///
/// Per-IP rate limits need the peer address: serve the router with
/// `into_make_service_with_connect_info::<SocketAddr>()`. Without it (and without a trusted
/// `X-Forwarded-For`) all keyless clients share one bucket.
pub fn router(state: GatewayState) -> OpenApiRouter {
    events_router(state).routes(routes!(handler::health))
}

/// Just `POST /events`, to merge into a router that has its own `/health` (`raceway up`).
pub fn events_router(state: GatewayState) -> OpenApiRouter {
    let body_limit = state.config.max_body_bytes;
    OpenApiRouter::new()
        .routes(routes!(handler::post_events))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

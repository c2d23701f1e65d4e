//! The gateway's Prometheus metrics.

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// Counters of accepted and rejected events and of answered requests.
#[derive(Clone)]
pub struct GatewayMetrics {
    pub(crate) events_accepted: IntCounter,
    pub(crate) events_rejected: IntCounter,
    pub(crate) requests: IntCounterVec,
    pub(crate) requests_rejected: IntCounterVec,
    pub(crate) rate_limit_clients: IntGauge,
}

impl GatewayMetrics {
    /// Creates the counters and registers them in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let events_accepted = IntCounter::new(
            "raceway_gateway_events_accepted_total",
            "Events accepted and made durable on the bus",
        )?;
        let events_rejected = IntCounter::new(
            "raceway_gateway_events_rejected_total",
            "Events rejected by validation",
        )?;
        let requests = IntCounterVec::new(
            Opts::new(
                "raceway_gateway_requests_total",
                "POST /events requests by status",
            ),
            &["status"],
        )?;
        let requests_rejected = IntCounterVec::new(
            Opts::new(
                "raceway_gateway_requests_rejected_total",
                "POST /events requests refused by a limit, by reason (too_large: 413, \
                 rate_limited: 429)",
            ),
            &["reason"],
        )?;
        let rate_limit_clients = IntGauge::new(
            "raceway_gateway_rate_limit_clients",
            "Clients (API keys or IPs) with a rate-limit bucket in memory",
        )?;
        registry.register(Box::new(events_accepted.clone()))?;
        registry.register(Box::new(events_rejected.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(requests_rejected.clone()))?;
        registry.register(Box::new(rate_limit_clients.clone()))?;
        Ok(GatewayMetrics {
            events_accepted,
            events_rejected,
            requests,
            requests_rejected,
            rate_limit_clients,
        })
    }
}

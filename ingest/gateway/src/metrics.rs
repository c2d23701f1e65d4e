//! The gateway's Prometheus metrics.

use prometheus::{IntCounter, IntCounterVec, Opts, Registry};

/// Counters of accepted and rejected events and of answered requests.
#[derive(Clone)]
pub struct GatewayMetrics {
    pub(crate) events_accepted: IntCounter,
    pub(crate) events_rejected: IntCounter,
    pub(crate) requests: IntCounterVec,
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
        registry.register(Box::new(events_accepted.clone()))?;
        registry.register(Box::new(events_rejected.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        Ok(GatewayMetrics {
            events_accepted,
            events_rejected,
            requests,
        })
    }
}

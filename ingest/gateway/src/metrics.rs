//! The gateway's Prometheus metrics.

use prometheus::{
    exponential_buckets, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry,
};

/// Counters of accepted and rejected events and of answered requests.
#[derive(Clone)]
pub struct GatewayMetrics {
    pub(crate) events_accepted: IntCounter,
    pub(crate) events_rejected: IntCounter,
    pub(crate) records_produced: IntCounter,
    pub(crate) requests: IntCounterVec,
    pub(crate) requests_rejected: IntCounterVec,
    pub(crate) rate_limit_clients: IntGauge,
    /// Seconds from a request's records handed to the bus until all are durable: with the
    /// client's wait for its answer, most of a request's time on a busy broker.
    pub(crate) produce_seconds: Histogram,
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
        let records_produced = IntCounter::new(
            "raceway_gateway_records_produced_total",
            "Records (per-trace event batches) made durable on the bus",
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
        let produce_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "raceway_gateway_produce_seconds",
                "Seconds per POST /events from its records handed to the bus until all are \
                 durable (failed and timed-out produces included)",
            )
            .buckets(exponential_buckets(0.001, 2.0, 16)?),
        )?;
        registry.register(Box::new(events_accepted.clone()))?;
        registry.register(Box::new(events_rejected.clone()))?;
        registry.register(Box::new(records_produced.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(requests_rejected.clone()))?;
        registry.register(Box::new(rate_limit_clients.clone()))?;
        registry.register(Box::new(produce_seconds.clone()))?;
        Ok(GatewayMetrics {
            events_accepted,
            events_rejected,
            records_produced,
            requests,
            requests_rejected,
            rate_limit_clients,
            produce_seconds,
        })
    }
}

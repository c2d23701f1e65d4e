//! Prometheus metrics of a tracer: [`TracerMetrics`], a collector over its counters.

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{IntCounterVec, Opts};

use crate::tracer::Tracer;

/// A Prometheus collector of a tracer's counters, labelled with the service:
/// `raceway_sdk_events_total{service, outcome}` with outcome `queued`, `delivered`,
/// `dropped_queue_full` and `dropped_undeliverable`, and `raceway_sdk_batches_delivered_total`.
///
/// Register it once: `registry.register(Box::new(TracerMetrics::new(tracer.clone())))`.
pub struct TracerMetrics {
    tracer: Tracer,
    events: IntCounterVec,
    batches: IntCounterVec,
}

impl TracerMetrics {
    /// A collector reading `tracer`'s counters at each scrape.
    pub fn new(tracer: Tracer) -> TracerMetrics {
        // Fixed names and labels: creating the vectors cannot fail.
        let events = IntCounterVec::new(
            Opts::new(
                "raceway_sdk_events_total",
                "Events recorded by the Raceway SDK, by outcome",
            ),
            &["service", "outcome"],
        )
        .expect("valid metric definition");
        let batches = IntCounterVec::new(
            Opts::new(
                "raceway_sdk_batches_delivered_total",
                "Batches the Raceway SDK's sink accepted",
            ),
            &["service"],
        )
        .expect("valid metric definition");
        TracerMetrics {
            tracer,
            events,
            batches,
        }
    }
}

impl Collector for TracerMetrics {
    fn desc(&self) -> Vec<&Desc> {
        let mut descs = self.events.desc();
        descs.extend(self.batches.desc());
        descs
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let stats = self.tracer.stats();
        let service = self.tracer.config().service.as_str();
        for (outcome, value) in [
            ("queued", stats.queued),
            ("delivered", stats.delivered_events),
            ("dropped_queue_full", stats.dropped_queue_full),
            ("dropped_undeliverable", stats.dropped_undeliverable),
        ] {
            let counter = self.events.with_label_values(&[service, outcome]);
            // Counters only go up: add what happened since the last scrape.
            counter.inc_by(value.saturating_sub(counter.get()));
        }
        let batches = self.batches.with_label_values(&[service]);
        batches.inc_by(stats.delivered_batches.saturating_sub(batches.get()));
        let mut families = self.events.collect();
        families.extend(self.batches.collect());
        families
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemorySink, TracerConfig};

    #[test]
    fn counters_are_exported_per_outcome() {
        let tracer = Tracer::new(TracerConfig::new("svc"), MemorySink::new()).unwrap();
        let mut actor = tracer.start_trace("main");
        actor.write("x", &0, &1);
        actor.write("x", &1, &2);
        tracer.shutdown_blocking().unwrap();
        actor.write("x", &2, &3); // after shutdown: dropped
        let registry = prometheus::Registry::new();
        registry
            .register(Box::new(TracerMetrics::new(tracer.clone())))
            .unwrap();
        let text = prometheus::TextEncoder::new()
            .encode_to_string(&registry.gather())
            .unwrap();
        assert!(
            text.contains(r#"raceway_sdk_events_total{outcome="delivered",service="svc"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"raceway_sdk_events_total{outcome="dropped_queue_full",service="svc"} 1"#
            ),
            "{text}"
        );
    }
}

//! The processors' Prometheus metrics.

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// Counters and gauges of both processor stages.
#[derive(Clone)]
pub struct ProcessorMetrics {
    /// Records consumed, by topic.
    pub records_consumed: IntCounterVec,
    /// Records sent to the dead-letter topic, by source topic.
    pub dead_letters: IntCounterVec,
    /// Store calls that failed (and were retried).
    pub store_failures: IntCounter,
    /// Traces currently assembling in the trace stage.
    pub open_traces: IntGauge,
    /// Traces analysed at completion.
    pub traces_completed: IntCounter,
    /// Race-stage inputs (accesses, update spans, lock-order edges) forwarded to the race stage.
    pub accesses_forwarded: IntCounter,
    /// Inputs (accesses, spans, lock-order edges) the race stage currently retains.
    pub retained_accesses: IntGauge,
    /// Findings written (new or changed).
    pub findings_written: IntCounter,
}

impl ProcessorMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let metrics = ProcessorMetrics {
            records_consumed: IntCounterVec::new(
                Opts::new(
                    "raceway_records_consumed_total",
                    "Records consumed, by topic",
                ),
                &["topic"],
            )?,
            dead_letters: IntCounterVec::new(
                Opts::new(
                    "raceway_dead_letters_total",
                    "Records sent to the dead-letter topic, by source topic",
                ),
                &["topic"],
            )?,
            store_failures: IntCounter::new(
                "raceway_store_failures_total",
                "Store calls that failed and were retried",
            )?,
            open_traces: IntGauge::new("raceway_open_traces", "Traces still assembling")?,
            traces_completed: IntCounter::new(
                "raceway_traces_completed_total",
                "Traces analysed at completion",
            )?,
            accesses_forwarded: IntCounter::new(
                "raceway_accesses_forwarded_total",
                "Race-stage inputs (accesses, update spans, lock-order edges) forwarded",
            )?,
            retained_accesses: IntGauge::new(
                "raceway_retained_accesses",
                "Accesses, update spans and lock-order edges retained by the race detectors",
            )?,
            findings_written: IntCounter::new(
                "raceway_findings_written_total",
                "Findings written to the store (new or changed)",
            )?,
        };
        registry.register(Box::new(metrics.records_consumed.clone()))?;
        registry.register(Box::new(metrics.dead_letters.clone()))?;
        registry.register(Box::new(metrics.store_failures.clone()))?;
        registry.register(Box::new(metrics.open_traces.clone()))?;
        registry.register(Box::new(metrics.traces_completed.clone()))?;
        registry.register(Box::new(metrics.accesses_forwarded.clone()))?;
        registry.register(Box::new(metrics.retained_accesses.clone()))?;
        registry.register(Box::new(metrics.findings_written.clone()))?;
        Ok(metrics)
    }
}

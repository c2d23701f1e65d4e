//! The processors' Prometheus metrics (and the readiness `/ready` reports, which the same
//! stage loop updates).

use prometheus::{
    exponential_buckets, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, IntGaugeVec, Opts, Registry,
};

use crate::readiness::Readiness;

/// Counters, gauges and histograms of both processor stages.
#[derive(Clone)]
pub struct ProcessorMetrics {
    /// Records consumed, by topic.
    pub records_consumed: IntCounterVec,
    /// Records produced (forwarded inputs, dead letters), by topic.
    pub records_produced: IntCounterVec,
    /// Records between each assigned partition's consumer position and its end.
    pub consumer_lag: IntGaugeVec,
    /// Seconds to handle one polled batch, by stage (consumer group).
    pub batch_seconds: HistogramVec,
    /// Seconds from a record's produce (its bus timestamp) to its poll, by topic: the bus's
    /// share of the latency from an event accepted to its race queryable.
    pub record_wait_seconds: HistogramVec,
    /// Per completed trace, seconds from its last event consumed to each step of its
    /// completion (`found due`, `events written`, `inputs forwarded`, `stored`, `forwarded`).
    pub completion_seconds: HistogramVec,
    /// Records sent to the dead-letter topic, by source topic.
    pub dead_letters: IntCounterVec,
    /// Seconds per successful store call, by operation (retries included).
    pub store_seconds: HistogramVec,
    /// Seconds per bus call of a stage's loop, by consumer group and operation: each produce
    /// until durable (retries included), each offset commit, each poll (its wait included).
    pub bus_seconds: HistogramVec,
    /// Store calls that failed (and were retried).
    pub store_failures: IntCounter,
    /// Events the trace stage wrote to the store (replays included).
    pub events_written: IntCounter,
    /// Traces currently assembling in the trace stage.
    pub open_traces: IntGauge,
    /// Events of open traces the trace stage holds in memory (bounded by configuration).
    pub open_trace_events: IntGauge,
    /// Traces completed from events read back from the store rather than from memory.
    pub traces_read_back: IntCounter,
    /// Traces analysed at completion.
    pub traces_completed: IntCounter,
    /// Race-stage inputs (accesses, update spans, lock-order edges) forwarded to the race stage.
    pub accesses_forwarded: IntCounter,
    /// Vector clock entries per forwarded access: clocks that grow without bound are a cost.
    pub clock_entries: Histogram,
    /// Inputs (accesses, spans, lock-order edges) the race stage currently retains.
    pub retained_accesses: IntGauge,
    /// Inputs the race stage forgot before their window ended, because it held its bound.
    pub race_inputs_evicted: IntCounter,
    /// Findings written (new or changed).
    pub findings_written: IntCounter,
    /// Readiness of the process's stages.
    pub readiness: Readiness,
    /// Duration anomalies found at trace completion, by severity.
    pub duration_anomalies: IntCounterVec,
    /// Unusual sequences found at trace completion, by severity.
    pub sequence_anomalies: IntCounterVec,
    /// Version of the trace models scoring completed traces (0: none yet).
    pub model_version: IntGauge,
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
            records_produced: IntCounterVec::new(
                Opts::new(
                    "raceway_records_produced_total",
                    "Records produced by the stages, by topic",
                ),
                &["topic"],
            )?,
            consumer_lag: IntGaugeVec::new(
                Opts::new(
                    "raceway_consumer_lag",
                    "Records between the consumer position and the end of each assigned partition",
                ),
                &["topic", "partition"],
            )?,
            batch_seconds: HistogramVec::new(
                HistogramOpts::new(
                    "raceway_batch_processing_seconds",
                    "Seconds to handle one polled batch, by consumer group",
                )
                .buckets(exponential_buckets(0.001, 2.0, 16)?),
                &["group"],
            )?,
            record_wait_seconds: HistogramVec::new(
                HistogramOpts::new(
                    "raceway_record_wait_seconds",
                    "Seconds from a record's produce (its bus timestamp) to its poll, by topic",
                )
                .buckets(latency_buckets()?),
                &["topic"],
            )?,
            completion_seconds: HistogramVec::new(
                HistogramOpts::new(
                    "raceway_trace_completion_seconds",
                    "Per completed trace, seconds from its last event consumed to each step of \
                     its completion: found due, events written, inputs forwarded, stored, forwarded",
                )
                .buckets(latency_buckets()?),
                &["step"],
            )?,
            dead_letters: IntCounterVec::new(
                Opts::new(
                    "raceway_dead_letters_total",
                    "Records sent to the dead-letter topic, by source topic",
                ),
                &["topic"],
            )?,
            store_seconds: HistogramVec::new(
                HistogramOpts::new(
                    "raceway_store_write_seconds",
                    "Seconds per store call until it succeeded (retries included), by operation",
                )
                .buckets(exponential_buckets(0.001, 2.0, 16)?),
                &["operation"],
            )?,
            bus_seconds: HistogramVec::new(
                HistogramOpts::new(
                    "raceway_bus_call_seconds",
                    "Seconds per bus call of a stage (produce until durable, commit, poll), by \
                     consumer group and operation",
                )
                .buckets(exponential_buckets(0.001, 2.0, 16)?),
                &["group", "operation"],
            )?,
            store_failures: IntCounter::new(
                "raceway_store_failures_total",
                "Store calls that failed and were retried",
            )?,
            events_written: IntCounter::new(
                "raceway_events_written_total",
                "Events the trace stage wrote to the store (replayed records included)",
            )?,
            open_traces: IntGauge::new("raceway_open_traces", "Traces still assembling")?,
            open_trace_events: IntGauge::new(
                "raceway_open_trace_events",
                "Events of open traces held in the trace stage's memory",
            )?,
            traces_read_back: IntCounter::new(
                "raceway_traces_read_back_total",
                "Traces completed from events read back from the store (re-opened, or evicted \
                 from memory by the open-trace events bound)",
            )?,
            traces_completed: IntCounter::new(
                "raceway_traces_completed_total",
                "Traces analysed at completion",
            )?,
            accesses_forwarded: IntCounter::new(
                "raceway_accesses_forwarded_total",
                "Race-stage inputs (accesses, update spans, lock-order edges) forwarded",
            )?,
            clock_entries: Histogram::with_opts(
                HistogramOpts::new(
                    "raceway_clock_entries",
                    "Vector clock entries per forwarded access",
                )
                .buckets(exponential_buckets(1.0, 2.0, 12)?),
            )?,
            retained_accesses: IntGauge::new(
                "raceway_retained_accesses",
                "Accesses, update spans and lock-order edges retained by the race detectors",
            )?,
            race_inputs_evicted: IntCounter::new(
                "raceway_race_inputs_evicted_total",
                "Race-stage inputs forgotten before their window ended, past --max-retained-inputs",
            )?,
            findings_written: IntCounter::new(
                "raceway_findings_written_total",
                "Findings written to the store (new or changed)",
            )?,
            readiness: Readiness::default().with_gauge(IntGaugeVec::new(
                Opts::new(
                    "raceway_stage_ready",
                    "1 when the stage holds partitions and is caught up (as /ready), else 0",
                ),
                &["stage"],
            )?),
            duration_anomalies: IntCounterVec::new(
                Opts::new(
                    "raceway_duration_anomalies_total",
                    "Duration anomalies found at trace completion, by severity",
                ),
                &["severity"],
            )?,
            sequence_anomalies: IntCounterVec::new(
                Opts::new(
                    "raceway_sequence_anomalies_total",
                    "Unusual step sequences found at trace completion, by severity",
                ),
                &["severity"],
            )?,
            model_version: IntGauge::new(
                "raceway_trace_model_version",
                "Version of the trace models scoring completed traces (0: none yet)",
            )?,
        };
        registry.register(Box::new(metrics.records_consumed.clone()))?;
        registry.register(Box::new(metrics.records_produced.clone()))?;
        registry.register(Box::new(metrics.consumer_lag.clone()))?;
        registry.register(Box::new(metrics.batch_seconds.clone()))?;
        registry.register(Box::new(metrics.record_wait_seconds.clone()))?;
        registry.register(Box::new(metrics.completion_seconds.clone()))?;
        registry.register(Box::new(metrics.dead_letters.clone()))?;
        registry.register(Box::new(metrics.store_seconds.clone()))?;
        registry.register(Box::new(metrics.bus_seconds.clone()))?;
        registry.register(Box::new(metrics.store_failures.clone()))?;
        registry.register(Box::new(metrics.events_written.clone()))?;
        registry.register(Box::new(metrics.open_traces.clone()))?;
        registry.register(Box::new(metrics.open_trace_events.clone()))?;
        registry.register(Box::new(metrics.traces_read_back.clone()))?;
        registry.register(Box::new(metrics.traces_completed.clone()))?;
        registry.register(Box::new(metrics.accesses_forwarded.clone()))?;
        registry.register(Box::new(metrics.clock_entries.clone()))?;
        registry.register(Box::new(metrics.retained_accesses.clone()))?;
        registry.register(Box::new(metrics.race_inputs_evicted.clone()))?;
        registry.register(Box::new(metrics.findings_written.clone()))?;
        registry.register(Box::new(metrics.duration_anomalies.clone()))?;
        registry.register(Box::new(metrics.sequence_anomalies.clone()))?;
        registry.register(Box::new(metrics.model_version.clone()))?;
        if let Some(gauge) = metrics.readiness.gauge() {
            registry.register(Box::new(gauge))?;
        }
        Ok(metrics)
    }
}

/// Buckets of the latency histograms: 5 ms to 11 s in steps of 1.5x, fine enough to tell a
/// 100 ms wait from a 300 ms one.
fn latency_buckets() -> prometheus::Result<Vec<f64>> {
    exponential_buckets(0.005, 1.5, 20)
}

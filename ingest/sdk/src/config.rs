//! [`TracerConfig`]: who is recording and how events are buffered and batched.

use std::time::Duration;

use crate::setters::setters;

/// Configuration of a [`crate::Tracer`], set once when the tracer is created.
///
/// `service` and `instance` name every actor's clock component
/// (`"{service}#{instance}/{actor}"`), so `instance` must be unique per running process: two
/// processes that share an instance name would share clock components and corrupt each other's
/// happens-before. [`TracerConfig::new`] picks a random instance id for that reason.
#[derive(Debug, Clone, PartialEq)]
pub struct TracerConfig {
    /// Name of the service (`metadata.service_name`).
    pub service: String,
    /// Name of this running instance of the service (`metadata.instance_id`); unique per process.
    pub instance: String,
    /// Deployment environment (`metadata.environment`); variables are named per environment.
    pub environment: String,
    /// When false, nothing is recorded: every recording call returns at once.
    pub enabled: bool,
    /// Capacity of the queue between recording and delivery. When it is full, new events are
    /// dropped and counted ([`crate::Tracer::dropped_events`]); recording never blocks.
    /// Clamped to 1 ..= 2^28.
    pub buffer_capacity: usize,
    /// Most events of one trace sent in one batch (at least 1 is used).
    pub batch_max_events: usize,
    /// Longest time an event waits in a partial batch before the batch is delivered.
    pub flush_interval: Duration,
    /// Fraction of traces recorded, 0.0 ..= 1.0. The decision is a function of the trace id, so
    /// every service with the same rate records the same traces; a trace continued from a
    /// caller follows the caller's decision (the `traceparent` sampled flag).
    pub sample_rate: f64,
    /// A clock forgets the components of actors that finished (were joined) longer ago than
    /// this, so clocks stay small in long-lived actors. Keep it above the race window: events
    /// of a forgotten actor no longer order against later ones.
    pub prune_finished_after: Duration,
}

impl TracerConfig {
    /// Default queue capacity, in events.
    pub const DEFAULT_BUFFER_CAPACITY: usize = 65_536;
    /// Default [`TracerConfig::batch_max_events`].
    pub const DEFAULT_BATCH_MAX_EVENTS: usize = 256;
    /// Default [`TracerConfig::flush_interval`].
    pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_millis(5);

    /// Default [`TracerConfig::prune_finished_after`].
    pub const DEFAULT_PRUNE_FINISHED_AFTER: Duration = Duration::from_secs(60);

    /// A configuration for `service` with a random instance id, environment `"development"`,
    /// recording enabled and the default buffer and batch sizes.
    pub fn new(service: impl Into<String>) -> TracerConfig {
        let random = uuid::Uuid::new_v4().simple().to_string();
        TracerConfig {
            service: service.into(),
            instance: random[..12].to_string(),
            environment: "development".to_string(),
            enabled: true,
            buffer_capacity: Self::DEFAULT_BUFFER_CAPACITY,
            batch_max_events: Self::DEFAULT_BATCH_MAX_EVENTS,
            flush_interval: Self::DEFAULT_FLUSH_INTERVAL,
            sample_rate: 1.0,
            prune_finished_after: Self::DEFAULT_PRUNE_FINISHED_AFTER,
        }
    }

    /// Sets [`TracerConfig::sample_rate`] (clamped to 0.0 ..= 1.0; NaN records nothing).
    pub fn sample_rate(mut self, rate: f64) -> TracerConfig {
        self.sample_rate = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 1.0)
        };
        self
    }

    /// True when a new trace with this id is recorded under [`TracerConfig::sample_rate`].
    pub(crate) fn samples(&self, trace_id: uuid::Uuid) -> bool {
        if self.sample_rate >= 1.0 {
            return true;
        }
        // The low 62 bits of a v4 UUID are random (the two above them are the variant): a
        // uniform draw that every service agrees on.
        const RANDOM_BITS: u32 = 62;
        let random = trace_id.as_u128() as u64 & ((1 << RANDOM_BITS) - 1);
        let draw = random as f64 / (1_u64 << RANDOM_BITS) as f64;
        draw < self.sample_rate
    }

    /// The clock component of actor `actor` of this service instance.
    pub(crate) fn component(&self, actor: &str) -> String {
        format!("{}#{}/{}", self.service, self.instance, actor)
    }
}

setters!(TracerConfig {
    enabled: bool,
    buffer_capacity: usize,
    batch_max_events: usize,
    flush_interval: Duration,
    prune_finished_after: Duration,
} into {
    instance: String,
    environment: String,
});

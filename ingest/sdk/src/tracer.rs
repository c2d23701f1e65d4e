//! [`Tracer`]: the configured recorder an application creates once and clones freely.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use raceway_schemas::{Metadata, VectorClock, TRUSTED_CLOCK_TAG, TRUSTED_CLOCK_VALUE};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::actor::Actor;
use crate::config::TracerConfig;
use crate::delivery::{self, Ack, Control, Counters};
use crate::error::SdkError;
use crate::prune::FinishedActors;
use crate::recorded::{qualified, Recorded};
use crate::sink::Sink;

/// Largest queue capacity used, whatever the configuration asks for.
const MAX_BUFFER_CAPACITY: usize = 1 << 28;

/// The recorder of one service instance. Create it once with [`Tracer::new`]; clones share
/// everything (an `Arc` inside).
///
/// Recording happens through [`Actor`]s ([`Tracer::start_trace`]). Recorded events go into a
/// bounded queue and never block the recording thread: when the queue is full the event is
/// dropped and counted ([`Tracer::dropped_events`]). A background thread named
/// `raceway-delivery` (with its own small tokio runtime, so recording works from plain std
/// threads and from any runtime) groups the events per trace into batches and hands them to the
/// [`Sink`]. Call [`Tracer::shutdown`] (or [`Tracer::shutdown_blocking`]) before the process
/// exits to deliver what is still buffered.
#[derive(Clone)]
pub struct Tracer {
    inner: Arc<Inner>,
}

struct Inner {
    config: TracerConfig,
    events: mpsc::Sender<Recorded>,
    control: mpsc::UnboundedSender<Control>,
    counters: Arc<Counters>,
    closed: AtomicBool,
    actor_seq: AtomicU64,
    finished: FinishedActors,
    /// `"{service}#{instance}::"`, the prefix of in-process variable and lock names.
    qualifier: String,
}

/// Counters of a tracer's recording and delivery, see [`Tracer::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TracerStats {
    /// Events recorded and accepted into the queue.
    pub queued: u64,
    /// Events dropped because the queue was full or the tracer was shut down.
    pub dropped_queue_full: u64,
    /// Events dropped because the sink failed to deliver their batch (after its retries).
    pub dropped_undeliverable: u64,
    /// Events the sink accepted.
    pub delivered_events: u64,
    /// Batches the sink accepted.
    pub delivered_batches: u64,
}

impl Tracer {
    /// Creates the tracer and starts its delivery thread, which hands batches to `sink`.
    ///
    /// Works inside or outside a tokio runtime. Fails only when the thread or its runtime
    /// cannot be started.
    pub fn new<S: Sink + 'static>(config: TracerConfig, sink: S) -> Result<Tracer, SdkError> {
        let (events, events_rx) =
            mpsc::channel(config.buffer_capacity.clamp(1, MAX_BUFFER_CAPACITY));
        let (control, control_rx) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        let qualifier = format!("{}#{}::", config.service, config.instance);
        delivery::start(
            delivery::Settings {
                batch_max_events: config.batch_max_events.max(1),
                flush_interval: config.flush_interval,
                qualifier: qualifier.clone(),
            },
            Arc::new(sink),
            metadata_template(&config),
            events_rx,
            control_rx,
            counters.clone(),
        )?;
        Ok(Tracer {
            inner: Arc::new(Inner {
                config,
                events,
                control,
                counters,
                closed: AtomicBool::new(false),
                actor_seq: AtomicU64::new(0),
                finished: FinishedActors::default(),
                qualifier,
            }),
        })
    }

    /// The configuration the tracer was created with.
    pub fn config(&self) -> &TracerConfig {
        &self.inner.config
    }

    /// True when recording is enabled ([`TracerConfig::enabled`]).
    pub fn is_enabled(&self) -> bool {
        self.inner.config.enabled
    }

    /// Starts a new trace (a fresh trace id) with its first actor, labelled `name`.
    ///
    /// Actor names get a per-tracer sequence number appended (`"main"` becomes `"main-1"`), so
    /// two actors never share a clock component even when they share a label. Whether the trace
    /// is recorded at all follows [`TracerConfig::sample_rate`]; an actor of an unsampled trace
    /// records nothing but still works (spawn, join, locks).
    pub fn start_trace(&self, name: &str) -> Actor {
        self.actor_in_trace(name, Uuid::new_v4())
    }

    /// A new actor, labelled `name`, that records into the existing trace `trace_id` (for
    /// example a trace continued from another service). Its clock starts empty; sampling is
    /// decided from the trace id like [`Tracer::start_trace`] does.
    pub fn actor_in_trace(&self, name: &str, trace_id: Uuid) -> Actor {
        let sampled = self.inner.config.samples(trace_id);
        self.actor_continuing(name, trace_id, VectorClock::new(), sampled)
    }

    /// A new actor, labelled `name`, continuing trace `trace_id` after synchronising with
    /// `clock` (a caller's clock from propagation headers), recorded when `sampled`.
    pub fn actor_continuing(
        &self,
        name: &str,
        trace_id: Uuid,
        clock: VectorClock,
        sampled: bool,
    ) -> Actor {
        Actor::new(
            self.clone(),
            self.unique_name(name),
            trace_id,
            clock,
            sampled,
        )
    }

    /// Events dropped so far: queue full, tracer shut down, or undeliverable batches.
    pub fn dropped_events(&self) -> u64 {
        let stats = self.stats();
        stats.dropped_queue_full + stats.dropped_undeliverable
    }

    /// A snapshot of the recording and delivery counters.
    pub fn stats(&self) -> TracerStats {
        self.inner.counters.snapshot()
    }

    /// Delivers every event recorded before this call, then returns. The tracer keeps working.
    pub async fn flush(&self) -> Result<(), SdkError> {
        let (ack, done) = tokio::sync::oneshot::channel();
        self.send_control(Control::Flush(Ack::Async(ack)))?;
        done.await.map_err(|_| SdkError::ShutDown)
    }

    /// Delivers everything buffered and stops the delivery thread. Events recorded afterwards
    /// are dropped and counted.
    pub async fn shutdown(&self) -> Result<(), SdkError> {
        self.inner.closed.store(true, Ordering::SeqCst);
        let (ack, done) = tokio::sync::oneshot::channel();
        self.send_control(Control::Shutdown(Ack::Async(ack)))?;
        done.await.map_err(|_| SdkError::ShutDown)
    }

    /// [`Tracer::flush`] for code without an async context: blocks the calling thread.
    pub fn flush_blocking(&self) -> Result<(), SdkError> {
        let (ack, done) = std::sync::mpsc::channel();
        self.send_control(Control::Flush(Ack::Blocking(ack)))?;
        done.recv().map_err(|_| SdkError::ShutDown)
    }

    /// [`Tracer::shutdown`] for code without an async context: blocks the calling thread.
    pub fn shutdown_blocking(&self) -> Result<(), SdkError> {
        self.inner.closed.store(true, Ordering::SeqCst);
        let (ack, done) = std::sync::mpsc::channel();
        self.send_control(Control::Shutdown(Ack::Blocking(ack)))?;
        done.recv().map_err(|_| SdkError::ShutDown)
    }

    fn send_control(&self, control: Control) -> Result<(), SdkError> {
        self.inner
            .control
            .send(control)
            .map_err(|_| SdkError::ShutDown)
    }

    pub(crate) fn unique_name(&self, name: &str) -> String {
        let seq = self.inner.actor_seq.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{name}-{seq}")
    }

    /// Remembers that the actor with clock component `component` finished.
    pub(crate) fn actor_finished(&self, component: &str) {
        self.inner.finished.finished(component);
    }

    /// Drops the components of long-finished actors from `clock` (never `own`).
    pub(crate) fn prune(&self, clock: &mut VectorClock, own: &str) -> usize {
        self.inner
            .finished
            .prune(clock, own, self.inner.config.prune_finished_after)
    }

    /// The clock component of the actor named `actor`.
    pub(crate) fn component(&self, actor: &str) -> String {
        self.inner.config.component(actor)
    }

    /// Qualifies an in-process name (variable or lock) with the service and instance.
    pub(crate) fn qualify(&self, name: &str) -> String {
        qualified(&self.inner.qualifier, name)
    }

    /// Queues `event` for delivery without blocking; drops and counts it when the queue is full.
    pub(crate) fn emit(&self, event: Recorded) {
        let counters = &self.inner.counters;
        if self.inner.closed.load(Ordering::Relaxed) {
            counters.dropped_queue_full.fetch_add(1, Ordering::Relaxed);
            return;
        }
        match self.inner.events.try_send(event) {
            Ok(()) => {
                counters.queued.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                let total = counters.dropped_queue_full.fetch_add(1, Ordering::Relaxed) + 1;
                if total.is_power_of_two() {
                    tracing::warn!(
                        dropped = total,
                        reason = %error,
                        "raceway: event queue full or closed, dropping events"
                    );
                }
            }
        }
    }
}

impl fmt::Debug for Tracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracer")
            .field("config", &self.inner.config)
            .field("stats", &self.stats())
            .finish()
    }
}

/// The metadata every event of this tracer shares (`thread_id` and spans are the actor's).
fn metadata_template(config: &TracerConfig) -> Metadata {
    let mut tags = BTreeMap::new();
    tags.insert(
        TRUSTED_CLOCK_TAG.to_string(),
        TRUSTED_CLOCK_VALUE.to_string(),
    );
    Metadata {
        thread_id: String::new(),
        process_id: std::process::id(),
        service_name: config.service.clone(),
        environment: config.environment.clone(),
        tags,
        duration_ns: None,
        instance_id: Some(config.instance.clone()),
        distributed_span_id: None,
        upstream_span_id: None,
    }
}

/// Nanoseconds since the Unix epoch, saturating.
pub(crate) fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

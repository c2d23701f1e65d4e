//! The delivery thread: drains the event queue, groups events per trace into batches of at most
//! `batch_max_events` events that wait at most `flush_interval`, and hands each batch to the sink.
//!
//! It runs on its own OS thread with a current-thread tokio runtime, so a tracer works the same
//! from plain std threads, from any tokio runtime, and while the application's runtime shuts
//! down. Batches are delivered one at a time; while the sink is slow (retrying), the queue fills
//! and new events are dropped and counted by the recording side.
//!
//! While events keep coming, the loop polls the queue every [`POLL_INTERVAL`] instead of waiting
//! on it. Waiting registers a waker, and the next recorded event must then wake this thread: a
//! futex system call of several microseconds on the application's thread, the largest part of a
//! recording's p99 when it happened every few hundred events. Polling leaves no waker
//! registered, so recording never makes a system call while the loop is busy. After one poll
//! finds the queue empty the loop waits on it again (an idle tracer costs no wake-ups), and the
//! first event after the pause pays one wake.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use raceway_schemas::{Event, EventBatch, Metadata};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use uuid::Uuid;

use crate::error::SdkError;
use crate::recorded::Recorded;
use crate::sink::Sink;
use crate::tracer::TracerStats;

/// Most events taken from the queue in one go before the loop looks at timers and control.
const DRAIN_CHUNK: usize = 1024;

/// How often a busy loop polls the queue (see the module doc). A full queue drops events, so
/// the queue must hold what an application records in this time: 65,536 events by default,
/// 65 million events per second.
const POLL_INTERVAL: Duration = Duration::from_millis(1);

/// Batching settings of the delivery loop.
pub(crate) struct Settings {
    pub batch_max_events: usize,
    pub flush_interval: Duration,
    /// `"{service}#{instance}::"`, the prefix of in-process variable and lock names.
    pub qualifier: String,
}

/// Requests from the tracer to the delivery loop.
pub(crate) enum Control {
    /// Deliver everything queued so far, then acknowledge.
    Flush(Ack),
    /// Deliver everything queued so far, acknowledge and stop.
    Shutdown(Ack),
}

/// How the delivery loop tells a waiting caller that it is done.
pub(crate) enum Ack {
    Async(oneshot::Sender<()>),
    Blocking(std::sync::mpsc::Sender<()>),
}

impl Ack {
    fn send(self) {
        // The caller may have stopped waiting; nothing to do then.
        let _ = match self {
            Ack::Async(sender) => sender.send(()).map_err(|_| ()),
            Ack::Blocking(sender) => sender.send(()).map_err(|_| ()),
        };
    }
}

/// Counters shared by the recording side and the delivery loop.
#[derive(Default)]
pub(crate) struct Counters {
    pub queued: AtomicU64,
    pub dropped_queue_full: AtomicU64,
    pub dropped_undeliverable: AtomicU64,
    pub delivered_events: AtomicU64,
    pub delivered_batches: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> TracerStats {
        TracerStats {
            queued: self.queued.load(Ordering::Relaxed),
            dropped_queue_full: self.dropped_queue_full.load(Ordering::Relaxed),
            dropped_undeliverable: self.dropped_undeliverable.load(Ordering::Relaxed),
            delivered_events: self.delivered_events.load(Ordering::Relaxed),
            delivered_batches: self.delivered_batches.load(Ordering::Relaxed),
        }
    }
}

/// Starts the delivery thread.
pub(crate) fn start(
    settings: Settings,
    sink: Arc<dyn Sink>,
    template: Metadata,
    events: mpsc::Receiver<Recorded>,
    control: mpsc::UnboundedReceiver<Control>,
    counters: Arc<Counters>,
) -> Result<(), SdkError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(SdkError::Start)?;
    let mut delivery = Delivery {
        settings,
        sink,
        template,
        counters,
        pending: HashMap::new(),
        deadlines: VecDeque::new(),
        next_generation: 0,
        chunk: Vec::with_capacity(DRAIN_CHUNK),
    };
    std::thread::Builder::new()
        .name("raceway-delivery".to_string())
        .spawn(move || runtime.block_on(delivery.run(events, control)))
        .map_err(SdkError::Start)?;
    Ok(())
}

/// The events of one trace waiting to be delivered.
struct Pending {
    events: Vec<Event>,
    /// Tells this batch apart from an earlier batch of the same trace in `deadlines`.
    generation: u64,
}

struct Delivery {
    settings: Settings,
    sink: Arc<dyn Sink>,
    /// The tracer's metadata, completed per event with its actor's label.
    template: Metadata,
    counters: Arc<Counters>,
    pending: HashMap<Uuid, Pending>,
    /// (deadline, trace, generation) in creation order, hence in deadline order.
    deadlines: VecDeque<(Instant, Uuid, u64)>,
    next_generation: u64,
    /// The events of one [`Delivery::take_chunk`], kept for its capacity.
    chunk: Vec<Recorded>,
}

impl Delivery {
    async fn run(
        &mut self,
        mut events: mpsc::Receiver<Recorded>,
        mut control: mpsc::UnboundedReceiver<Control>,
    ) {
        let mut control_open = true;
        // `busy`: events came recently, so the queue is polled rather than waited on.
        let mut busy = false;
        let mut poll = tokio::time::interval(POLL_INTERVAL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deadline = self.deadlines.front().map(|(at, _, _)| *at);
            tokio::select! {
                biased;
                request = control.recv(), if control_open => match request {
                    Some(Control::Flush(ack)) => {
                        self.drain(&mut events).await;
                        self.deliver_all().await;
                        ack.send();
                    }
                    Some(Control::Shutdown(ack)) => {
                        self.drain(&mut events).await;
                        self.deliver_all().await;
                        ack.send();
                        tracing::debug!("raceway: delivery stopped");
                        return;
                    }
                    None => control_open = false,
                },
                _ = poll.tick(), if busy => match self.take_chunk(&mut events).await {
                    // More may be waiting: take the next chunk as soon as timers and control
                    // have been looked at.
                    Taken::Full => poll.reset_immediately(),
                    Taken::Some => {}
                    Taken::Empty => busy = false,
                    Taken::Closed => {
                        self.deliver_all().await;
                        return;
                    }
                },
                event = events.recv(), if !busy => match event {
                    Some(event) => {
                        self.add(event).await;
                        match self.take_chunk(&mut events).await {
                            Taken::Closed => {
                                self.deliver_all().await;
                                return;
                            }
                            Taken::Full => poll.reset_immediately(),
                            Taken::Some | Taken::Empty => poll.reset(),
                        }
                        busy = true;
                    }
                    None => {
                        // Every tracer handle is gone: deliver what is left and stop.
                        self.deliver_all().await;
                        return;
                    }
                },
                () = sleep_until(deadline), if deadline.is_some() => self.deliver_expired().await,
            }
        }
    }

    /// Takes up to [`DRAIN_CHUNK`] events already in the queue, without waiting.
    ///
    /// They are taken in one `recv_many`, which returns their queue slots to the recording side
    /// at once: taken one by one, each event's slot was returned on its own (a lock and an update
    /// of the counter every `try_send` also updates), and while a chunk was drained the
    /// recording thread's sends contended for that counter with the delivery thread.
    async fn take_chunk(&mut self, events: &mut mpsc::Receiver<Recorded>) -> Taken {
        // Closed first: once closed, nothing more arrives, so an empty queue stays empty.
        let closed = events.is_closed();
        if events.is_empty() {
            return if closed { Taken::Closed } else { Taken::Empty };
        }
        let mut chunk = std::mem::take(&mut self.chunk);
        let taken = events.recv_many(&mut chunk, DRAIN_CHUNK).await;
        for event in chunk.drain(..) {
            self.add(event).await;
        }
        self.chunk = chunk;
        match taken {
            0 => Taken::Closed,
            DRAIN_CHUNK => Taken::Full,
            _ => Taken::Some,
        }
    }

    /// Takes every event already in the queue.
    async fn drain(&mut self, events: &mut mpsc::Receiver<Recorded>) {
        while let Ok(event) = events.try_recv() {
            self.add(event).await;
        }
    }

    async fn add(&mut self, recorded: Recorded) {
        let event = recorded.into_event(&self.template, &self.settings.qualifier);
        let trace_id = event.trace_id;
        let (deadlines, next_generation) = (&mut self.deadlines, &mut self.next_generation);
        let flush_interval = self.settings.flush_interval;
        let pending = self.pending.entry(trace_id).or_insert_with(|| {
            let generation = *next_generation;
            *next_generation += 1;
            deadlines.push_back((Instant::now() + flush_interval, trace_id, generation));
            Pending {
                events: Vec::new(),
                generation,
            }
        });
        pending.events.push(event);
        if pending.events.len() >= self.settings.batch_max_events {
            if let Some(full) = self.pending.remove(&trace_id) {
                self.deliver(trace_id, full.events).await;
            }
        }
    }

    async fn deliver_expired(&mut self) {
        let now = Instant::now();
        while let Some(&(deadline, trace_id, generation)) = self.deadlines.front() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_front();
            let current = self.pending.get(&trace_id).map(|p| p.generation);
            if current == Some(generation) {
                if let Some(expired) = self.pending.remove(&trace_id) {
                    self.deliver(trace_id, expired.events).await;
                }
            }
        }
    }

    async fn deliver_all(&mut self) {
        self.deadlines.clear();
        let pending: Vec<(Uuid, Pending)> = self.pending.drain().collect();
        for (trace_id, batch) in pending {
            self.deliver(trace_id, batch.events).await;
        }
    }

    async fn deliver(&self, trace_id: Uuid, events: Vec<Event>) {
        let count = events.len() as u64;
        if count == 0 {
            return;
        }
        match self.sink.deliver(EventBatch { trace_id, events }).await {
            Ok(()) => {
                self.counters
                    .delivered_events
                    .fetch_add(count, Ordering::Relaxed);
                self.counters
                    .delivered_batches
                    .fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                self.counters
                    .dropped_undeliverable
                    .fetch_add(count, Ordering::Relaxed);
                tracing::warn!(%trace_id, events = count, %error, "raceway: batch dropped");
            }
        }
    }
}

/// What [`Delivery::take_chunk`] found.
#[derive(Debug, PartialEq, Eq)]
enum Taken {
    /// A whole chunk: more may be waiting.
    Full,
    /// At least one event, fewer than a chunk.
    Some,
    /// No event: the queue was empty.
    Empty,
    /// Every tracer handle is gone and the queue is empty.
    Closed,
}

async fn sleep_until(deadline: Option<Instant>) {
    if let Some(deadline) = deadline {
        tokio::time::sleep_until(deadline).await;
    }
}

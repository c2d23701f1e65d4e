//! Queueing, batching and shutdown of the delivery thread.

mod common;

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use common::{clock, memory_tracer_with};
use raceway_schemas::EventBatch;
use raceway_sdk::{MemorySink, SdkError, Sink, Tracer, TracerConfig};

/// A sink that holds the delivery thread until the test opens the gate.
#[derive(Clone, Default)]
struct GatedSink {
    open: Arc<(Mutex<bool>, Condvar)>,
    inner: MemorySink,
}

impl GatedSink {
    fn open(&self) {
        let (lock, signal) = &*self.open;
        *lock.lock().unwrap() = true;
        signal.notify_all();
    }
}

#[async_trait]
impl Sink for GatedSink {
    async fn deliver(&self, batch: EventBatch) -> Result<(), SdkError> {
        {
            let (lock, signal) = &*self.open;
            let mut open = lock.lock().unwrap();
            while !*open {
                open = signal.wait(open).unwrap();
            }
        }
        self.inner.deliver(batch).await
    }
}

#[test]
fn a_full_queue_drops_and_counts_without_blocking() {
    let sink = GatedSink::default();
    let config = TracerConfig::new("svc")
        .buffer_capacity(1)
        .batch_max_events(1);
    let tracer = Tracer::new(config, sink.clone()).unwrap();
    let mut actor = tracer.start_trace("main");
    const RECORDED: u64 = 10_000;
    for n in 0..RECORDED {
        actor.write("counter", &n, &(n + 1));
    }
    // The sink is still closed, so this point is reached only because recording never waits.
    let dropped = tracer.dropped_events();
    assert!(dropped > 0, "a 1-slot queue behind a stuck sink must drop");

    sink.open();
    tracer.shutdown_blocking().unwrap();
    let stats = tracer.stats();
    assert_eq!(stats.queued + stats.dropped_queue_full, RECORDED);
    assert_eq!(stats.delivered_events, stats.queued);
    assert_eq!(stats.dropped_undeliverable, 0);
    assert_eq!(sink.inner.event_count() as u64, stats.delivered_events);
    assert_eq!(tracer.dropped_events(), stats.dropped_queue_full);
}

#[test]
fn batches_hold_one_trace_and_at_most_batch_max_events() {
    let sink = MemorySink::new();
    let config = TracerConfig::new("svc")
        .batch_max_events(4)
        .flush_interval(Duration::from_secs(3600));
    let tracer = Tracer::new(config, sink.clone()).unwrap();
    let mut a = tracer.start_trace("a");
    let mut b = tracer.start_trace("b");
    for n in 0..10 {
        a.write("x", &n, &(n + 1));
        b.write("y", &n, &(n + 1));
    }
    tracer.flush_blocking().unwrap();

    let batches = sink.batches();
    for batch in &batches {
        assert!(!batch.events.is_empty() && batch.events.len() <= 4);
        assert!(batch.events.iter().all(|e| e.trace_id == batch.trace_id));
    }
    for actor in [&a, &b] {
        let sizes: Vec<usize> = batches
            .iter()
            .filter(|batch| batch.trace_id == actor.trace_id())
            .map(|batch| batch.events.len())
            .collect();
        assert_eq!(sizes, [4, 4, 2]);
        // Events of a trace arrive in recording order.
        let counters: Vec<u64> = batches
            .iter()
            .filter(|batch| batch.trace_id == actor.trace_id())
            .flat_map(|batch| batch.events.iter())
            .map(|e| clock(e).get(actor.component()))
            .collect();
        assert_eq!(counters, (1..=10).collect::<Vec<u64>>());
    }
    // The tracer keeps working after a flush.
    a.read("x", &10);
    tracer.shutdown_blocking().unwrap();
    assert_eq!(sink.event_count(), 21);
}

/// Waits until `sink` holds `count` events (or 30 s passed: the assertions after it then fail).
fn wait_for_events(sink: &MemorySink, count: usize) {
    let give_up = Instant::now() + Duration::from_secs(30);
    while sink.event_count() < count && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn partial_batches_are_delivered_after_the_flush_interval() {
    let (tracer, sink) = memory_tracer_with(|c| c.flush_interval(Duration::from_millis(5)));
    let mut actor = tracer.start_trace("main");
    actor.write("x", &0, &1);
    actor.write("x", &1, &2);
    // No flush: the timer alone must deliver the partial batch.
    wait_for_events(&sink, 2);
    assert_eq!(sink.batches().len(), 1);
    assert_eq!(sink.event_count(), 2);
}

#[test]
fn dropping_every_handle_delivers_what_is_left() {
    let (tracer, sink) = memory_tracer_with(|c| c.flush_interval(Duration::from_secs(3600)));
    let mut actor = tracer.start_trace("main");
    actor.write("x", &0, &1);
    drop(actor);
    drop(tracer);
    wait_for_events(&sink, 1);
    assert_eq!(sink.event_count(), 1);
}

#[test]
fn a_disabled_tracer_records_nothing() {
    let sink = MemorySink::new();
    let tracer = Tracer::new(TracerConfig::new("svc").enabled(false), sink.clone()).unwrap();
    let mutex = raceway_sdk::TrackedMutex::new("m", 1);
    let mut actor = tracer.start_trace("main");
    let child = actor.spawn_child("c");
    *mutex.lock(&mut actor).unwrap() += 1;
    actor.write("x", &0, &1);
    actor.join(child);
    tracer.shutdown_blocking().unwrap();
    assert_eq!(sink.event_count(), 0);
    assert_eq!(tracer.stats(), Default::default());
    assert!(actor.clock().is_empty());
}

#[test]
fn events_after_shutdown_are_dropped_and_counted() {
    let (tracer, sink) = common::memory_tracer();
    let mut actor = tracer.start_trace("main");
    actor.write("x", &0, &1);
    tracer.shutdown_blocking().unwrap();
    actor.write("x", &1, &2);
    assert_eq!(sink.event_count(), 1);
    assert_eq!(tracer.dropped_events(), 1);
    assert!(matches!(tracer.flush_blocking(), Err(SdkError::ShutDown)));
}

#[tokio::test]
async fn async_flush_and_shutdown_work_inside_a_current_thread_runtime() {
    let (tracer, sink) = common::memory_tracer();
    let mut actor = tracer.start_trace("main");
    actor.write("x", &0, &1);
    tracer.flush().await.unwrap();
    assert_eq!(sink.event_count(), 1);
    actor.write("x", &1, &2);
    tracer.shutdown().await.unwrap();
    assert_eq!(sink.event_count(), 2);
}

/// The loop polls while events keep coming and waits on the queue once it found it empty; both
/// ways must deliver. Each burst is delivered (by its flush timer) before the next is recorded,
/// so the loop has gone back to waiting in between and the next burst's first event wakes it.
#[test]
fn bursts_after_pauses_are_delivered_without_a_flush() {
    let (tracer, sink) = memory_tracer_with(|c| c.flush_interval(Duration::from_millis(5)));
    let mut actor = tracer.start_trace("main");
    let mut recorded = 0;
    for burst in 0..5_u64 {
        for i in 0..(burst * 700 + 1) {
            actor.write("x", &i, &(i + 1));
            recorded += 1;
        }
        wait_for_events(&sink, recorded);
        assert_eq!(sink.event_count(), recorded, "burst {burst}");
    }
    assert_eq!(tracer.dropped_events(), 0);
}

/// A write's location is its caller's `file:line`, formatted on the delivery thread.
#[test]
fn a_write_is_located_at_its_caller() {
    let (tracer, sink) = memory_tracer_with(|c| c);
    let mut actor = tracer.start_trace("main");
    actor.write("x", &0, &1);
    let line = line!() - 1;
    actor.read("x", &1);
    let read_line = line!() - 1;
    tracer.shutdown_blocking().unwrap();
    let locations: Vec<String> = sink
        .batches()
        .iter()
        .flat_map(|b| b.events.iter())
        .filter_map(|e| e.state_change().map(|c| c.location.clone()))
        .collect();
    assert_eq!(
        locations,
        vec![
            format!("{}:{line}", file!()),
            format!("{}:{read_line}", file!())
        ]
    );
}

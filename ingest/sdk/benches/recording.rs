//! The cost of recording on the application's hot path: one event (median and p99, printed
//! before the criterion runs), and a tracked Mutex against a plain one.
//!
//! This target runs on the system allocator (glibc's malloc here); `recording_mimalloc` runs the
//! same code on mimalloc. The two differ most in the p99: every recorded event's strings are
//! allocated on the application's thread and freed on the delivery thread, and glibc's frees
//! into another thread's arena contend with that thread's next allocations.

use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use raceway_schemas::EventBatch;
use raceway_sdk::{Actor, SdkError, Sink, Tracer, TracerConfig, TrackedMutex};

/// Discards batches: the benchmark measures recording, not delivery.
struct DiscardSink;

#[async_trait]
impl Sink for DiscardSink {
    async fn deliver(&self, _batch: EventBatch) -> Result<(), SdkError> {
        Ok(())
    }
}

fn tracer(enabled: bool) -> Tracer {
    let config = TracerConfig::new("bench")
        .enabled(enabled)
        .buffer_capacity(1 << 20);
    Tracer::new(config, DiscardSink).expect("tracer")
}

/// Times `samples` single recordings one by one and prints the median and p99.
fn percentiles(label: &str, samples: usize, mut record: impl FnMut(u64)) {
    let mut timings = Vec::with_capacity(samples);
    for i in 0..samples as u64 {
        let started = Instant::now();
        record(i);
        timings.push(started.elapsed());
        if i % 4096 == 0 {
            // Let the delivery thread drain, so the queue never fills and drops.
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    timings.sort();
    let at = |q: f64| timings[((timings.len() as f64 - 1.0) * q) as usize];
    println!(
        "{label}: median {:?}, p99 {:?}, max {:?} over {samples} events",
        at(0.5),
        at(0.99),
        timings[timings.len() - 1]
    );
}

/// One recorded write per iteration, by `actor`.
fn bench_writes(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, actor: &mut Actor) {
    group.bench_function(name, |b| {
        let mut i = 0_u64;
        b.iter(|| {
            i += 1;
            actor.write("counter", black_box(&i), &(i + 1));
        })
    });
}

/// Runs every measurement (the `main` of both bench targets).
pub fn main() {
    let enabled = tracer(true);
    let mut actor = enabled.start_trace("bench");
    percentiles("record one write", 200_000, |i| {
        actor.write("counter", &i, &(i + 1))
    });
    let mutex = TrackedMutex::new("lock", 0_u64);
    percentiles("tracked mutex lock+unlock (2 events)", 100_000, |_| {
        *mutex.lock(&mut actor).expect("not poisoned") += 1;
    });
    let plain = Mutex::new(0_u64);
    percentiles("plain mutex lock+unlock", 100_000, |_| {
        *plain.lock().expect("not poisoned") += 1;
    });
    println!("dropped during percentiles: {}", enabled.dropped_events());

    let mut criterion = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let mut group = criterion.benchmark_group("recording");
    bench_writes(&mut group, "write event", &mut actor);
    let disabled = tracer(false);
    let mut off = disabled.start_trace("bench");
    bench_writes(&mut group, "write event, recording off", &mut off);
    group.bench_function("tracked mutex lock+unlock", |b| {
        b.iter(|| *mutex.lock(&mut actor).expect("not poisoned") += 1)
    });
    group.bench_function("plain mutex lock+unlock", |b| {
        b.iter(|| *plain.lock().expect("not poisoned") += 1)
    });
    group.finish();
    criterion.final_summary();
    println!("dropped in total: {}", enabled.dropped_events());
}

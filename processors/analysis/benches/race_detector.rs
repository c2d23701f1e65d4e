//! Benchmarks of the race analyses (not tests): `cargo bench -p raceway-analysis --bench
//! race_detector`.
//!
//! - `detector/1M-accesses`: accesses per second through [`RaceDetector::observe`] (with
//!   finding aggregation): 1,000,000 accesses to 1,000 variables by 16 actors, 10% writes, each
//!   access inside its variable's lock (trusted clocks joined at every hand-over, as our SDK
//!   stamps them), arriving in happens-before order: FastTrack's common case. The inputs are
//!   materialised (untimed) in batches of 1,024 just before they are observed, as the race stage
//!   decodes a batch of records and observes it; everything the detector does is timed, dropping
//!   the inputs and the detector included. Their names (environment, variable, location, actor,
//!   lock set) are shared through one [`SharedNames`] table, as the race stage's decoder, which
//!   lives as long as the stage, hands them out.
//! - `detector/1M-accesses-cold-inputs`: the same stream, all 1M inputs materialised up front
//!   (about 1.3 GB), so that reading and freeing them misses the caches: the earlier form of the
//!   benchmark, kept for comparison.
//! - `detector/100k-accesses-shuffled`: the same kind of stream, shuffled in windows of 256, so
//!   many accesses arrive before accesses that happen before them and take the full scan.
//! - `trace/10k-events-*`: latency of the whole pure pipeline for one 10,000-event trace of 16
//!   threads doing locked read-modify-writes of 100 variables: happens-before (derived or
//!   trusted), accesses, update spans, lock-order edges, both detectors and the aggregator. The
//!   `-racy` variants add unlocked reads, so 100 data races with thousands of pairs are found.
//!   Pairs are added to the aggregator without copying the finding they change
//!   ([`FindingAggregator::add`]), as the race stage adds them.
//!
//! Under `cargo test --all-targets` (criterion's test mode: no `--bench` argument) each benchmark
//! runs once as a smoke test, on a debug build; the `detector/` streams are then a hundredth of
//! their size ([`stream_len`]), so the test run does not spend half a minute building and
//! observing a million accesses unoptimised.
//!
//! Every benchmark of this crate runs on mimalloc, the `raceway` binary's global allocator
//! (`benches/common`), so that allocation costs are the deployed ones.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use raceway_analysis::scenarios::shuffle;
use raceway_analysis::{
    race_inputs, FindingAggregator, LockOrderDetector, RaceConfig, RaceDetector,
};
use raceway_schemas::{
    Access, AccessType, CompactClock, ComponentNames, Event, EventKind, FunctionCall, LockMode,
    Metadata, SharedNames, StateChange, TRUSTED_CLOCK_TAG, TRUSTED_CLOCK_VALUE,
};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use uuid::Uuid;

const ACTORS: usize = 16;
const VARIABLES: usize = 1_000;

fn join(into: &mut [u64], from: &[u64]) {
    for (a, b) in into.iter_mut().zip(from) {
        *a = (*a).max(*b);
    }
}

/// `n` lock-protected accesses in happens-before order (see the module doc).
fn lock_protected_stream(n: usize) -> Vec<Access> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0x9e37_79b9_7f4a_7c15);
    // One table of component names for the whole stream, as the race stage's decoder shares
    // the table of successive records that list the same names.
    let components: ComponentNames = (0..ACTORS)
        .map(|a| Arc::from(format!("bench#1/actor-{a:02}")))
        .collect();
    let mut actor_clocks = vec![vec![0u64; ACTORS]; ACTORS];
    let mut lock_clocks = vec![vec![0u64; ACTORS]; VARIABLES];
    let mut request = vec![(Uuid::nil(), 0i64, 0usize); ACTORS];
    // The names shared as the race stage's decoder shares them: one copy of each environment,
    // variable, location, actor and lock set for the whole stream (its table lives as long as
    // the stage).
    let mut names = SharedNames::default();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let (actor, variable) = (rng.gen_range(0..ACTORS), rng.gen_range(0..VARIABLES));
        let timestamp_ns = i as i64 * 1_000;
        // Each actor serves requests of 100 accesses: one trace each.
        let (trace_id, trace_start_ns, done) = &mut request[actor];
        if *done % 100 == 0 {
            *trace_id = Uuid::from_u128(((actor as u128) << 64) | i as u128);
            *trace_start_ns = timestamp_ns;
        }
        *done += 1;
        let clock = &mut actor_clocks[actor];
        join(clock, &lock_clocks[variable]);
        clock[actor] += 1;
        lock_clocks[variable].clone_from(clock);
        let write = rng.gen_range(0..10) == 0;
        out.push(Access {
            event_id: Uuid::from_u128(i as u128 + 1),
            trace_id: *trace_id,
            timestamp_ns,
            environment: names.name("bench"),
            variable: names.name(&format!("var-{variable}")),
            access_type: if write {
                AccessType::Write
            } else {
                AccessType::Read
            },
            location: names.name(&format!("app.rs:{}", variable % 50)),
            value: "1".into(),
            old_value: None,
            actor: names.actor("bench", "1", &format!("actor-{actor:02}")),
            clock: CompactClock::from_indices(
                Arc::clone(&components),
                (0..).zip(clock.iter().copied()).collect(),
            )
            .expect("sorted names, indices in range"),
            trusted_clock: true,
            locks: names.lock_set(&[(&format!("lock-{variable}"), LockMode::Exclusive)]),
            trace_start_ns: *trace_start_ns,
            trace_end_ns: *trace_start_ns + 1_600_000,
        });
    }
    out
}

/// Like [`run_detector`], timing only the detector: the accesses are cloned from `stream` in
/// batches of 1,024, untimed, just before they are observed.
fn time_detector_in_batches(stream: &[Access]) -> Duration {
    let mut detector = RaceDetector::new(RaceConfig {
        max_accesses_per_variable: 256,
        ..RaceConfig::default()
    });
    let mut aggregator = FindingAggregator::default();
    let mut elapsed = Duration::ZERO;
    // One buffer for every batch, drained rather than dropped: freeing a large buffer inside
    // the timed loop would time the allocator rather than the detector.
    let mut batch = Vec::with_capacity(1024);
    for chunk in stream.chunks(1024) {
        batch.extend_from_slice(chunk);
        let start = Instant::now();
        for access in batch.drain(..) {
            for pair in detector.observe(access).pairs {
                aggregator.record(&pair, 0);
            }
        }
        elapsed += start.elapsed();
    }
    let start = Instant::now();
    drop((detector, aggregator));
    elapsed + start.elapsed()
}

fn run_detector(accesses: Vec<Access>) -> (usize, u64) {
    let mut detector = RaceDetector::new(RaceConfig {
        max_accesses_per_variable: 256,
        ..RaceConfig::default()
    });
    let mut aggregator = FindingAggregator::default();
    for access in accesses {
        for pair in detector.observe(access).pairs {
            aggregator.record(&pair, 0);
        }
    }
    (aggregator.len(), detector.fast_path_hits())
}

/// One trace of `n` events: 16 threads of one service doing calls, locked read-modify-writes
/// and plain reads of 100 variables; trusted clocks (our SDK's) or none (derived).
fn big_trace(n: usize, trusted: bool, racy: bool) -> Vec<Event> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0x1234_5678_9abc_def1);
    let mut clocks = vec![vec![0u64; ACTORS]; ACTORS];
    let mut lock_clocks: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
    let mut events = Vec::with_capacity(n);
    let lock = |id: usize, acquire: bool| common::mutex(format!("lock-{id}"), "bank.rs:9", acquire);
    let state = |variable: usize, access_type: AccessType, location: &str| {
        EventKind::StateChange(StateChange {
            variable: format!("var-{variable}"),
            old_value: Some("1".into()),
            new_value: "2".into(),
            location: location.into(),
            access_type,
        })
    };
    while events.len() + 4 <= n {
        let thread = rng.gen_range(0..ACTORS);
        let variable = rng.gen_range(0..100);
        let tick = |clocks: &mut Vec<Vec<u64>>| {
            clocks[thread][thread] += 1;
            clocks[thread].clone()
        };
        match rng.gen_range(0..4) {
            0 => {
                let c = tick(&mut clocks);
                push(
                    &mut events,
                    trusted,
                    thread,
                    EventKind::FunctionCall(FunctionCall::default()),
                    &c,
                );
            }
            1 if racy => {
                // An unlocked read of a variable others update under its lock: a data race.
                let c = tick(&mut clocks);
                push(
                    &mut events,
                    trusted,
                    thread,
                    state(variable, AccessType::Read, "app.rs:5"),
                    &c,
                );
            }
            _ => {
                // A read-modify-write under the variable's lock.
                if let Some(released) = lock_clocks.get(&variable) {
                    let released = released.clone();
                    join(&mut clocks[thread], &released);
                }
                let critical_section = [
                    lock(variable, true),
                    state(variable, AccessType::Read, "bank.rs:10"),
                    state(variable, AccessType::Write, "bank.rs:12"),
                    lock(variable, false),
                ];
                let mut c = Vec::new();
                for kind in critical_section {
                    c = tick(&mut clocks);
                    push(&mut events, trusted, thread, kind, &c);
                }
                lock_clocks.insert(variable, c);
            }
        }
    }
    events
}

fn push(events: &mut Vec<Event>, trusted: bool, thread: usize, kind: EventKind, clock: &[u64]) {
    let i = events.len();
    let mut metadata = Metadata {
        thread_id: format!("t{thread:02}"),
        process_id: 1,
        service_name: "bench".into(),
        environment: "bench".into(),
        instance_id: Some("1".into()),
        ..Metadata::default()
    };
    let mut causality_vector = Vec::new();
    if trusted {
        metadata
            .tags
            .insert(TRUSTED_CLOCK_TAG.into(), TRUSTED_CLOCK_VALUE.into());
        causality_vector = clock
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(|(a, &c)| (format!("bench#1/t{a:02}"), c))
            .collect();
    }
    events.push(Event {
        id: Uuid::from_u128(i as u128 + 1),
        trace_id: Uuid::from_u128(0x7777),
        parent_id: None,
        timestamp_ns: 1_000_000 + i as i64 * 1_000,
        kind,
        metadata,
        causality_vector,
        lock_set: Vec::new(),
    });
}

fn run_trace(events: &[Event]) -> usize {
    let inputs = race_inputs(events);
    let mut races = RaceDetector::default();
    let mut locks = LockOrderDetector::default();
    let mut aggregator = FindingAggregator::default();
    for access in inputs.accesses {
        for pair in races.observe(access).pairs {
            aggregator.add(&pair, 0);
        }
    }
    for span in inputs.updates {
        for pair in races.observe_update(span).pairs {
            aggregator.add(&pair, 0);
        }
    }
    for edge in inputs.lock_edges {
        for pair in locks.observe(edge) {
            aggregator.add_inversion(&pair, 0);
        }
    }
    aggregator.len()
}

/// `full` when benchmarking (`cargo bench` passes `--bench`), a hundredth of it in test mode.
fn stream_len(full: usize) -> usize {
    if std::env::args().any(|arg| arg == "--bench") {
        full
    } else {
        full / 100
    }
}

fn detector(c: &mut Criterion) {
    let mut group = c.benchmark_group("detector");
    group.sample_size(10);
    group.throughput(Throughput::Elements(1_000_000));
    // Inputs are built on first use, so a filtered run builds only what it measures (criterion
    // calls each closure several times).
    let build = || {
        let stream = lock_protected_stream(stream_len(1_000_000));
        let (findings, fast) = run_detector(stream.clone());
        println!(
            "{} lock-protected accesses: {findings} findings, {fast} fast-path hits",
            stream.len()
        );
        stream
    };
    let mut stream = None;
    group.bench_function("1M-accesses", |b| {
        let stream = stream.get_or_insert_with(build);
        b.iter_custom(|iterations| {
            (0..iterations)
                .map(|_| time_detector_in_batches(stream))
                .sum()
        })
    });
    group.bench_function("1M-accesses-cold-inputs", |b| {
        let stream = stream.get_or_insert_with(build);
        b.iter_batched(|| stream.clone(), run_detector, BatchSize::PerIteration)
    });
    group.throughput(Throughput::Elements(100_000));
    let mut shuffled = None;
    group.bench_function("100k-accesses-shuffled", |b| {
        let shuffled = shuffled.get_or_insert_with(|| {
            let mut shuffled = lock_protected_stream(stream_len(100_000));
            for (i, window) in shuffled.chunks_mut(256).enumerate() {
                shuffle(window, i as u64 + 1);
            }
            let (findings, fast) = run_detector(shuffled.clone());
            println!(
                "{} shuffled accesses: {findings} findings, {fast} fast-path hits",
                shuffled.len()
            );
            shuffled
        });
        b.iter_batched(|| shuffled.clone(), run_detector, BatchSize::PerIteration)
    });
    group.finish();
}

fn trace(c: &mut Criterion) {
    let mut group = c.benchmark_group("trace");
    group.sample_size(20);
    for (trusted, racy, name) in [
        (false, false, "10k-events-derived"),
        (true, false, "10k-events-trusted"),
        (false, true, "10k-events-derived-racy"),
        (true, true, "10k-events-trusted-racy"),
    ] {
        let mut events = None;
        group.bench_function(name, |b| {
            let events = events.get_or_insert_with(|| {
                let events = big_trace(10_000, trusted, racy);
                println!(
                    "{name}: {} events, {} findings",
                    events.len(),
                    run_trace(&events)
                );
                events
            });
            b.iter(|| run_trace(events))
        });
    }
    group.finish();
}

criterion_group!(benches, detector, trace);
criterion_main!(benches);

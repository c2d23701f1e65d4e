//! End-to-end throughput of the pipeline on the real services (issue 6): gateway -> Kafka ->
//! trace stage -> race stage -> ClickHouse, each a separate `raceway` process.
//!
//! Run with the services up (`eval "$(deploy/services.sh up)"`):
//!
//! ```text
//! cargo bench --bench pipeline              # about 100k events
//! RACEWAY_BENCH_COPIES=400 cargo bench --bench pipeline
//! ```
//!
//! Prints, for one and for two processor instances: the rate the gateway accepted events at,
//! the sustained end-to-end rate (accepted until both stages drained), and the latency from
//! "accepted" to "race queryable" (p50/p99) of racy traces sampled during the load. Then each
//! stage's own ceiling, by draining a pre-filled topic with only that stage running, so the
//! bottleneck is named. Under `cargo test` it only says how to run it.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::scenario_run::{events_body, load_scenarios, metric_sum, Workload};
use common::setups::KafkaClickHouse;
use common::{clickhouse, free_addr, Raceway};
use raceway_schemas::Event;

/// Events per POST, as an SDK batch would send them.
const CHUNK: usize = 2000;
/// Concurrent HTTP clients posting.
const CLIENTS: usize = 4;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("pipeline bench: needs the services; run `cargo bench --bench pipeline`");
        return;
    }
    let copies: usize = std::env::var("RACEWAY_BENCH_COPIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(130);
    let scenarios = load_scenarios();
    let seeds: Vec<Option<u64>> = (0..copies as u64).map(|i| Some(i + 1)).collect();
    let workload = Workload::of(&scenarios, &seeds);
    println!(
        "workload: {} events in {} traces ({} scenario copies), {CHUNK} events per POST, \
         {CLIENTS} clients",
        workload.events.len(),
        workload.traces,
        copies
    );
    let dir = tempfile::tempdir().expect("tempdir");
    for processors in [1, 2] {
        end_to_end(&workload, processors, dir.path());
    }
    stage_ceilings(&workload, dir.path());
}

/// A processor running `stage`; returns it and its metrics URL.
fn processor(stage: &str, backend: &KafkaClickHouse, dir: &std::path::Path) -> (Raceway, String) {
    backend.processor(&["--stage", stage, "--trace-idle-ms", "300"], dir)
}

fn gateway(backend: &KafkaClickHouse, dir: &std::path::Path) -> (Raceway, String) {
    let addr = free_addr();
    let mut ingest = backend.start(&["ingest", "--http-addr", &addr], dir);
    let url = format!("http://{addr}");
    ingest.wait_http_ok(&format!("{url}/health"));
    (ingest, url)
}

fn metrics(url: &str) -> String {
    reqwest::blocking::get(format!("{url}/metrics"))
        .and_then(|r| r.text())
        .unwrap_or_default()
}

/// Posts the workload from `CLIENTS` threads; returns when each trace's events were accepted.
fn post(url: &str, events: &[Event]) -> BTreeMap<uuid::Uuid, Instant> {
    let chunks: Vec<&[Event]> = events.chunks(CHUNK).collect();
    let next = Arc::new(Mutex::new(0usize));
    let accepted = Arc::new(Mutex::new(BTreeMap::new()));
    std::thread::scope(|scope| {
        for _ in 0..CLIENTS {
            let (next, accepted, chunks) = (next.clone(), accepted.clone(), &chunks);
            scope.spawn(move || {
                let client = reqwest::blocking::Client::new();
                loop {
                    let i = {
                        let mut n = next.lock().expect("lock");
                        *n += 1;
                        *n - 1
                    };
                    let Some(chunk) = chunks.get(i) else { return };
                    let response = client
                        .post(format!("{url}/events"))
                        .header("content-type", "application/json")
                        .body(events_body(chunk))
                        .send()
                        .expect("POST /events");
                    assert_eq!(response.status(), 200, "POST /events");
                    let now = Instant::now();
                    let mut accepted = accepted.lock().expect("lock");
                    for event in chunk.iter() {
                        accepted.entry(event.trace_id).or_insert(now);
                    }
                }
            });
        }
    });
    Arc::try_unwrap(accepted)
        .expect("threads done")
        .into_inner()
        .expect("lock")
}

/// Waits until the processors consumed every record the gateway produced and every input the
/// trace stage forwarded, with no trace still open.
fn wait_drained(gateway: &str, processors: &[String]) {
    loop {
        let produced = metric_sum(
            &metrics(gateway),
            "raceway_gateway_records_produced_total",
            "",
        );
        let texts: Vec<String> = processors.iter().map(|p| metrics(p)).collect();
        let sum = |name: &str, label: &str| -> f64 {
            texts.iter().map(|t| metric_sum(t, name, label)).sum()
        };
        let events_in = sum("raceway_records_consumed_total", "raceway.events");
        let forwarded = sum("raceway_accesses_forwarded_total", "");
        let inputs_in = sum("raceway_records_consumed_total", "raceway.accesses");
        let open = sum("raceway_open_traces", "");
        if events_in >= produced && inputs_in >= forwarded && open == 0.0 && forwarded > 0.0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn end_to_end(workload: &Workload, processors: usize, dir: &std::path::Path) {
    let backend = KafkaClickHouse::new("bench", &clickhouse(), 8);
    backend.migrate();
    let (_ingest, ingest_url) = gateway(&backend, dir);
    let addr = free_addr();
    let mut query = backend.start(&["query", "--http-addr", &addr], dir);
    let query_url = format!("http://{addr}");
    query.wait_http_ok(&format!("{query_url}/health"));
    let mut running = Vec::new();
    for _ in 0..processors {
        running.push(processor("all", &backend, dir));
    }
    // Every member holds partitions, so the run measures processing, not the first rebalance.
    for (process, url) in &mut running {
        process.wait_http_ok(&format!("{url}/ready"));
    }
    let urls: Vec<String> = running.iter().map(|(_, url)| url.clone()).collect();

    // Racy traces to time: one per scenario copy (the first racy scenario of each copy).
    let racy: Vec<uuid::Uuid> = workload
        .events
        .iter()
        .filter(|e| {
            e.metadata
                .environment
                .ends_with("001-write-write-trusted-yes")
        })
        .map(|e| e.trace_id)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let seen: Arc<Mutex<BTreeMap<uuid::Uuid, Instant>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (seen, stop, racy, query_url) = (seen.clone(), stop.clone(), racy.clone(), query_url);
        std::thread::spawn(move || {
            let client = reqwest::blocking::Client::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for trace in &racy {
                    if seen.lock().expect("lock").contains_key(trace) {
                        continue;
                    }
                    let found = client
                        .get(format!("{query_url}/api/traces/{trace}/races"))
                        .send()
                        .and_then(|r| r.json::<serde_json::Value>())
                        .is_ok_and(|v| v["races"].as_array().is_some_and(|r| !r.is_empty()));
                    if found {
                        seen.lock().expect("lock").insert(*trace, Instant::now());
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    let started = Instant::now();
    let accepted = post(&ingest_url, &workload.events);
    let posted = started.elapsed();
    wait_drained(&ingest_url, &urls);
    let drained = started.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    watcher.join().expect("watcher");

    let seen = seen.lock().expect("lock");
    let mut latencies: Vec<f64> = racy
        .iter()
        .filter_map(|t| Some(seen.get(t)?.duration_since(*accepted.get(t)?).as_secs_f64()))
        .collect();
    latencies.sort_by(f64::total_cmp);
    let events = workload.events.len() as f64;
    println!(
        "end to end, {processors} processor(s): gateway accepted {:.0} events/s; sustained \
         {:.0} events/s ({} events drained in {:.1} s); accepted -> race queryable p50 {:.0} ms, \
         p99 {:.0} ms ({} of {} sampled traces seen)",
        events / posted.as_secs_f64(),
        events / drained.as_secs_f64(),
        workload.events.len(),
        drained.as_secs_f64(),
        percentile(&latencies, 0.5) * 1000.0,
        percentile(&latencies, 0.99) * 1000.0,
        latencies.len(),
        racy.len()
    );
}

/// Each stage alone, draining a topic filled beforehand.
fn stage_ceilings(workload: &Workload, dir: &std::path::Path) {
    let backend = KafkaClickHouse::new("ceiling", &clickhouse(), 8);
    backend.migrate();
    let (_ingest, ingest_url) = gateway(&backend, dir);
    let started = Instant::now();
    post(&ingest_url, &workload.events);
    let events = workload.events.len() as f64;
    println!(
        "gateway alone: {:.0} events/s into Kafka",
        events / started.elapsed().as_secs_f64()
    );
    let produced = metric_sum(
        &metrics(&ingest_url),
        "raceway_gateway_records_produced_total",
        "",
    );

    let started = Instant::now();
    let (_trace, trace_url) = processor("trace", &backend, dir);
    loop {
        let text = metrics(&trace_url);
        let done = metric_sum(&text, "raceway_records_consumed_total", "raceway.events")
            >= produced
            && metric_sum(&text, "raceway_open_traces", "") == 0.0;
        if done {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let trace_time = started.elapsed().as_secs_f64();
    let forwarded = metric_sum(&metrics(&trace_url), "raceway_accesses_forwarded_total", "");
    println!(
        "trace stage alone: {:.0} events/s (store events, analyse, forward {forwarded} inputs; \
         includes joining the group)",
        events / trace_time
    );

    let started = Instant::now();
    let (_race, race_url) = processor("race", &backend, dir);
    while metric_sum(
        &metrics(&race_url),
        "raceway_records_consumed_total",
        "raceway.accesses",
    ) < forwarded
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let race_time = started.elapsed().as_secs_f64();
    println!(
        "race stage alone: {:.0} inputs/s, i.e. {:.0} events/s of this workload (includes \
         joining the group)",
        forwarded / race_time,
        events / race_time
    );
}

//! Throughput of the whole pipeline on the real services, against the goals of the README's
//! performance section. Parts (all by default; `RACEWAY_BENCH_PARTS=a,b` picks some):
//!
//! - `kafka-large`, `embedded-large`: 200,000 events in traces of 500 posted as 2,000-event
//!   batches from 4 clients into one `raceway up --kafka --clickhouse` / one embedded `raceway
//!   up`, timed until every trace lists all its events and every trace's race is listed
//!   ([`large_traces`]); then the query API's latency on what they stored, with one client and
//!   with 20 ([`api_load`]).
//! - `api`: the query API alone on what `kafka-large` stored in the ClickHouse database
//!   `RACEWAY_BENCH_DATABASE` (which `kafka-large` then uses and keeps) and what
//!   `embedded-large` stored in the folder `RACEWAY_BENCH_DATA_DIR` (likewise), to compare
//!   builds on the same data without ingesting again.
//! - `memory`: 10,000 (`RACEWAY_BENCH_OPEN_TRACES`) traces of ~50 events held open in
//!   `raceway up --kafka --clickhouse` (idle timeout of an hour): peak RSS once all are held.
//! - `embedded-growth`: rounds (`RACEWAY_BENCH_GROWTH_ROUNDS`, default 3) of that workload into
//!   one embedded `raceway up`: each round's rate as the stored data grows, then disk per event
//!   and RSS.
//! - `scenarios`: the labeled scenarios (traces of ~7 events) through separate `raceway ingest`,
//!   `process` and `query` processes on Kafka + ClickHouse, with 1 and 2 processors: sustained
//!   rate and accepted -> race queryable latency at full load, then the latency again posting at
//!   half the rate that run sustained (`RACEWAY_BENCH_HALF_LOAD` sets a rate instead, events/s)
//!   ([`scenario_load`]). The processors' trace idle timeout is
//!   300 ms (`RACEWAY_BENCH_TRACE_IDLE_MS`; the latency goal's is the default, 1000).
//! - `ceilings`: the gateway alone, then the trace stage alone and the race stage alone draining
//!   the topic it filled, so the bottleneck is named.
//! - `broker`: the scenario workload's records, as the gateway encodes them, produced at full
//!   rate through the bus's producer: the broker's own ceiling ([`broker`]).
//!
//! Run with the services up (`eval "$(deploy/services.sh up)"`):
//!
//! ```text
//! cargo bench --bench pipeline
//! RACEWAY_BENCH_RUNS=2 RACEWAY_BENCH_PARTS=kafka-large,embedded-large cargo bench --bench pipeline
//! RACEWAY_BENCH_LARGE_EVENTS=400000 RACEWAY_BENCH_COPIES=400 cargo bench --bench pipeline
//! ```
//!
//! Ends with one table: every goal, this run's figures ("now", each with the load average when
//! it was taken: the machine is shared), the goal and the command that measures it. Under
//! `cargo test` it only says how to run it.

#[path = "pipeline/api_load.rs"]
mod api_load;
#[path = "pipeline/broker.rs"]
mod broker;
#[path = "../tests/common/mod.rs"]
mod common;
#[path = "pipeline/cpu.rs"]
mod cpu;
#[path = "pipeline/http.rs"]
mod http;
#[path = "pipeline/large_traces.rs"]
mod large_traces;
#[path = "pipeline/latency.rs"]
mod latency;
#[path = "pipeline/race_watcher.rs"]
mod race_watcher;
#[path = "pipeline/scenario_load.rs"]
mod scenario_load;
#[path = "pipeline/table.rs"]
mod table;

use common::scenario_run::{load_scenarios, Workload};
use http::{CHUNK, CLIENTS};
use table::Figures;

/// How many processors the `scenarios` part runs with, one run each
/// (`RACEWAY_BENCH_PROCESSORS`, comma-separated; default 1 then 2).
fn processor_counts() -> Vec<usize> {
    let counts = std::env::var("RACEWAY_BENCH_PROCESSORS").unwrap_or_else(|_| "1,2".into());
    counts
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect()
}

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("pipeline bench: needs the services; run `cargo bench --bench pipeline`");
        return;
    }
    let parts = std::env::var("RACEWAY_BENCH_PARTS").unwrap_or_else(|_| {
        "kafka-large,embedded-large,memory,embedded-growth,scenarios,broker,ceilings".into()
    });
    let runs = setting("RACEWAY_BENCH_RUNS", 1);
    let wants = |part: &str| parts.split(',').any(|p| p.trim() == part);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut figures = Figures::default();
    println!("load average at the start: {}", table::load_average());

    if wants("kafka-large") || wants("embedded-large") {
        let traces = setting("RACEWAY_BENCH_LARGE_EVENTS", 200_000) / large_traces::TRACE_EVENTS;
        for run in 0..runs {
            // Fresh ids each run: a run never finds the previous run's traces.
            let (events, ids) = large_traces::workload(traces);
            println!(
                "large traces, run {}: {} events in {traces} traces of {}, {CHUNK} events per \
                 POST, {CLIENTS} clients",
                run + 1,
                events.len(),
                large_traces::TRACE_EVENTS
            );
            if wants("kafka-large") {
                large_traces::kafka(&events, &ids, dir.path(), &mut figures);
            }
            if wants("embedded-large") {
                large_traces::embedded(&events, &ids, dir.path(), &mut figures);
            }
        }
    }
    if wants("api") {
        large_traces::api_on_kept(dir.path(), &mut figures);
    }
    if wants("memory") {
        let traces = setting("RACEWAY_BENCH_OPEN_TRACES", 10_000);
        println!("memory: {traces} open traces into `raceway up --kafka --clickhouse`");
        large_traces::open_traces_memory(traces, dir.path(), &mut figures);
    }
    if wants("embedded-growth") {
        let traces = setting("RACEWAY_BENCH_LARGE_EVENTS", 200_000) / large_traces::TRACE_EVENTS;
        let rounds = setting("RACEWAY_BENCH_GROWTH_ROUNDS", 3);
        println!("embedded growth: {rounds} rounds of {traces} traces into one `raceway up`");
        large_traces::embedded_growth(traces, rounds, dir.path(), &mut figures);
    }
    if wants("scenarios") || wants("ceilings") || wants("broker") {
        let copies = setting("RACEWAY_BENCH_COPIES", 130);
        let seeds: Vec<Option<u64>> = (0..copies as u64).map(|i| Some(i + 1)).collect();
        let workload = Workload::of(&load_scenarios(), &seeds);
        println!(
            "scenario workload: {} events in {} traces ({copies} scenario copies), {CHUNK} \
             events per POST, {CLIENTS} clients",
            workload.events.len(),
            workload.traces,
        );
        for _ in 0..runs {
            if wants("scenarios") {
                for processors in processor_counts() {
                    let sustained = scenario_load::end_to_end(
                        &workload,
                        processors,
                        None,
                        dir.path(),
                        &mut figures,
                    );
                    // The latency goal is at half the maximum load: post again at half the rate
                    // this build sustained, or at `RACEWAY_BENCH_HALF_LOAD` events/s (to compare
                    // two builds at one rate on a shared machine, where the sustained rate is
                    // noise).
                    let half = match setting("RACEWAY_BENCH_HALF_LOAD", 0) {
                        0 => sustained / 2.0,
                        rate => rate as f64,
                    };
                    let half = Some(half);
                    scenario_load::end_to_end(
                        &workload,
                        processors,
                        half,
                        dir.path(),
                        &mut figures,
                    );
                }
            }
            if wants("broker") {
                broker::ceiling(&workload.events, &mut figures);
            }
            if wants("ceilings") {
                scenario_load::stage_ceilings(&workload, dir.path(), &mut figures);
            }
        }
    }
    figures.print();
}

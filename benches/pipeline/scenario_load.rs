//! The scenario workload (traces of ~7 events, copies of `tests/scenarios/`) through the
//! separate processes on Kafka + ClickHouse: gateway -> Kafka -> trace stage -> race stage ->
//! ClickHouse, each a `raceway` process. End to end with 1 and 2 processors, then each stage's
//! own ceiling by draining a pre-filled topic with only that stage running, so the bottleneck is
//! named.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::scenario_run::{metric_sum, Workload};
use crate::common::setups::KafkaClickHouse;
use crate::common::{clickhouse, free_addr, Raceway};
use crate::cpu::{CpuSample, Process};
use crate::http::{bodies, metrics, percentile, post, post_paced_into, Accepted};
use crate::latency;
use crate::race_watcher::{RaceWatcher, Seen, Sources, CONFIRMED_ONE_IN};
use crate::table::Figures;

/// A processor running `stage`; returns it and its metrics URL. Its trace idle timeout is
/// `RACEWAY_BENCH_TRACE_IDLE_MS` (default 300 ms, as every earlier round measured; the latency
/// goal is stated for the processor's default of 1,000 ms, so set it to 1000 for that row).
fn processor(stage: &str, backend: &KafkaClickHouse, dir: &Path) -> (Raceway, String) {
    let idle_ms = trace_idle_ms().to_string();
    backend.processor(&["--stage", stage, "--trace-idle-ms", &idle_ms], dir)
}

fn trace_idle_ms() -> u64 {
    std::env::var("RACEWAY_BENCH_TRACE_IDLE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

fn gateway(backend: &KafkaClickHouse, dir: &Path) -> (Raceway, String) {
    let addr = free_addr();
    let mut ingest = backend.start(&["ingest", "--http-addr", &addr], dir);
    let url = format!("http://{addr}");
    ingest.wait_http_ok(&format!("{url}/health"));
    (ingest, url)
}

/// Waits until the processors consumed every record the gateway produced and every input the
/// trace stage forwarded, and completed all `traces`, with no trace still open.
fn wait_drained(gateway: &str, processors: &[String], traces: usize) {
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
        // Records, not inputs: a record of the trace stage may hold many inputs.
        let forwarded = sum("raceway_records_produced_total", "raceway.accesses");
        let inputs_in = sum("raceway_records_consumed_total", "raceway.accesses");
        let open = sum("raceway_open_traces", "");
        let completed = sum("raceway_traces_completed_total", "") >= traces as f64;
        if events_in >= produced && inputs_in >= forwarded && open == 0.0 && completed {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One end-to-end run with `processors` processor instances, posting as fast as the gateway
/// accepts (`pace` None) or at `pace` events/s; returns the sustained rate (events/s drained).
pub fn end_to_end(
    workload: &Workload,
    processors: usize,
    pace: Option<f64>,
    dir: &Path,
    figures: &mut Figures,
) -> f64 {
    let backend = KafkaClickHouse::new("bench", &clickhouse(), 8);
    backend.migrate();
    let (ingest, ingest_url) = gateway(&backend, dir);
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
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let accepted = Accepted::default();
    let idle_timeout = Duration::from_millis(trace_idle_ms());
    // The watcher's reads carry the processes' ClickHouse settings too (`log_queries=1` puts
    // them in `system.query_log` beside the pipeline's).
    let sources = Sources {
        clickhouse: backend.store_url().to_string(),
        database: backend.database().to_string(),
        query_url,
    };
    let watcher = RaceWatcher::start(sources, racy.clone(), accepted.clone(), idle_timeout);
    let bodies = bodies(&workload.events);
    let mut processes = vec![Process::Raceway("ingest", ingest.pid())];
    processes.extend(
        running
            .iter()
            .map(|(p, _)| Process::Raceway("process", p.pid())),
    );
    processes.extend([Process::Broker, Process::ClickHouse, Process::Bench]);
    let cpu = CpuSample::take(&processes);
    let started = Instant::now();
    post_paced_into(&ingest_url, &bodies, pace, &accepted);
    let accepted = accepted.lock().expect("lock").clone();
    let posted = started.elapsed();
    wait_drained(&ingest_url, &urls, workload.traces);
    let drained = started.elapsed();
    println!(
        "  until drained: {}",
        CpuSample::per_event(&cpu, workload.events.len())
    );
    for url in &urls {
        let stage = format!("end to end, one of {processors} processor(s)");
        print_store_calls(
            &stage,
            &metrics(url),
            workload.events.len() as f64,
            "events",
        );
    }
    std::thread::sleep(Duration::from_secs(2));
    let seen = watcher.finish();

    let since_accepted = |at: fn(&Seen) -> Option<Instant>| -> Vec<f64> {
        let mut latencies: Vec<f64> = racy
            .iter()
            .filter_map(|t| {
                let accepted = *accepted.get(t)?;
                Some(
                    at(seen.get(t)?)?
                        .saturating_duration_since(accepted)
                        .as_secs_f64(),
                )
            })
            .collect();
        latencies.sort_by(f64::total_cmp);
        latencies
    };
    let latencies = since_accepted(|seen| Some(seen.found));
    // The watcher's own delay: the finding was stored after the last read that missed it.
    let lower = since_accepted(|seen| Some(seen.missed.unwrap_or(seen.found)));
    let by_api = since_accepted(|seen| seen.shown_by_api);
    println!(
        "  accepted -> race queryable: seen at p50 {:.0} ms, p99 {:.0} ms; last read before \
         it missed at p50 {:.0} ms, p99 {:.0} ms; one in {CONFIRMED_ONE_IN} then shown by the \
         query API at p50 {:.0} ms, p99 {:.0} ms ({} of {} seen)",
        percentile(&latencies, 0.5) * 1000.0,
        percentile(&latencies, 0.99) * 1000.0,
        percentile(&lower, 0.5) * 1000.0,
        percentile(&lower, 0.99) * 1000.0,
        percentile(&by_api, 0.5) * 1000.0,
        percentile(&by_api, 0.99) * 1000.0,
        by_api.len(),
        latencies.len(),
    );
    let pages: Vec<String> = urls.iter().map(|url| metrics(url)).collect();
    latency::print_breakdown(&pages);
    for page in &pages {
        print_bus_calls("  one processor", page);
        latency::print_loop_steps(page);
    }
    let events = workload.events.len() as f64;
    println!(
        "end to end, {processors} processor(s): gateway accepted {:.0} events/s; sustained \
         {:.0} events/s ({} events drained in {:.1} s)",
        events / posted.as_secs_f64(),
        events / drained.as_secs_f64(),
        workload.events.len(),
        drained.as_secs_f64(),
    );
    let load = match pace {
        None => {
            figures.report(
                "kafka-scenarios",
                format!(
                    "{processors} processor(s): {:.0} events/s",
                    events / drained.as_secs_f64()
                ),
            );
            "full load".to_string()
        }
        Some(rate) => format!("posted at {rate:.0} events/s"),
    };
    figures.report(
        "race-latency",
        format!(
            "{processors} processor(s), {load}, idle timeout {} ms: p50 {:.0} ms, p99 {:.0} ms \
             ({} of {} traces)",
            trace_idle_ms(),
            percentile(&latencies, 0.5) * 1000.0,
            percentile(&latencies, 0.99) * 1000.0,
            latencies.len(),
            racy.len()
        ),
    );
    events / drained.as_secs_f64()
}

/// Each stage alone, draining a topic filled beforehand.
pub fn stage_ceilings(workload: &Workload, dir: &Path, figures: &mut Figures) {
    let backend = KafkaClickHouse::new("ceiling", &clickhouse(), 8);
    backend.migrate();
    let (ingest, ingest_url) = gateway(&backend, dir);
    let bodies = bodies(&workload.events);
    let services = [Process::Broker, Process::ClickHouse];
    let cpu = CpuSample::take(&[Process::Raceway("ingest", ingest.pid()), Process::Broker]);
    let started = Instant::now();
    post(&ingest_url, &bodies);
    let events = workload.events.len() as f64;
    let n = workload.events.len();
    println!("gateway alone: {}", CpuSample::per_event(&cpu, n));
    figures.report(
        "gateway",
        format!("{:.0} events/s", events / started.elapsed().as_secs_f64()),
    );
    let produced = metric_sum(
        &metrics(&ingest_url),
        "raceway_gateway_records_produced_total",
        "",
    );

    let started = Instant::now();
    let (trace, trace_url) = processor("trace", &backend, dir);
    let cpu =
        CpuSample::take(&[&[Process::Raceway("process", trace.pid())], &services[..]].concat());
    // Joining the consumer group takes seconds on this broker, as long as the stage's own work
    // on this workload: the rate is also given from the first consumed record on.
    let first_consumed = loop {
        let consumed = metric_sum(
            &metrics(&trace_url),
            "raceway_records_consumed_total",
            "raceway.events",
        );
        if consumed > 0.0 {
            break Instant::now();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    loop {
        let text = metrics(&trace_url);
        // Every trace completed, not only every record consumed: a few large records are
        // consumed before the open-trace gauge counts their traces.
        let done = metric_sum(&text, "raceway_records_consumed_total", "raceway.events")
            >= produced
            && metric_sum(&text, "raceway_traces_completed_total", "") >= workload.traces as f64
            && metric_sum(&text, "raceway_open_traces", "") == 0.0;
        if done {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let trace_time = started.elapsed().as_secs_f64();
    let trace_working_time = first_consumed.elapsed().as_secs_f64();
    println!("trace stage alone: {}", CpuSample::per_event(&cpu, n));
    let trace_metrics = metrics(&trace_url);
    let forwarded = metric_sum(&trace_metrics, "raceway_accesses_forwarded_total", "");
    let forwarded_records = metric_sum(
        &trace_metrics,
        "raceway_records_produced_total",
        "raceway.accesses",
    );
    print_store_calls("trace stage alone", &trace_metrics, events, "events");
    print_records_produced("trace stage alone", &trace_metrics, events);
    print_bus_calls("trace stage alone", &trace_metrics);
    figures.report(
        "trace-stage",
        format!(
            "{:.0} events/s from its first consumed record, {:.0} with joining the group \
             (scenario workload; the 300 ms idle timeout included)",
            events / trace_working_time,
            events / trace_time
        ),
    );

    let started = Instant::now();
    let (race, race_url) = processor("race", &backend, dir);
    let cpu =
        CpuSample::take(&[&[Process::Raceway("process", race.pid())], &services[..]].concat());
    while metric_sum(
        &metrics(&race_url),
        "raceway_records_consumed_total",
        "raceway.accesses",
    ) < forwarded_records
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let race_time = started.elapsed().as_secs_f64();
    let race_metrics = metrics(&race_url);
    print_store_calls("race stage alone", &race_metrics, forwarded, "inputs");
    let batches = metric_sum(
        &race_metrics,
        "raceway_batch_processing_seconds_count",
        "race",
    );
    println!(
        "race stage alone: {batches:.0} batches (polls), {:.2} per 1,000 inputs; {forwarded:.0} \
         inputs",
        batches * 1000.0 / forwarded
    );
    println!(
        "race stage alone: {:.1} s in batches, of which {:.1} s writing findings",
        metric_sum(
            &race_metrics,
            "raceway_batch_processing_seconds_sum",
            "race"
        ),
        metric_sum(
            &race_metrics,
            "raceway_store_write_seconds_sum",
            "store findings"
        ),
    );
    print_bus_calls("race stage alone", &race_metrics);
    print_records_produced("race stage alone", &race_metrics, events);
    println!("race stage alone: {}", CpuSample::per_event(&cpu, n));
    println!(
        "race stage alone: {:.0} inputs/s, i.e. {:.0} events/s of this workload (includes \
         joining the group)",
        forwarded / race_time,
        events / race_time
    );
}

/// Prints the records a stage produced, by topic, in all and per 1,000 events: the broker's cost
/// is per record, so this counts the stage's share of it whatever the machine's load.
fn print_records_produced(stage: &str, metrics_text: &str, events: f64) {
    let by_topic: Vec<String> =
        counts_by_label(metrics_text, "raceway_records_produced_total", "topic")
            .into_iter()
            .map(|(topic, records)| {
                format!(
                    "{topic} {records:.0} ({:.2} per 1,000 events)",
                    records * 1000.0 / events
                )
            })
            .collect();
    println!("{stage}: records produced: {}", by_topic.join(", "));
}

/// Prints a stage's bus calls by operation (`raceway_bus_call_seconds`): how many, and the
/// seconds they took in all, so a poll's round trips can be told apart from its own work.
fn print_bus_calls(stage: &str, metrics_text: &str) {
    let prefix = "raceway_bus_call_seconds_count{";
    let calls: Vec<String> = metrics_text
        .lines()
        .filter_map(|line| {
            let (labels, count) = line.strip_prefix(prefix)?.split_once("} ")?;
            let operation = labels.split("operation=\"").nth(1)?.trim_end_matches('"');
            let group = labels
                .split("group=\"")
                .nth(1)
                .and_then(|g| g.split('"').next())
                .unwrap_or_default();
            let seconds = metric_sum(metrics_text, "raceway_bus_call_seconds_sum", labels);
            Some(format!("{group}/{operation} {count} in {seconds:.1} s"))
        })
        .collect();
    println!("{stage}: bus calls: {}", calls.join(", "));
}

/// Prints the store calls a stage made (`raceway_store_write_seconds` counts, by operation), in
/// all and per 1,000 of what it consumed (`consumed`, counted in `unit`: the trace stage's
/// events, the race stage's inputs): a measure of its round trips that the machine's load does
/// not move.
fn print_store_calls(stage: &str, metrics_text: &str, consumed: f64, unit: &str) {
    let calls = counts_by_label(
        metrics_text,
        "raceway_store_write_seconds_count",
        "operation",
    );
    let total: f64 = calls.iter().map(|(_, n)| n).sum();
    let each: Vec<String> = calls
        .iter()
        .map(|(operation, n)| format!("{operation} {n:.0}"))
        .collect();
    println!(
        "{stage}: {total:.0} store calls, {:.2} per 1,000 {unit} ({})",
        total * 1000.0 / consumed,
        each.join(", ")
    );
}

/// The samples of the counter `metric` whose only label is `label`, as (label value, count).
fn counts_by_label<'a>(metrics_text: &'a str, metric: &str, label: &str) -> Vec<(&'a str, f64)> {
    let prefix = format!("{metric}{{{label}=\"");
    metrics_text
        .lines()
        .filter_map(|line| {
            let (value, count) = line.strip_prefix(&prefix)?.split_once("\"}")?;
            Some((value, count.trim().parse().ok()?))
        })
        .collect()
}

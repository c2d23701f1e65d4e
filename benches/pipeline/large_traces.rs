//! The large-trace workload: traces of 500 events posted into one `raceway up` (embedded, or
//! `--kafka --clickhouse`), timed from the first POST until every event of every trace is
//! queryable and every trace's race is listed.
//!
//! Each trace is a request served by 4 threads of one service, in an environment of its own (so
//! traces never race each other): threads 0 and 2 take turns on lock `a` to read and write `a`,
//! threads 1 and 3 on lock `b` and `b`; at the end threads 0 and 1 write `shared` without a lock,
//! concurrently: exactly one data race per trace. No clocks (as the existing SDKs send), so the
//! trace stage derives happens-before.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use raceway_schemas::{
    AccessType, Event, EventKind, FunctionCall, LockEvent, LockMode, Metadata, StateChange,
};
use serde_json::Value;
use uuid::Uuid;

use crate::common::setups::{EmbeddedUp, KafkaClickHouse};
use crate::common::{clickhouse, free_addr, Raceway};
use crate::cpu::{CpuSample, Process};
use crate::http::{bodies, peak_rss_mib, post};
use crate::table::Figures;

/// Events per trace.
pub const TRACE_EVENTS: usize = 500;
const THREADS: usize = 4;

fn lock_event(lock: &str, acquire: bool) -> EventKind {
    let event = LockEvent {
        lock_id: lock.into(),
        mode: LockMode::Exclusive,
        lock_type: "Mutex".into(),
        location: "bench.rs:5".into(),
    };
    if acquire {
        EventKind::LockAcquire(event)
    } else {
        EventKind::LockRelease(event)
    }
}

fn state(variable: &str, access_type: AccessType, location: &str) -> EventKind {
    EventKind::StateChange(StateChange {
        variable: variable.into(),
        old_value: None,
        new_value: "1".into(),
        location: location.into(),
        access_type,
    })
}

/// One trace of about `events` events (4 per critical section, plus one per thread) starting at
/// `start_ns`, in environment `environment`.
fn trace(environment: &str, start_ns: i64, events: usize) -> Vec<Event> {
    let trace_id = Uuid::new_v4();
    let mut steps: Vec<(usize, EventKind)> = Vec::with_capacity(events);
    // Critical sections (4 events each) per thread; each thread's last event is its own.
    let sections = (events / THREADS).saturating_sub(1) / 4;
    // Critical sections in turn, so that holds of one lock never overlap in time.
    for _ in 0..sections {
        for thread in 0..THREADS {
            let variable = if thread % 2 == 0 { "a" } else { "b" };
            steps.push((thread, lock_event(variable, true)));
            steps.push((thread, state(variable, AccessType::Read, "bench.rs:10")));
            steps.push((thread, state(variable, AccessType::Write, "bench.rs:11")));
            steps.push((thread, lock_event(variable, false)));
        }
    }
    for thread in 0..THREADS {
        let last = if thread < 2 {
            state("shared", AccessType::Write, "bench.rs:20")
        } else {
            EventKind::FunctionCall(FunctionCall {
                function_name: "done".into(),
                module: "bench".into(),
                args: "[]".into(),
                file: "bench.rs".into(),
                line: 30,
            })
        };
        steps.push((thread, last));
    }
    steps
        .into_iter()
        .enumerate()
        .map(|(i, (thread, kind))| Event {
            id: Uuid::new_v4(),
            trace_id,
            parent_id: None,
            timestamp_ns: start_ns + i as i64 * 1_000,
            kind,
            metadata: Metadata {
                thread_id: format!("t{thread}"),
                process_id: 1,
                service_name: "bench-large".into(),
                environment: environment.into(),
                instance_id: Some("1".into()),
                ..Metadata::default()
            },
            causality_vector: Vec::new(),
            lock_set: Vec::new(),
        })
        .collect()
}

/// `traces` traces of [`TRACE_EVENTS`] events, interleaved in arrival order as concurrent
/// requests would be: each POST carries pieces of several traces.
pub fn workload(traces: usize) -> (Vec<Event>, Vec<Uuid>) {
    workload_of(traces, TRACE_EVENTS)
}

/// [`workload`] with traces of about `trace_events` events (a multiple of 100).
fn workload_of(traces: usize, trace_events: usize) -> (Vec<Event>, Vec<Uuid>) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as i64;
    let run = Uuid::new_v4().simple().to_string();
    let all: Vec<Vec<Event>> = (0..traces)
        .map(|n| {
            trace(
                &format!("bench-{}-{n}", &run[..8]),
                now + n as i64 * 100_000,
                trace_events,
            )
        })
        .collect();
    let ids = all.iter().map(|t| t[0].trace_id).collect();
    // 8 traces in flight at a time, their events alternating in slices of 100.
    let mut events = Vec::with_capacity(traces * TRACE_EVENTS);
    for group in all.chunks(8) {
        for slice in 0..trace_events.div_ceil(100) {
            for trace in group {
                let end = ((slice + 1) * 100).min(trace.len());
                events.extend_from_slice(&trace[(slice * 100).min(end)..end]);
            }
        }
    }
    (events, ids)
}

/// A page of `GET {base}{path}` as JSON (null when it cannot be read).
fn get_json(client: &reqwest::blocking::Client, url: &str) -> Value {
    client
        .get(url)
        .send()
        .and_then(|r| r.json())
        .unwrap_or(Value::Null)
}

/// True when the trace list shows every trace of `ids` with all its events (read a page of as
/// many traces as `ids` has, 1,000 at most, at a time, newest first, until every trace of `ids`
/// is seen complete or the list ends: `ids` are the newest). A page no larger than `ids`: in
/// `embedded-growth`, a page of 1,000 read 400 traces in the first round and 1,000 from the
/// third, so the probe's own cost grew with the rounds it measures.
fn all_listed(client: &reqwest::blocking::Client, base: &str, ids: &[Uuid]) -> bool {
    let page = ids.len().clamp(1, 1000);
    let wanted: std::collections::HashSet<String> = ids.iter().map(Uuid::to_string).collect();
    let mut complete = 0;
    for offset in (0..).step_by(page) {
        let listed = get_json(
            client,
            &format!("{base}/api/traces?limit={page}&offset={offset}&service=bench-large"),
        );
        let rows = listed["traces"].as_array().cloned().unwrap_or_default();
        complete += rows
            .iter()
            .filter(|row| {
                row["trace_id"]
                    .as_str()
                    .is_some_and(|id| wanted.contains(id))
            })
            .filter(|row| row["event_count"].as_u64() == Some(TRACE_EVENTS as u64))
            .count();
        if complete >= ids.len() || rows.len() < page {
            break;
        }
    }
    complete >= ids.len()
}

/// Races listed for the workload's service.
fn races_listed(client: &reqwest::blocking::Client, base: &str) -> u64 {
    let url = format!("{base}/api/races?limit=1&service=bench-large");
    get_json(client, &url)["total"].as_u64().unwrap_or(0)
}

/// Posts the workload into the `raceway up` at `base` and waits until its events and races are
/// queryable; returns both rates (events/s) and the peak RSS (MiB) of `up`. Prints the CPU time
/// per event of `up`, of the `services` it uses and of the bench's clients.
fn post_and_wait(
    (base, up): (&str, &Raceway),
    services: &[Process],
    events: &[Event],
    ids: &[Uuid],
) -> (f64, f64, f64) {
    let client = reqwest::blocking::Client::new();
    let races_before = races_listed(&client, base);
    let bodies = bodies(events);
    let mut processes = vec![Process::Raceway("up", up.pid())];
    processes.extend_from_slice(services);
    processes.push(Process::Bench);
    let cpu = CpuSample::take(&processes);
    let started = Instant::now();
    post(base, &bodies);
    let posted = started.elapsed().as_secs_f64();
    // The list aggregates every stored event per request: polled sparingly, so that the probe
    // takes little of the machine it measures.
    while !all_listed(&client, base, ids) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let queryable = started.elapsed().as_secs_f64();
    while races_listed(&client, base) < races_before + ids.len() as u64 {
        std::thread::sleep(Duration::from_millis(200));
    }
    let races = started.elapsed().as_secs_f64();
    println!(
        "  until races queryable: {}",
        CpuSample::per_event(&cpu, events.len())
    );
    // Not timed: the list said so, each trace must say so too.
    for id in ids {
        let trace = get_json(&client, &format!("{base}/api/traces/{id}"));
        let count = trace["events"].as_array().map_or(0, Vec::len);
        assert_eq!(count, TRACE_EVENTS, "GET /api/traces/{id}");
    }
    crate::latency::print_gateway_produces(&crate::http::metrics(base));
    let n = events.len() as f64;
    let rss = peak_rss_mib(up.pid());
    println!(
        "  posted at {:.0} events/s; peak RSS {rss:.0} MiB",
        n / posted
    );
    (n / queryable, n / races, rss)
}

/// [`post_and_wait`], reported under `key`; returns the peak RSS (MiB).
fn measure(
    key: &'static str,
    figures: &mut Figures,
    up: (&str, &Raceway),
    services: &[Process],
    events: &[Event],
    ids: &[Uuid],
) -> f64 {
    let (queryable, races, rss) = post_and_wait(up, services, events, ids);
    figures.report(
        key,
        format!(
            "{queryable:.0} events/s until queryable, {races:.0} until races queryable ({} events)",
            events.len()
        ),
    );
    rss
}

/// Rounds of fresh `traces`-trace workloads into one embedded `raceway up`: the rate of each
/// round as the stored data grows, and the disk and RSS after the last.
pub fn embedded_growth(traces: usize, rounds: usize, dir: &Path, figures: &mut Figures) {
    let run = tempfile::tempdir_in(dir).expect("tempdir");
    let (up, base) = EmbeddedUp::args(run.path(), &[]).start();
    let mut rates = Vec::new();
    let mut stored = 0;
    for _ in 0..rounds {
        let (events, ids) = workload(traces);
        let (queryable, races, rss) = post_and_wait((&base, &up), &[], &events, &ids);
        stored += events.len();
        rates.push(format!(
            "{queryable:.0} / {races:.0} after {}k",
            stored / 1000
        ));
        println!("  growth: {stored} events stored, peak RSS {rss:.0} MiB");
    }
    let bytes = folder_bytes(&run.path().join("data"));
    figures.report(
        "embedded-growth",
        format!(
            "events/s until events / races queryable, per round: {}; then {:.2} KB per event on disk, \
             RSS {:.0} MiB",
            rates.join(", "),
            bytes as f64 / stored as f64 / 1000.0,
            crate::http::peak_rss_mib(up.pid())
        ),
    );
}

/// The workload into the embedded default (`raceway up --data-dir ...`).
/// Its data stay in `RACEWAY_BENCH_DATA_DIR` when set (for `api` to measure other builds on),
/// in a temporary folder otherwise.
pub fn embedded(events: &[Event], ids: &[Uuid], dir: &Path, figures: &mut Figures) {
    let temporary;
    let run = match kept_data_dir() {
        Some(kept) => {
            std::fs::create_dir_all(&kept).expect("RACEWAY_BENCH_DATA_DIR");
            kept
        }
        None => {
            temporary = tempfile::tempdir_in(dir).expect("tempdir");
            temporary.path().to_path_buf()
        }
    };
    let (up, base) = EmbeddedUp::args(&run, &[]).start();
    let rss = measure("embedded-large", figures, (&base, &up), &[], events, ids);
    crate::api_load::measure("embedded", &base, ids, events.len(), figures);
    let bytes = folder_bytes(&run.join("data"));
    figures.report(
        "embedded-disk",
        format!(
            "{:.2} KB per event after {} events; peak RSS {rss:.0} MiB",
            bytes as f64 / events.len() as f64 / 1000.0,
            events.len()
        ),
    );
}

/// The workload into `raceway up --kafka --clickhouse` (8 partitions).
pub fn kafka(events: &[Event], ids: &[Uuid], dir: &Path, figures: &mut Figures) {
    let backend = kafka_backend();
    let addr = free_addr();
    let mut up = backend.start(&["up", "--http-addr", &addr], dir);
    let base = format!("http://{addr}");
    up.wait_http_ok(&format!("{base}/ready"));
    let services = [Process::Broker, Process::ClickHouse];
    let rss = measure("kafka-large", figures, (&base, &up), &services, events, ids);
    println!("  peak RSS of `raceway up --kafka --clickhouse`: {rss:.0} MiB");
    crate::api_load::measure("ClickHouse", &base, ids, events.len(), figures);
}

/// The Kafka + ClickHouse setup of the large parts: a fresh database dropped at the end, or the
/// kept database `RACEWAY_BENCH_DATABASE` (created when missing).
fn kafka_backend() -> KafkaClickHouse {
    match kept_database() {
        Some(database) => KafkaClickHouse::keeping("benchlarge", &clickhouse(), 8, &database),
        None => KafkaClickHouse::new("benchlarge", &clickhouse(), 8),
    }
}

/// `RACEWAY_BENCH_DATABASE`, when set.
pub fn kept_database() -> Option<String> {
    std::env::var("RACEWAY_BENCH_DATABASE")
        .ok()
        .filter(|d| !d.is_empty())
}

/// `RACEWAY_BENCH_DATA_DIR`, when set: the folder `embedded-large` keeps its data in.
fn kept_data_dir() -> Option<PathBuf> {
    std::env::var_os("RACEWAY_BENCH_DATA_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
}

/// The query API alone (`raceway query`, which migrates the store first) on what earlier runs
/// of the large parts kept: `kafka-large`'s ClickHouse database `RACEWAY_BENCH_DATABASE` and
/// `embedded-large`'s folder `RACEWAY_BENCH_DATA_DIR`, whichever are set. The same latency
/// figures, without ingesting again (to compare builds on the same stored data).
pub fn api_on_kept(dir: &Path, figures: &mut Figures) {
    let (database, data_dir) = (kept_database(), kept_data_dir());
    if database.is_none() && data_dir.is_none() {
        figures.report(
            "api-one",
            "not measured: `api` needs RACEWAY_BENCH_DATABASE or RACEWAY_BENCH_DATA_DIR".into(),
        );
        return;
    }
    if let Some(database) = database {
        api_on_kept_clickhouse(&database, dir, figures);
    }
    if let Some(data_dir) = data_dir {
        api_on_kept_embedded(&data_dir, dir, figures);
    }
}

/// [`api_on_kept`] on the ClickHouse database `database`.
fn api_on_kept_clickhouse(database: &str, dir: &Path, figures: &mut Figures) {
    let backend = KafkaClickHouse::keeping("benchapi", &clickhouse(), 8, database);
    let addr = free_addr();
    let mut query = backend.start(&["query", "--http-addr", &addr], dir);
    let base = format!("http://{addr}");
    query.wait_http_ok(&format!("{base}/health"));
    let stored = |sql: &str| -> String {
        let response = reqwest::blocking::Client::new()
            .post(format!("{}/?database={database}", clickhouse()))
            .body(sql.to_string())
            .send()
            .expect("ClickHouse");
        response.text().expect("ClickHouse answer")
    };
    let ids: Vec<Uuid> = stored("SELECT DISTINCT toString(trace_id) FROM events")
        .lines()
        .filter_map(|line| Uuid::parse_str(line.trim()).ok())
        .collect();
    let events: usize = stored("SELECT uniqExact(id) FROM events")
        .trim()
        .parse()
        .expect("event count");
    println!(
        "api: {events} events in {} traces stored in {database}",
        ids.len()
    );
    crate::api_load::measure("ClickHouse", &base, &ids, events, figures);
    assert!(query.terminate().success(), "{}", query.output());
}

/// [`api_on_kept`] on the embedded store in `data_dir` (`raceway query --data-dir`); its traces
/// and events are read from the trace list.
fn api_on_kept_embedded(data_dir: &Path, dir: &Path, figures: &mut Figures) {
    let addr = free_addr();
    let store = data_dir.join("data").to_string_lossy().to_string();
    let mut query = Raceway::start(&["query", "--http-addr", &addr, "--data-dir", &store], dir);
    let base = format!("http://{addr}");
    query.wait_http_ok(&format!("{base}/health"));
    let client = reqwest::blocking::Client::new();
    let (mut ids, mut events) = (Vec::new(), 0);
    for offset in (0..).step_by(1000) {
        let page = get_json(
            &client,
            &format!("{base}/api/traces?limit=1000&offset={offset}"),
        );
        let rows = page["traces"].as_array().cloned().unwrap_or_default();
        for row in &rows {
            ids.extend(
                row["trace_id"]
                    .as_str()
                    .and_then(|id| Uuid::parse_str(id).ok()),
            );
            events += row["event_count"].as_u64().unwrap_or(0) as usize;
        }
        if rows.len() < 1000 {
            break;
        }
    }
    println!(
        "api: {events} events in {} traces stored in {}",
        ids.len(),
        data_dir.display()
    );
    crate::api_load::measure("embedded", &base, &ids, events, figures);
    assert!(query.terminate().success(), "{}", query.output());
}

/// Bytes of the files under `path`.
fn folder_bytes(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| match entry.metadata() {
                    Ok(meta) if meta.is_dir() => folder_bytes(&entry.path()),
                    Ok(meta) => meta.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Open traces: `traces` traces of about 50 events (within the default `--max-open-trace-events`) into `raceway up --kafka --clickhouse` with an idle
/// timeout longer than the run, so none completes; once every event is stored, the peak RSS of
/// the process and the events it holds open (`raceway_open_trace_events`).
pub fn open_traces_memory(traces: usize, dir: &Path, figures: &mut Figures) {
    const EVENTS: usize = 50;
    let backend = KafkaClickHouse::new("benchopen", &clickhouse(), 8);
    let addr = free_addr();
    let args = ["up", "--http-addr", &addr, "--trace-idle-ms", "3600000"];
    let mut up = backend.start(&args, dir);
    let base = format!("http://{addr}");
    up.wait_http_ok(&format!("{base}/ready"));
    let (events, _) = workload_of(traces, EVENTS);
    post(&base, &bodies(&events));
    let open = || -> f64 {
        crate::http::metrics(&base)
            .lines()
            .find_map(|l| l.strip_prefix("raceway_open_trace_events "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    };
    // Every posted event held open (the gauge counts what the trace stage holds).
    while open() < events.len() as f64 {
        std::thread::sleep(Duration::from_millis(500));
    }
    let rss = peak_rss_mib(up.pid());
    figures.report(
        "memory",
        format!(
            "{traces} open traces of ~{EVENTS} events ({} events held): peak RSS {rss:.0} MiB of \
             `raceway up --kafka --clickhouse`",
            events.len()
        ),
    );
    assert!(up.terminate().success(), "{}", up.output());
}

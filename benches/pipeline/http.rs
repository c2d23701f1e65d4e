//! What every part does over HTTP: post a workload as SDK-sized batches from several clients,
//! read a metrics page, and read a process's memory.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use raceway_schemas::Event;

use crate::common::scenario_run::events_body;

/// Events per POST, as an SDK batch would send them.
pub const CHUNK: usize = 2000;
/// Concurrent HTTP clients posting.
pub const CLIENTS: usize = 4;

/// A metrics page (empty when it cannot be read).
pub fn metrics(url: &str) -> String {
    reqwest::blocking::get(format!("{url}/metrics"))
        .and_then(|r| r.text())
        .unwrap_or_default()
}

/// `events` as [`CHUNK`]-event `POST /events` bodies, each with its events: encode them before
/// the clock starts, as an SDK would have them.
pub fn bodies(events: &[Event]) -> Vec<(Vec<u8>, &[Event])> {
    events
        .chunks(CHUNK)
        .map(|chunk| (events_body(chunk), chunk))
        .collect()
}

/// Posts the [`bodies`] from [`CLIENTS`] threads as fast as they are accepted; returns when each
/// trace's events were first accepted.
pub fn post(url: &str, chunks: &[(Vec<u8>, &[Event])]) -> BTreeMap<uuid::Uuid, Instant> {
    post_paced(url, chunks, None)
}

/// [`post`], but with `events_per_sec` set, no body is sent before its place in a steady stream
/// of that rate (the body holding events `n..` waits until `n / events_per_sec` seconds after
/// the start): a load below the maximum, for latencies that are not queueing behind a backlog.
pub fn post_paced(
    url: &str,
    chunks: &[(Vec<u8>, &[Event])],
    events_per_sec: Option<f64>,
) -> BTreeMap<uuid::Uuid, Instant> {
    let accepted = Accepted::default();
    post_paced_into(url, chunks, events_per_sec, &accepted);
    let accepted = accepted.lock().expect("lock");
    accepted.clone()
}

/// When each trace's events were first accepted, filled as the POSTs are answered (shared with a
/// reader that waits for what was posted, such as the race watcher of `scenario_load`).
pub type Accepted = Arc<Mutex<BTreeMap<uuid::Uuid, Instant>>>;

/// [`post_paced`], recording into `accepted` as each POST is answered.
pub fn post_paced_into(
    url: &str,
    chunks: &[(Vec<u8>, &[Event])],
    events_per_sec: Option<f64>,
    accepted: &Accepted,
) {
    let started = Instant::now();
    let due: Vec<Duration> = chunks
        .iter()
        .scan(0usize, |sent, (_, chunk)| {
            let at = events_per_sec.map_or(Duration::ZERO, |rate| {
                Duration::from_secs_f64(*sent as f64 / rate)
            });
            *sent += chunk.len();
            Some(at)
        })
        .collect();
    let next = Arc::new(Mutex::new(0usize));
    std::thread::scope(|scope| {
        for _ in 0..CLIENTS {
            let (next, accepted, chunks, due) = (next.clone(), accepted.clone(), &chunks, &due);
            scope.spawn(move || {
                let client = reqwest::blocking::Client::new();
                loop {
                    let i = {
                        let mut n = next.lock().expect("lock");
                        *n += 1;
                        *n - 1
                    };
                    let Some((body, chunk)) = chunks.get(i) else {
                        return;
                    };
                    let wait = (started + due[i]).saturating_duration_since(Instant::now());
                    std::thread::sleep(wait);
                    post_until_accepted(&client, url, body);
                    let now = Instant::now();
                    let mut accepted = accepted.lock().expect("lock");
                    for event in chunk.iter() {
                        accepted.entry(event.trace_id).or_insert(now);
                    }
                }
            });
        }
    });
}

/// POSTs one body, again after a pause while the gateway answers 503 (its bus is full: the
/// back-pressure an SDK waits out).
fn post_until_accepted(client: &reqwest::blocking::Client, url: &str, body: &[u8]) {
    loop {
        let response = client
            .post(format!("{url}/events"))
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .expect("POST /events");
        match response.status().as_u16() {
            200 => return,
            503 => std::thread::sleep(Duration::from_millis(100)),
            status => panic!("POST /events answered {status}"),
        }
    }
}

/// The `p` quantile of sorted figures.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Peak resident memory (`VmHWM`) of process `pid`, in MiB.
pub fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

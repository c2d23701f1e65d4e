//! The scenario runs' race watcher: when each racy trace's finding became queryable.
//!
//! Each round reads, in one query, which of the traces it still waits on have a finding stored
//! (the newest version of each finding naming one of them, not retracted: what
//! `GET /api/traces/{id}/races` reads), straight from ClickHouse. It asks only for traces whose
//! events were accepted at least the processors' idle timeout ago: no finding can be stored
//! earlier, since a trace completes only once idle that long.
//!
//! One read per round, whatever the number of traces waited on: a watcher that read
//! `/races` of each waiting trace in turn was most of ClickHouse's CPU in a run (about 3 ms of
//! ClickHouse CPU per read, whatever it found), took from the pipeline the cores it measured,
//! and its rounds grew with the traces in flight, which every latency it timed then included
//! (benches/README.md). One found trace in [`CONFIRMED_ONE_IN`] is then read once through the
//! query API, whose time is printed beside the direct read's, so the figure is not one the API
//! would not show (every trace read so cost more ClickHouse CPU than the direct reads: the
//! route also reads each finding's recorded values).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::http::Accepted;

/// When a trace's finding was seen, when the last read before that found none (the finding
/// became queryable between the two), and when the query API then showed it (`None` if it did
/// not).
#[derive(Clone, Copy)]
pub struct Seen {
    pub missed: Option<Instant>,
    pub found: Instant,
    pub shown_by_api: Option<Instant>,
}

/// Where the findings are: the ClickHouse HTTP URL, the run's database, the query API's URL.
pub struct Sources {
    pub clickhouse: String,
    pub database: String,
    pub query_url: String,
}

/// Pause between two rounds of reads.
const PAUSE: Duration = Duration::from_millis(20);

/// One found trace in this many is also read through the query API.
pub const CONFIRMED_ONE_IN: usize = 4;

type SeenByTrace = Arc<Mutex<BTreeMap<uuid::Uuid, Seen>>>;

/// Watches the racy traces until each shows a finding; [`RaceWatcher::finish`] returns when each
/// was seen.
pub struct RaceWatcher {
    seen: SeenByTrace,
    stop: Arc<AtomicBool>,
    reader: std::thread::JoinHandle<()>,
    confirmer: std::thread::JoinHandle<()>,
}

impl RaceWatcher {
    /// Starts watching `racy`, each from `not_before` after its events were `accepted`.
    pub fn start(
        sources: Sources,
        racy: Vec<uuid::Uuid>,
        accepted: Accepted,
        not_before: Duration,
    ) -> RaceWatcher {
        let seen: SeenByTrace = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        // The API reads run on a thread of their own, so that they never delay a round.
        let (found_tx, found_rx) = std::sync::mpsc::channel::<uuid::Uuid>();
        let confirmer = {
            let (seen, query_url) = (seen.clone(), sources.query_url.clone());
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                for trace in found_rx {
                    if shown_by_api(&client, &query_url, trace) {
                        let now = Instant::now();
                        if let Some(seen) = seen.lock().expect("lock").get_mut(&trace) {
                            seen.shown_by_api = Some(now);
                        }
                    }
                }
            })
        };
        let (watched, stopped) = (seen.clone(), stop.clone());
        let reader = std::thread::spawn(move || {
            let client = reqwest::blocking::Client::new();
            let mut missed: BTreeMap<uuid::Uuid, Instant> = BTreeMap::new();
            while !stopped.load(Ordering::Relaxed) {
                let waiting = waiting(&racy, &accepted, &watched, not_before);
                if !waiting.is_empty() {
                    let asked = Instant::now();
                    if let Some(with_findings) = traces_with_findings(&client, &sources, &waiting) {
                        let found = Instant::now();
                        for trace in waiting {
                            if !with_findings.contains(&trace) {
                                missed.insert(trace, asked);
                                continue;
                            }
                            let missed = missed.get(&trace).copied();
                            let seen = Seen {
                                missed,
                                found,
                                shown_by_api: None,
                            };
                            let mut watched = watched.lock().expect("lock");
                            watched.insert(trace, seen);
                            if watched.len() % CONFIRMED_ONE_IN == 1 {
                                let _ = found_tx.send(trace);
                            }
                        }
                    }
                }
                std::thread::sleep(PAUSE);
            }
        });
        RaceWatcher {
            seen,
            stop,
            reader,
            confirmer,
        }
    }

    /// Stops watching once the API reads of the traces found are done; returns when each trace
    /// seen was seen.
    pub fn finish(self) -> BTreeMap<uuid::Uuid, Seen> {
        self.stop.store(true, Ordering::Relaxed);
        self.reader.join().expect("watcher");
        self.confirmer.join().expect("watcher's API reads");
        let seen = self.seen.lock().expect("lock");
        seen.clone()
    }
}

/// The racy traces accepted at least `not_before` ago and not seen yet.
fn waiting(
    racy: &[uuid::Uuid],
    accepted: &Accepted,
    seen: &SeenByTrace,
    not_before: Duration,
) -> Vec<uuid::Uuid> {
    let accepted = accepted.lock().expect("lock");
    let seen = seen.lock().expect("lock");
    racy.iter()
        .filter(|trace| {
            let due = accepted
                .get(*trace)
                .is_some_and(|at| at.elapsed() >= not_before);
            due && !seen.contains_key(*trace)
        })
        .copied()
        .collect()
}

/// Which of `traces` have a finding stored, in one read (`None` when the read failed).
fn traces_with_findings(
    client: &reqwest::blocking::Client,
    sources: &Sources,
    traces: &[uuid::Uuid],
) -> Option<BTreeSet<uuid::Uuid>> {
    let list: Vec<String> = traces.iter().map(|t| format!("'{t}'")).collect();
    let list = list.join(",");
    let sql = format!(
        "SELECT DISTINCT trace FROM \
         (SELECT first_trace_id, second_trace_id, occurrences FROM {database}.findings \
          WHERE first_trace_id IN ({list}) OR second_trace_id IN ({list}) \
          ORDER BY id, version DESC LIMIT 1 BY id) \
         ARRAY JOIN [first_trace_id, second_trace_id] AS trace WHERE occurrences > 0 \
         FORMAT TabSeparated",
        database = sources.database
    );
    let response = client.post(&sources.clickhouse).body(sql).send().ok()?;
    if !response.status().is_success() {
        return None;
    }
    let text = response.text().ok()?;
    Some(text.lines().filter_map(|l| l.parse().ok()).collect())
}

/// Whether `GET /api/traces/{trace}/races` shows a finding.
fn shown_by_api(client: &reqwest::blocking::Client, query_url: &str, trace: uuid::Uuid) -> bool {
    client
        .get(format!("{query_url}/api/traces/{trace}/races"))
        .send()
        .and_then(|r| r.json::<serde_json::Value>())
        .is_ok_and(|v| v["races"].as_array().is_some_and(|r| !r.is_empty()))
}

//! Fault tests of the pipeline, on the real services started by the test command: (a) kill -9
//! one of two processors mid-stream, (b) ClickHouse down mid-stream, (c) garbage in the topics,
//! (d) kill -9 of `raceway up` (embedded) mid-stream.
//!
//! The workload is the labeled scenario suite, whose right answer is known: after each fault,
//! once the processors report themselves drained on `/ready`, the findings must be exactly the
//! expected ones (nothing lost, no false alarm), and where a clean run is the reference, with
//! the same ids and counts (nothing duplicated). Faults are timed by what the processes report
//! (a processor has consumed records, the stages have seen the store fail), not by sleeps.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::scenario_run::*;
use common::setups::{EmbeddedUp, KafkaClickHouse};
use common::*;
use raceway_bus::{Bus, KafkaBus, Record};
use raceway_schemas::avro::encode_event_batch;
use raceway_schemas::framing::{frame, RACE_INPUT_BATCH_SCHEMA_ID};
use raceway_schemas::{EventBatch, RaceFinding};
use serde_json::Value;

const SEEDS: [Option<u64>; 3] = [None, Some(0xfa17_0001), Some(0xfa17_0002)];
/// Events per POST in the fault tests: small, so that faults land mid-stream.
const FAULT_CHUNK: usize = 250;
const SETTLE: Duration = Duration::from_secs(240);
/// Partitions per topic of the Kafka runs.
const PARTITIONS: u64 = 4;

/// `raceway up` against `backend`; returns it and its base URL.
fn start_up(backend: &KafkaClickHouse, dir: &Path) -> (Raceway, String) {
    let addr = free_addr();
    let mut up = backend.start(&["up", "--http-addr", &addr, "--trace-idle-ms", "500"], dir);
    let base = format!("http://{addr}");
    up.wait_http_ok(&format!("{base}/health"));
    (up, base)
}

/// The findings at `query_base` once the processors at `ready_bases` are drained.
fn findings_when_drained(query_base: &str, ready_bases: &[&str]) -> Vec<RaceFinding> {
    drained_findings(query_base, ready_bases, Some(PARTITIONS), SETTLE)
}

/// Waits until `metric` (summed over label sets containing `label_part`) at `base` is positive.
fn wait_metric_positive(base: &str, metric: &str, label_part: &str) {
    let deadline = std::time::Instant::now() + SETTLE;
    loop {
        let text = reqwest::blocking::get(format!("{base}/metrics"))
            .and_then(|r| r.text())
            .unwrap_or_default();
        if metric_sum(&text, metric, label_part) > 0.0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{metric} stayed 0 at {base}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A `raceway process --stage all` member of the processor groups.
fn processor(backend: &KafkaClickHouse, dir: &Path) -> (Raceway, String) {
    backend.processor(&["--trace-idle-ms", "500"], dir)
}

fn post_chunk(base: &str, chunk: &[raceway_schemas::Event]) -> Result<(), String> {
    let response = reqwest::blocking::Client::new()
        .post(format!("{base}/events"))
        .header("content-type", "application/json")
        .body(events_body(chunk))
        .timeout(Duration::from_secs(30))
        .send()
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let answer: Value = response.json().map_err(|e| e.to_string())?;
    if status == 200 && answer["accepted"].as_u64() == Some(chunk.len() as u64) {
        Ok(())
    } else {
        Err(format!("{status}: {answer}"))
    }
}

/// Total events over every trace the query API lists.
fn stored_events(base: &str) -> u64 {
    let mut total = 0;
    let mut offset = 0;
    loop {
        let page: Value =
            reqwest::blocking::get(format!("{base}/api/traces?limit=1000&offset={offset}"))
                .and_then(|r| r.json())
                .expect("GET /api/traces");
        let traces = page["traces"].as_array().cloned().unwrap_or_default();
        if traces.is_empty() {
            return total;
        }
        offset += traces.len();
        total += traces
            .iter()
            .map(|t| t["event_count"].as_u64().unwrap_or(0))
            .sum::<u64>();
    }
}

fn assert_same_findings(clean: &[RaceFinding], faulty: &[RaceFinding]) {
    assert_eq!(
        counts(faulty),
        counts(clean),
        "findings (id -> count) differ from the clean run"
    );
}

/// (a) Two processors share the work; one is killed with -9 mid-stream and restarted. The
/// findings equal those of a clean run with one processor: same ids, same counts.
#[test]
fn killing_one_of_two_processors_loses_and_duplicates_nothing() {
    let clickhouse = clickhouse();
    let dir = tempfile::tempdir().expect("tempdir");
    let workload = Workload::of(&load_scenarios(), &SEEDS);
    let chunks: Vec<_> = workload.events.chunks(FAULT_CHUNK).collect();

    let clean_backend = KafkaClickHouse::new("clean", &clickhouse, PARTITIONS as u32);
    let (clean_up, clean_base) = start_up(&clean_backend, dir.path());
    post_all(&clean_base, &workload.events);
    let clean = findings_when_drained(&clean_base, &[&clean_base]);
    workload.assert_exact("clean single processor", &clean);
    drop(clean_up);

    let backend = KafkaClickHouse::new("kill", &clickhouse, PARTITIONS as u32);
    backend.migrate();
    let ingest_addr = free_addr();
    let query_addr = free_addr();
    let mut ingest = backend.start(&["ingest", "--http-addr", &ingest_addr], dir.path());
    let mut query = backend.start(&["query", "--http-addr", &query_addr], dir.path());
    let ingest_base = format!("http://{ingest_addr}");
    let query_base = format!("http://{query_addr}");
    ingest.wait_http_ok(&format!("{ingest_base}/health"));
    query.wait_http_ok(&format!("{query_base}/health"));
    let (mut first, first_base) = processor(&backend, dir.path());
    let (mut second, second_base) = processor(&backend, dir.path());
    // Both hold partitions before the stream starts, so that both share it.
    first.wait_http_ok(&format!("{first_base}/ready"));
    second.wait_http_ok(&format!("{second_base}/ready"));

    let third = chunks.len() / 3;
    for chunk in &chunks[..third] {
        post_chunk(&ingest_base, chunk).expect("accepted");
    }
    // Killed once it has taken records of its share, with the stream still running.
    let events_topic = backend.topics().events;
    wait_metric_positive(
        &second_base,
        "raceway_records_consumed_total",
        &events_topic,
    );
    second.kill_9();
    for chunk in &chunks[third..2 * third] {
        post_chunk(&ingest_base, chunk).expect("accepted");
    }
    let (_second_again, again_base) = processor(&backend, dir.path());
    for chunk in &chunks[2 * third..] {
        post_chunk(&ingest_base, chunk).expect("accepted");
    }
    let faulty = findings_when_drained(&query_base, &[&first_base, &again_base]);
    workload.assert_exact("two processors, one killed", &faulty);
    assert_same_findings(&clean, &faulty);
    assert_eq!(stored_events(&query_base), workload.events.len() as u64);
}

/// A ClickHouse server of the test's own, so that stopping it disturbs no other test.
struct PrivateClickHouse {
    env: Vec<(String, String)>,
    url: String,
}

impl PrivateClickHouse {
    fn start(dir: &Path) -> PrivateClickHouse {
        let port = |addr: String| addr.rsplit(':').next().expect("port").to_string();
        let http_port = port(free_addr());
        let env = vec![
            (
                "RACEWAY_DEPLOY_DIR".to_string(),
                dir.join("deploy").to_string_lossy().to_string(),
            ),
            (
                "RACEWAY_CLICKHOUSE_HTTP_PORT".to_string(),
                http_port.clone(),
            ),
            ("RACEWAY_CLICKHOUSE_TCP_PORT".to_string(), port(free_addr())),
        ];
        let server = PrivateClickHouse {
            env,
            url: format!("http://127.0.0.1:{http_port}"),
        };
        server.run("start");
        server
    }

    fn run(&self, command: &str) {
        let status = Command::new("bash")
            .arg(repo_path("deploy/clickhouse.sh"))
            .arg(command)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .status()
            .expect("deploy/clickhouse.sh");
        assert!(status.success(), "deploy/clickhouse.sh {command} failed");
    }
}

impl Drop for PrivateClickHouse {
    fn drop(&mut self) {
        self.run("stop");
    }
}

/// (b) ClickHouse stops mid-stream. The gateway keeps accepting (it needs only Kafka); the
/// stages wait and retry; SIGTERM in the middle of the outage stops the process cleanly and
/// promptly; after ClickHouse and Raceway restart, everything is there.
#[test]
fn clickhouse_down_mid_stream_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = PrivateClickHouse::start(dir.path());
    let workload = Workload::of(&load_scenarios(), &SEEDS);
    let chunks: Vec<_> = workload.events.chunks(FAULT_CHUNK).collect();
    let backend = KafkaClickHouse::new("outage", &server.url, PARTITIONS as u32);
    let (mut up, base) = start_up(&backend, dir.path());

    let half = chunks.len() / 2;
    for chunk in &chunks[..half] {
        post_chunk(&base, chunk).expect("accepted");
    }
    server.run("stop");
    for chunk in &chunks[half..] {
        post_chunk(&base, chunk).expect("accepted while ClickHouse is down");
    }
    // The stages noticed the outage and are retrying.
    wait_metric_positive(&base, "raceway_store_failures_total", "");
    // SIGTERM while the store is down: a clean, prompt exit that commits nothing it has not
    // stored, so the restarted process reads those records again.
    let asked = std::time::Instant::now();
    let status = up.terminate();
    assert!(status.success(), "exit {status}: {}", up.output());
    assert!(
        asked.elapsed() < Duration::from_secs(20),
        "took {:?} to stop",
        asked.elapsed()
    );
    server.run("start");
    let (_up, base) = start_up(&backend, dir.path());

    let findings = findings_when_drained(&base, &[&base]);
    workload.assert_exact("ClickHouse down mid-stream", &findings);
    assert_eq!(stored_events(&base), workload.events.len() as u64);
}

/// (c) Garbage in both topics is dead-lettered with a reason, counted, and stalls nothing.
#[test]
fn garbage_in_the_topics_is_dead_lettered_and_the_rest_processed() {
    let clickhouse = clickhouse();
    let dir = tempfile::tempdir().expect("tempdir");
    let workload = Workload::of(&load_scenarios(), &SEEDS[..1]);
    let backend = KafkaClickHouse::new("garbage", &clickhouse, PARTITIONS as u32);
    let (_up, base) = start_up(&backend, dir.path());
    let topics = backend.topics();

    let valid = encode_event_batch(&EventBatch {
        trace_id: workload.events[0].trace_id,
        events: vec![workload.events[0].clone()],
    })
    .expect("batch");
    let mut unknown_schema = valid.clone();
    unknown_schema[4] = 0x77;
    let on_events = vec![
        Record::new("k1", vec![0xde, 0xad, 0xbe, 0xef, 0x01, 0x02]),
        Record::new("k2", br#"{"events": []}"#.to_vec()),
        Record::new("k3", valid[..valid.len() / 2].to_vec()),
        Record::new("k4", unknown_schema),
    ];
    // A batch of race inputs (one member, an access) cut short inside its first field: the
    // whole record is one dead letter.
    let bad_batch = frame(RACE_INPUT_BATCH_SCHEMA_ID, &[2, 0, 9, 9]);
    let on_accesses = vec![
        Record::new("env/x", vec![0u8; 3]),
        Record::new("env/y", valid.clone()),
        Record::new("env/z", bad_batch),
    ];
    let garbage = on_events.len() + on_accesses.len();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let bus = KafkaBus::new(&kafka()).expect("bus");
        bus.produce(&topics.events, on_events)
            .await
            .expect("produce");
        bus.produce(&topics.accesses, on_accesses)
            .await
            .expect("produce");
    });

    post_all(&base, &workload.events);
    let findings = findings_when_drained(&base, &[&base]);
    workload.assert_exact("garbage in the topics", &findings);

    let metrics = reqwest::blocking::get(format!("{base}/metrics"))
        .and_then(|r| r.text())
        .expect("metrics");
    assert_eq!(
        metric_sum(&metrics, "raceway_dead_letters_total", ""),
        garbage as f64,
        "{metrics}"
    );
    let dead = runtime.block_on(async {
        let bus = KafkaBus::new(&kafka()).expect("bus");
        let mut consumer = bus
            .subscribe(
                &unique_name("dead-letter-reader"),
                std::slice::from_ref(&topics.dead_letter),
            )
            .await
            .expect("subscribe");
        let mut dead = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while dead.len() < garbage && std::time::Instant::now() < deadline {
            dead.extend(
                consumer
                    .poll(100, Duration::from_millis(500))
                    .await
                    .expect("poll"),
            );
        }
        dead
    });
    assert_eq!(dead.len(), garbage);
    for record in dead {
        let letter: Value = serde_json::from_slice(&record.value).expect("JSON dead letter");
        let reason = letter["reason"].as_str().unwrap_or_default();
        assert!(
            reason.starts_with("not an EventBatch") || reason.starts_with("not a race-stage input"),
            "{letter}"
        );
        assert!(letter["source_offset"].as_i64().is_some(), "{letter}");
    }
}

/// (d) `raceway up` on the embedded default is killed with -9 while events stream in. After a
/// restart, every event that was accepted (answered 200) is there, and the findings are right.
#[test]
fn killing_embedded_up_mid_stream_loses_nothing_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let workload = Workload::of(&load_scenarios(), &SEEDS);
    let chunks: Vec<_> = workload.events.chunks(FAULT_CHUNK).collect();
    let up = EmbeddedUp::args(dir.path(), &["--trace-idle-ms", "500"]);
    let (mut first, base) = up.start();

    // Post from a thread; kill once a third is accepted, while the rest is still streaming.
    let third = chunks.len() / 3;
    let (tx, rx) = std::sync::mpsc::channel();
    let accepted = std::thread::scope(|scope| {
        let poster = scope.spawn(|| {
            let mut accepted = Vec::new();
            for (i, chunk) in chunks.iter().enumerate() {
                if i == third {
                    let _ = tx.send(());
                }
                if post_chunk(&base, chunk).is_ok() {
                    accepted.push(i);
                } else {
                    break;
                }
            }
            accepted
        });
        // Right away, while the chunk after the signal is in flight.
        let _ = rx.recv();
        first.kill_9();
        poster.join().expect("poster")
    });
    assert!(
        accepted.len() >= third,
        "accepted before the kill: {accepted:?}"
    );
    assert!(
        accepted.len() < chunks.len(),
        "the kill came after the stream ended"
    );

    let (_second, base) = up.start();
    for (i, chunk) in chunks.iter().enumerate() {
        if !accepted.contains(&i) {
            post_chunk(&base, chunk).expect("accepted after the restart");
        }
    }
    let findings = drained_findings(&base, &[&base], None, SETTLE);
    workload.assert_exact("embedded up killed mid-stream", &findings);
    assert_eq!(stored_events(&base), workload.events.len() as u64);
}

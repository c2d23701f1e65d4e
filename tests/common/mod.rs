//! Helpers of the end-to-end tests: spawning `raceway` processes, finding the real services,
//! talking HTTP to them.
#![allow(dead_code)] // each test binary uses a different subset

pub mod grafana;
pub mod scenario_run;
pub mod setups;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use uuid::Uuid;

/// The fixture of the issue: a trace with one race on `balance` between worker-1 and worker-2.
pub const FIXTURE_TRACE: &str = "aaaaaaaa-aaaa-4aaa-aaaa-aaaaaaaaaaaa";

/// The fixture payload (the existing SDKs' JSON format).
pub fn fixture() -> Vec<u8> {
    std::fs::read(repo_path("tests/fixtures/raceway-events-example.json")).expect("fixture")
}

/// A path inside the repository.
pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The Kafka broker started by the test command (`deploy/services.sh up`).
pub fn kafka() -> String {
    let addr = std::env::var("RACEWAY_TEST_KAFKA").unwrap_or_else(|_| "127.0.0.1:9092".into());
    assert!(
        std::net::TcpStream::connect(&addr).is_ok(),
        "no Kafka broker at {addr}: run `deploy/services.sh up` (the README's test command does)"
    );
    addr
}

/// The ClickHouse server started by the test command.
pub fn clickhouse() -> String {
    let url =
        std::env::var("RACEWAY_TEST_CLICKHOUSE").unwrap_or_else(|_| "http://127.0.0.1:8123".into());
    let ping = reqwest::blocking::get(format!("{url}/ping"));
    assert!(
        matches!(ping, Ok(ref r) if r.status().is_success()),
        "no ClickHouse at {url}: run `deploy/services.sh up` (the README's test command does)"
    );
    url
}

/// Borrowed views of owned arguments, for [`Raceway::start`].
pub fn as_refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// A name no other test run uses (topic prefixes, databases).
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// An address with a port that was free a moment ago.
pub fn free_addr() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").to_string()
}

/// The `raceway` binary: this build's, or `RACEWAY_BENCH_BIN` (the pipeline benchmark compares
/// builds with it).
pub fn raceway_bin() -> std::ffi::OsString {
    std::env::var_os("RACEWAY_BENCH_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_raceway").into())
}

/// Runs `raceway ARGS...` to completion (without `RACEWAY_URL`, so nothing talks to a server
/// outside the test) and returns its standard output; panics with its output unless it
/// succeeded.
pub fn run_raceway(args: &[&str]) -> String {
    run_raceway_with(args, &[])
}

/// [`run_raceway`] with `env` set for the process (e.g. `TMPDIR`, to keep what a command leaves
/// in the temporary folder inside the test's own).
pub fn run_raceway_with(args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> String {
    let output = Command::new(raceway_bin())
        .args(args)
        .env_remove("RACEWAY_URL")
        .envs(env.iter().copied())
        .output()
        .expect("run raceway");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "raceway {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Runs `command` to completion; panics with its error output unless it succeeded.
pub fn succeed(command: &mut Command) -> std::process::Output {
    let output = command.output().expect("start the command");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A `raceway` child process, killed when dropped; its output goes to a log file that is
/// printed when a wait fails.
pub struct Raceway {
    child: Child,
    log: PathBuf,
}

impl Raceway {
    /// Starts `raceway ARGS...`.
    pub fn start(args: &[&str], log_dir: &Path) -> Raceway {
        let log = log_dir.join(format!("raceway-{}.log", uuid::Uuid::new_v4().simple()));
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(raceway_bin())
            .args(args)
            .env("RACEWAY_LOG", "info,raceway=debug")
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn raceway");
        Raceway { child, log }
    }

    /// The process's output so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `url` answers 200, failing with the process's output otherwise.
    pub fn wait_http_ok(&mut self, url: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("raceway exited with {status}:\n{}", self.output());
            }
            if matches!(reqwest::blocking::get(url), Ok(r) if r.status().is_success()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{url} did not answer within 60 s:\n{}", self.output());
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// kill -9.
    pub fn kill_9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        self.child.wait().expect("wait")
    }
}

impl Drop for Raceway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// POSTs a body to `{base}/events` and returns the JSON answer; panics unless 200.
pub fn post_events(base: &str, body: Vec<u8>) -> Value {
    post_events_as(base, body, None)
}

/// [`post_events`] with `key` as a bearer credential when given.
pub fn post_events_as(base: &str, body: Vec<u8>, key: Option<&str>) -> Value {
    let mut request = reqwest::blocking::Client::new()
        .post(format!("{base}/events"))
        .header("content-type", "application/json")
        .body(body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().expect("POST /events");
    let status = response.status();
    let answer: Value = response.json().expect("JSON answer");
    assert_eq!(status, 200, "POST /events answered {status}: {answer}");
    answer
}

/// Now, in Unix milliseconds: the clock `/ready`'s `drained_since` is on.
pub fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

/// Waits until the processors whose `/ready` is served at `ready_bases` are drained: each says
/// `drained` since a moment after this call began, so every record produced before the call is
/// processed and every finding of it written. With `partitions`, each stage's partitions summed
/// over the processes must also be that many (a killed group member's partitions are only
/// counted once a live member took them over). Panics after `within`.
pub fn wait_drained(ready_bases: &[&str], partitions: Option<u64>, within: Duration) {
    let since = unix_ms();
    let deadline = Instant::now() + within;
    loop {
        let last: Vec<Value> = ready_bases
            .iter()
            .map(|base| {
                reqwest::blocking::get(format!("{base}/ready"))
                    .and_then(|r| r.json::<Value>())
                    .unwrap_or(Value::Null)
            })
            .collect();
        let each_drained = last.iter().all(|ready| {
            ready["drained"] == true && ready["drained_since"].as_i64().is_some_and(|t| t > since)
        });
        if each_drained && partitions.is_none_or(|n| all_partitions_assigned(&last, n)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not drained within {within:?}: {last:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether every stage named in `readies` holds `partitions` partitions over all of them.
fn all_partitions_assigned(readies: &[Value], partitions: u64) -> bool {
    let mut per_stage = std::collections::BTreeMap::<String, u64>::new();
    for ready in readies {
        for (stage, status) in ready["stages"].as_object().into_iter().flatten() {
            *per_stage.entry(stage.clone()).or_default() +=
                status["assigned_partitions"].as_u64().unwrap_or(0);
        }
    }
    per_stage.values().all(|&n| n == partitions)
}

/// Polls `GET {base}/api/traces/{trace}/races` until it lists at least one race.
pub fn wait_for_races(base: &str, trace: &str, timeout: Duration) -> Vec<Value> {
    wait_for_race_count(base, trace, 1, timeout)
}

/// Polls `GET {base}/api/traces/{trace}/races` until it lists at least `at_least` races; the
/// races listed then, or none after `timeout`.
pub fn wait_for_race_count(
    base: &str,
    trace: &str,
    at_least: usize,
    timeout: Duration,
) -> Vec<Value> {
    let deadline = Instant::now() + timeout;
    let url = format!("{base}/api/traces/{trace}/races");
    loop {
        if let Ok(response) = reqwest::blocking::get(&url) {
            if let Ok(body) = response.json::<Value>() {
                if let Some(races) = body["races"].as_array() {
                    if races.len() >= at_least {
                        return races.clone();
                    }
                }
            }
        }
        if Instant::now() > deadline {
            return Vec::new();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Asserts the fixture's single race: `balance`, worker-1 vs worker-2, critical data race.
pub fn assert_fixture_race(races: &[Value]) {
    assert_eq!(races.len(), 1, "exactly one race expected: {races:#?}");
    let race = &races[0];
    assert_eq!(race["kind"], "data_race");
    assert_eq!(race["variable"], "balance");
    assert_eq!(race["severity"], "critical");
    assert_eq!(race["count"], 1);
    let mut threads = [
        race["first"]["thread_id"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        race["second"]["thread_id"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    ];
    threads.sort();
    assert_eq!(threads, ["worker-1", "worker-2"]);
    for side in ["first", "second"] {
        assert_eq!(race[side]["trace_id"], FIXTURE_TRACE);
        assert_eq!(race[side]["service"], "web");
        assert_eq!(race[side]["access_type"], "Write");
    }
    assert!(race["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(race["explanation"]
        .as_str()
        .is_some_and(|e| e.contains("balance")));
}

/// A request of a new trace at minute `minute` (2024-01-01 12:mm): `api` handles it and calls
/// `bank`, whose `transfer` takes `transfer_ms`. Returns the trace id and its two events.
pub fn two_service_request(minute: u32, transfer_ms: u64) -> (String, Vec<Value>) {
    let trace = Uuid::new_v4().to_string();
    let root = Uuid::new_v4().to_string();
    let at = |time: &str| format!("2024-01-01T12:{minute:02}:{time}Z");
    let events = vec![
        function_call(
            &trace,
            (&root, None),
            &at("00"),
            ("api", "handle"),
            transfer_ms + 10,
        ),
        function_call(
            &trace,
            (&Uuid::new_v4().to_string(), Some(&root)),
            &at("00.001"),
            ("bank", "transfer"),
            transfer_ms,
        ),
    ];
    (trace, events)
}

/// A `FunctionCall` event (JSON) of `trace` with (id, parent), at an RFC 3339 `timestamp`, by
/// (service, function) on thread `t1` in environment `test`, lasting `ms`.
pub fn function_call(
    trace: &str,
    (id, parent): (&str, Option<&str>),
    timestamp: &str,
    (service, function): (&str, &str),
    ms: u64,
) -> Value {
    json!({
        "id": id, "trace_id": trace, "parent_id": parent, "timestamp": timestamp,
        "kind": {"FunctionCall": {"function_name": function, "module": "", "args": {},
                                  "file": "app.rs", "line": 1}},
        "metadata": {"thread_id": "t1", "process_id": 1, "service_name": service,
                     "environment": "test", "tags": {}, "duration_ns": ms * 1_000_000},
        "causality_vector": [], "lock_set": []
    })
}

/// 30 ordinary requests of [`two_service_request`] (one a minute, 9 to 11 ms transfers): the
/// baseline the duration analyses learn. Each trace with its events, and all the events.
pub fn ordinary_requests() -> (Vec<(String, Vec<Value>)>, Vec<Value>) {
    let requests: Vec<(String, Vec<Value>)> = (0..30u32)
        .map(|i| two_service_request(i, 9 + u64::from(i % 3)))
        .collect();
    let events = requests.iter().flat_map(|(_, e)| e.clone()).collect();
    (requests, events)
}

/// Drops a ClickHouse database (test clean-up; errors ignored).
pub fn drop_database(clickhouse: &str, database: &str) {
    let _ = reqwest::blocking::Client::new()
        .post(clickhouse)
        .body(format!("DROP DATABASE IF EXISTS {database}"))
        .send();
}

/// The fixture copied into another environment: its trace and event ids start with `prefix`
/// (one hex digit) instead, and its variable `balance` is named `variable`, so that nothing of it
/// matches the original's ids or names. Returns the body and the new trace id.
pub fn fixture_copy(environment: &str, prefix: char, variable: &str) -> (Vec<u8>, String) {
    let mut body: Value = serde_json::from_slice(&fixture()).expect("fixture JSON");
    let renamed = |id: &Value| -> Value {
        id.as_str().map_or(Value::Null, |id| {
            Value::String(format!("{prefix}{}", &id[1..]))
        })
    };
    for event in body["events"].as_array_mut().expect("events") {
        for field in ["id", "trace_id", "parent_id"] {
            event[field] = renamed(&event[field]);
        }
        event["metadata"]["environment"] = json!(environment);
        if let Some(change) = event["kind"].get_mut("StateChange") {
            change["variable"] = json!(variable);
        }
    }
    let trace = format!("{prefix}{}", &FIXTURE_TRACE[1..]);
    (serde_json::to_vec(&body).expect("JSON"), trace)
}

//! End to end on the embedded default: `raceway up` loaded with the fixture, read by the query
//! commands (`raceway races --json`, `raceway traces`, `raceway state`) and by `raceway tui` in a
//! real terminal (tmux): the fixture trace with its race count, its race on `balance` between
//! worker-1 and worker-2, time travel from the first write to the last (`balance` 15 -> 20), and
//! live mode: a trace posted after the TUI opened appears through `/ws/events/live`, and while
//! the API (and its live stream) is down live mode says so and polls.
//! Every wait polls the screen or the API for content, never a fixed sleep.

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::setups::EmbeddedUp;
use common::*;
use serde_json::Value;

fn raceway(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_raceway"))
        .args(args)
        .output()
        .expect("run raceway")
}

/// `raceway up` with the fixture posted and its race found.
fn fixture_up(dir: &std::path::Path) -> (Raceway, String) {
    let (up, base) = EmbeddedUp::args(dir, &[]).start();
    post_events(&base, fixture());
    let races = wait_for_races(&base, FIXTURE_TRACE, Duration::from_secs(60));
    assert_fixture_race(&races);
    (up, base)
}

#[test]
fn query_commands_read_the_fixture_race() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_up, base) = fixture_up(dir.path());

    let out = raceway(&["races", "--api", &base, "--json"]);
    assert!(out.status.success(), "{out:?}");
    let page: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_fixture_race(page["races"].as_array().expect("races"));

    let out = raceway(&[
        "races",
        "--api",
        &base,
        "--variable",
        "balance",
        "--severity",
        "critical",
    ]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && table.contains("balance"), "{out:?}");
    assert!(
        table.contains("worker-1") && table.contains("worker-2"),
        "{table}"
    );
    let out = raceway(&["races", "--api", &base, "--variable", "nothing", "--json"]);
    let page: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(page["races"], serde_json::json!([]));

    let out = raceway(&["traces", "--api", &base, "--service", "web"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains(FIXTURE_TRACE), "{table}");
    assert!(!table.contains('\u{1b}'), "no colour when piped: {table}");

    let at = "dddddddd-dddd-4ddd-dddd-dddddddddddd";
    let out = raceway(&["state", FIXTURE_TRACE, "--at", at, "--api", &base, "--json"]);
    let state: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(state["variables"]["balance"]["value"], 20);
    let out = raceway(&["trace", FIXTURE_TRACE, "--critical-path", "--api", &base]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Critical path:"), "{text}");

    let window = ["--window", "1d", "--at", "2024-01-01T12:00:01Z"];
    let out = raceway(&[&["services", "--api", &base, "--json"], &window[..]].concat());
    let list: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(list["services"][0]["service"], "web", "{list}");
    assert_eq!(list["services"][0]["trace_count"], 1, "{list}");
    assert_eq!(list["services"][0]["race_count"], 1, "{list}");
    let out = raceway(&[&["services", "--api", &base], &window[..]].concat());
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("web") && table.contains("1 services"),
        "{table}"
    );
    let out = raceway(&["services", "--api", &base, "--window", "soon"]);
    let error = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(error.contains("`window=soon`"), "{error}");

    // A bad request: the API's message on one line, status 1.
    let out = raceway(&["races", "--api", &base, "--kind", "nonsense"]);
    let error = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        error.contains("kind") && error.trim().lines().count() == 1,
        "{error}"
    );
}

#[test]
fn query_commands_exit_1_when_the_api_is_unreachable() {
    // A port nothing listens on.
    let addr = free_addr();
    for args in [
        vec!["traces"],
        vec!["races", "--json"],
        vec!["trace", FIXTURE_TRACE],
        vec!["state", FIXTURE_TRACE, "--at", "0"],
    ] {
        let base = format!("http://{addr}");
        let mut all = args.clone();
        all.extend(["--api", &base]);
        let out = raceway(&all);
        let error = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        assert_eq!(error.trim().lines().count(), 1, "{args:?}: {error}");
        assert!(error.contains("unreachable"), "{args:?}: {error}");
    }
}

/// A tmux server of this test's own, killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// `raceway tui` on an 80x24 terminal, reading the API at `base`.
    fn start(base: &str) -> Tmux {
        Tmux::start_with(base, &[])
    }

    /// The same with more `NAME=value` environment variables.
    fn start_with(base: &str, env: &[&str]) -> Tmux {
        let tmux = Tmux {
            socket: unique_name("raceway-tui"),
        };
        let command = format!("{} tui", env!("CARGO_BIN_EXE_raceway"));
        let api = format!("RACEWAY_API={base}");
        let size = ["-x", "80", "-y", "24"];
        let mut args = vec!["new-session", "-d", "-s", "tui", "-e", &api];
        for variable in env {
            args.extend(["-e", variable]);
        }
        args.extend(size);
        args.push(&command);
        let started = tmux.run(&args);
        assert!(started.status.success(), "{started:?}");
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux (deploy/test-all.sh installs it)")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "tui"]).stdout).to_string()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "tui"];
        args.extend(keys);
        assert!(self.run(&args).status.success());
    }

    /// Waits until the screen shows every one of `texts`.
    fn wait_for(&self, texts: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if texts.iter().all(|t| screen.contains(t)) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "the screen never showed {texts:?}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

#[test]
fn tui_in_tmux_shows_the_race_and_travels_through_the_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_up, base) = fixture_up(dir.path());
    let tmux = Tmux::start(&base);

    // The list: the fixture trace with its race count.
    tmux.wait_for(&["aaaaaaaa", "1 race"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["Critical path:", "FunctionCall"]);
    tmux.keys(&["Tab", "Tab"]);
    tmux.wait_for(&["Races (1)", "balance", "worker-1", "worker-2"]);

    // Time travel: from the first write to the last.
    tmux.keys(&["Tab", "Tab", "Tab", "Tab"]);
    tmux.wait_for(&["step 0/2"]);
    tmux.keys(&["]"]);
    tmux.wait_for(&["step 1/2", "balance = 15 (worker-1)"]);
    tmux.keys(&["]"]);
    let screen = tmux.wait_for(&["step 2/2", "balance = 20 (worker-2)"]);
    assert!(!screen.contains("balance = 15"), "{screen}");
    tmux.keys(&["["]);
    tmux.wait_for(&["step 1/2", "balance = 15 (worker-1)"]);

    // Help lists the keys; q quits and the session ends with the program.
    tmux.keys(&["?"]);
    tmux.wait_for(&["Keys", "quit"]);
    tmux.keys(&["Escape", "q"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while tmux.run(&["has-session", "-t", "tui"]).status.success() {
        assert!(
            Instant::now() < deadline,
            "raceway tui did not quit:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn tui_says_when_the_api_is_unreachable_and_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let up = EmbeddedUp::args(dir.path(), &[]);
    let tmux = Tmux::start(&up.base());
    tmux.wait_for(&["unreachable", "retrying"]);
    // Live mode while the socket is refused: a notice, and polling instead.
    tmux.keys(&["l"]);
    tmux.wait_for(&["live (polling)", "polling instead"]);
    // The API comes up: the next retry loads the (empty) list and the error goes away, and the
    // live stream connects.
    let (_up, _base) = up.start();
    let screen = tmux.wait_for(&["Traces (0 of 0)", "● live"]);
    assert!(!screen.contains("unreachable"), "{screen}");
    tmux.keys(&["q"]);
}

/// One event of a new trace, in the JSON wire format.
fn one_event(trace: &str) -> Vec<u8> {
    let body = serde_json::json!({"events": [{
        "id": uuid::Uuid::new_v4(), "trace_id": trace, "parent_id": null,
        "timestamp": "2024-01-01T12:00:00Z",
        "kind": {"StateChange": {"variable": "live_counter", "old_value": 1, "new_value": 2,
            "location": "live.rs:1", "access_type": "Write"}},
        "metadata": {"thread_id": "live-thread", "process_id": 1, "service_name": "live-svc",
            "environment": "test", "tags": {}, "duration_ns": 1000},
        "causality_vector": [], "lock_set": [],
    }]});
    serde_json::to_vec(&body).expect("JSON")
}

#[test]
fn tui_live_mode_lists_a_trace_posted_after_it_opened() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_up, base) = fixture_up(dir.path());
    // Polling slower than the test's wait: only the live stream can bring the trace in time.
    let tmux = Tmux::start_with(&base, &["RACEWAY_TUI_POLL_MS=600000"]);
    tmux.wait_for(&["aaaaaaaa", "Traces (1 of 1)"]);
    tmux.keys(&["l"]);
    tmux.wait_for(&["● live", "following the live stream"]);
    let trace = uuid::Uuid::new_v4().to_string();
    post_events(&base, one_event(&trace));
    tmux.wait_for(&[&trace[..8], "Traces (2 of 2)", "live-svc"]);
    tmux.keys(&["q"]);
}

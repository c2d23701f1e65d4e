//! Snapshots of every view, drawn on ratatui's `TestBackend` from a real query API's answers:
//! `raceway up` (in this process, on a fresh data folder) loaded with the fixture, with the
//! banking demo, and with a trace whose slow step is a duration anomaly. The app is driven by
//! the same keys a user presses; every answer it asks for is fetched and applied before a view
//! is drawn.

use std::time::{Duration, Instant};

use clap::Parser;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Color;
use ratatui::Terminal;
use serde_json::{json, Value};
use uuid::Uuid;

use super::app::App;
use super::fetch::{perform, Fetch};
use super::views;
use crate::cli::demo::{start_embedded, EmbeddedGuard};
use crate::cli::{Cli, Command};
use crate::client::ApiClient;

const FIXTURE_TRACE: &str = "aaaaaaaa-aaaa-4aaa-aaaa-aaaaaaaaaaaa";
/// The API named in the title: the real one's port changes from run to run.
const SHOWN_API: &str = "http://127.0.0.1:8080";

/// A running `raceway up` and a client of it.
struct Up {
    base: String,
    client: ApiClient,
    http: reqwest::Client,
    guard: Option<EmbeddedGuard>,
    /// The data folder, removed when the test ends.
    _data: tempfile::TempDir,
}

impl Up {
    async fn start() -> Up {
        let data = tempfile::tempdir().expect("tempdir");
        let (base, guard) = start_embedded(data.path()).await.expect("raceway up");
        let client = ApiClient::new(&base, None).expect("client");
        Up {
            base,
            client,
            http: reqwest::Client::new(),
            guard: Some(guard),
            _data: data,
        }
    }

    async fn post(&self, body: Value) {
        let answer: Value = self
            .http
            .post(format!("{}/events", self.base))
            .json(&body)
            .send()
            .await
            .expect("POST /events")
            .json()
            .await
            .expect("JSON");
        assert_eq!(answer["success"], true, "{answer}");
    }

    /// Waits until `GET path` answers 200 with a body `ready` accepts.
    async fn wait_for(&self, path: &str, ready: impl Fn(&Value) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let response = self.http.get(format!("{}{path}", self.base)).send().await;
            if let Ok(response) = response {
                let ok = response.status().is_success();
                let body: Value = response.json().await.unwrap_or_default();
                if ok && ready(&body) {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "{path} not ready within 60 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn stop(mut self) {
        if let Some((stop, task)) = self.guard.take() {
            let _ = stop.send(true);
            let _ = task.await;
        }
    }
}

/// Performs `fetches` and everything their answers ask for, applying each answer.
async fn settle(app: &mut App, client: &ApiClient, mut fetches: Vec<Fetch>) {
    while let Some(fetch) = fetches.pop() {
        let loaded = perform(client, fetch).await;
        fetches.extend(app.on_loaded(loaded));
    }
    assert!(!app.status.is_error, "{}", app.status.text);
}

/// Presses `code` and settles what it asked for.
async fn press(app: &mut App, client: &ApiClient, code: KeyCode) {
    let fetches = app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
    settle(app, client, fetches).await;
}

fn draw(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    terminal
        .draw(|frame| views::render(frame, app))
        .expect("draw");
    terminal
}

fn screen(app: &App, width: u16, height: u16) -> String {
    draw(app, width, height).backend().to_string()
}

/// An app showing the traces list of `up`.
async fn opened(up: &Up) -> App {
    let (mut app, fetches) = App::new(SHOWN_API);
    settle(&mut app, &up.client, fetches).await;
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_views() {
    let up = Up::start().await;
    let fixture = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/raceway-events-example.json"
    ))
    .expect("fixture");
    up.post(serde_json::from_slice(&fixture).expect("JSON"))
        .await;
    let races = format!("/api/traces/{FIXTURE_TRACE}/races");
    up.wait_for(&races, |b| {
        b["races"].as_array().is_some_and(|r| !r.is_empty())
    })
    .await;
    up.wait_for(&format!("/api/traces/{FIXTURE_TRACE}/anomalies"), |_| true)
        .await;

    let mut app = opened(&up).await;
    insta::assert_snapshot!("fixture_traces", screen(&app, 80, 24));
    // The trace with a race is red.
    let terminal = draw(&app, 80, 24);
    let row = terminal.backend().buffer().cell((3, 3)).expect("cell");
    assert_eq!(row.fg, Color::Red, "{}", terminal.backend());

    press(&mut app, &up.client, KeyCode::Enter).await;
    for name in [
        "fixture_tree",
        "fixture_critical_path",
        "fixture_races",
        "fixture_anomalies",
        "fixture_dependencies",
        "fixture_variables",
        "fixture_time_travel_step_0",
    ] {
        insta::assert_snapshot!(name, screen(&app, 80, 24));
        press(&mut app, &up.client, KeyCode::Tab).await;
    }
    // Back on the tree after a full round; on to time travel again, then step to the writes.
    press(&mut app, &up.client, KeyCode::BackTab).await;
    press(&mut app, &up.client, KeyCode::Char(']')).await;
    insta::assert_snapshot!("fixture_time_travel_step_1", screen(&app, 80, 24));
    press(&mut app, &up.client, KeyCode::Right).await;
    insta::assert_snapshot!("fixture_time_travel_step_2", screen(&app, 80, 24));
    press(&mut app, &up.client, KeyCode::Char('?')).await;
    insta::assert_snapshot!("help", screen(&app, 80, 24));
    // Resized: the same state fits a larger screen.
    press(&mut app, &up.client, KeyCode::Esc).await;
    insta::assert_snapshot!("fixture_time_travel_120x30", screen(&app, 120, 30));
    up.stop().await;
}

/// Trace `n` of the anomaly test: its number in the first 8 characters, which the list shows.
fn anomaly_trace(n: u128) -> Uuid {
    Uuid::from_u128((0xa000_0000 + n) << 96 | 0x4000_8000_0000_0000_0000)
}

/// The fixture's first event (a call lasting 17 ms) as the only event of trace `n`, at minute
/// `minute`, lasting `ms`.
fn timed_call(n: u128, minute: u32, ms: u64) -> Value {
    let mut event = fixture()["events"][0].clone();
    event["id"] = json!(Uuid::from_u128(0xb000_0000 + n));
    event["trace_id"] = json!(anomaly_trace(n));
    event["timestamp"] = json!(format!("2024-01-01T12:{minute:02}:00Z"));
    event["metadata"]["duration_ns"] = json!(ms * 1_000_000);
    event
}

fn fixture() -> Value {
    let text = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/raceway-events-example.json"
    ))
    .expect("fixture");
    serde_json::from_slice(&text).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anomaly_views() {
    let up = Up::start().await;
    let normal: Vec<Value> = (0..30u32)
        .map(|i| timed_call(u128::from(i), i, 9 + u64::from(i % 3)))
        .collect();
    up.post(json!({ "events": normal })).await;
    for i in 0..30u128 {
        let trace = anomaly_trace(i);
        up.wait_for(&format!("/api/traces/{trace}/anomalies"), |_| true)
            .await;
    }
    up.post(json!({ "events": [timed_call(99, 40, 60)] })).await;
    let slow = anomaly_trace(99);
    up.wait_for(&format!("/api/traces/{slow}/anomalies"), |_| true)
        .await;

    let mut app = opened(&up).await;
    insta::assert_snapshot!("anomalies_traces", screen(&app, 80, 24));
    press(&mut app, &up.client, KeyCode::Enter).await;
    for _ in 0..3 {
        press(&mut app, &up.client, KeyCode::Tab).await;
    }
    insta::assert_snapshot!("anomalies_anomalies", screen(&app, 80, 24));
    up.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_views() {
    let up = Up::start().await;
    let Command::Demo(args) = Cli::parse_from(["raceway", "demo", "--url", &up.base]).command
    else {
        panic!("demo arguments");
    };
    crate::cli::demo::run(args).await.expect("demo");

    let mut app = opened(&up).await;
    let demo = app
        .visible_traces()
        .iter()
        .position(|t| t.race_count > 0)
        .expect("the demo's trace has races");
    app.cursor = demo;
    press(&mut app, &up.client, KeyCode::Enter).await;
    let mut settings = insta::Settings::clone_current();
    // The demo's ids, times and durations change from run to run.
    settings.add_filter(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[id]",
    );
    settings.add_filter(r"\b\d+(\.\d+)? ?(ms|s)\b", "[time]");
    settings.add_filter(r"\(\d+%", "([share]");
    settings.add_filter(r"\(x\d+\)", "(x[count])");

    settings
        .bind_async(async {
            press(&mut app, &up.client, KeyCode::Tab).await;
            press(&mut app, &up.client, KeyCode::Tab).await;
            // Which update is lost, so which side comes first and what the explanation says,
            // depends on the schedule: the snapshot keeps each finding's head line, the sides are
            // checked apart.
            let races = screen(&app, 120, 40);
            let heads: Vec<&str> = races.lines().filter(|l| !l.starts_with("\"  ")).collect();
            insta::assert_snapshot!("demo_races", heads.join("\n"));
            for side in [
                "bank-api/POST /withdrawals-1",
                "bank-worker/apply-transfer-1",
            ] {
                assert!(races.contains(side), "{races}");
            }
            for location in ["src/api.rs:92", "src/worker.rs:79", "src/api.rs:89"] {
                assert!(races.contains(location), "{races}");
            }
            press(&mut app, &up.client, KeyCode::Tab).await;
            press(&mut app, &up.client, KeyCode::Tab).await;
            insta::assert_snapshot!("demo_dependencies", screen(&app, 120, 40));
            // Simulate: 500 ms more on the first service the trace calls.
            for _ in 0..3 {
                press(&mut app, &up.client, KeyCode::Tab).await;
            }
            for _ in 0..5 {
                press(&mut app, &up.client, KeyCode::Char('+')).await;
            }
            press(&mut app, &up.client, KeyCode::Enter).await;
            let simulated = app.trace.as_ref().and_then(|t| t.simulate.result.clone());
            let delta = simulated
                .and_then(Result::ok)
                .map(|s| s.critical_path.delta_ms);
            assert!(delta.is_some_and(|d| d > 0.0), "{delta:?}");
            // The form and the path's change; which services the delay reaches, by which chain,
            // and which steps move most depend on the demo's schedule: checked apart.
            let simulate = screen(&app, 120, 40);
            // (Blanks before each line's closing quote trimmed: the filtered times had different
            // widths.)
            let head: Vec<String> = simulate
                .lines()
                .take(8)
                .map(|l| format!("{}\"", l.trim_end_matches('"').trim_end()))
                .collect();
            insta::assert_snapshot!("demo_simulate", head.join("\n"));
            assert!(simulate.contains("reaches bank-api via"), "{simulate}");
            // Services (`S` from the list): every service of the last hour, with the API's
            // counts on its line.
            press(&mut app, &up.client, KeyCode::Esc).await;
            press(&mut app, &up.client, KeyCode::Char('S')).await;
            let services = screen(&app, 120, 40);
            let listed: Value = up
                .http
                .get(format!("{}/api/services?window=1h", up.base))
                .send()
                .await
                .expect("GET /api/services")
                .json()
                .await
                .expect("JSON");
            let rows = listed["services"].as_array().expect("services");
            assert!(!rows.is_empty(), "{listed}");
            for row in rows {
                let name = row["service"].as_str().expect("name");
                let line = services
                    .lines()
                    .find(|l| l.contains(&format!("\"{name} ")))
                    .unwrap_or_else(|| panic!("{name} missing: {services}"));
                let cells: Vec<&str> = line.trim_matches('"').split_whitespace().collect();
                assert_eq!(cells[1], row["trace_count"].to_string(), "{line}");
                assert_eq!(cells[2], row["race_count"].to_string(), "{line}");
                assert_eq!(cells[3], row["anomaly_count"].to_string(), "{line}");
            }
            // Blanks collapsed: the filtered times had different widths.
            let compact: Vec<String> = services
                .lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect();
            insta::assert_snapshot!("demo_services", compact.join("\n"));
        })
        .await;
    up.stop().await;
}

//! The app's key handling and answers, without terminal or network.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::Live;
use super::app::{App, Input};
use super::fetch::{Fetch, Loaded};
use super::live::LiveUpdate;
use super::trace_screen::Tab;
use crate::client::models::{LiveMessage, StepRow, TracesPage};

fn key(app: &mut App, code: KeyCode) -> Vec<Fetch> {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// A page of the traces list as the API answers it.
fn page(rows: &[(&str, &str)]) -> TracesPage {
    let traces: Vec<serde_json::Value> = rows
        .iter()
        .map(|(id, service)| {
            serde_json::json!({
                "trace_id": id, "event_count": 1, "services": [service],
                "first_timestamp": "2024-01-01T12:00:00Z",
                "last_timestamp": "2024-01-01T12:00:00Z",
                "duration_ms": 0.0, "race_count": 0,
            })
        })
        .collect();
    let body = serde_json::json!({"traces": traces, "total": rows.len(), "limit": 50, "offset": 0});
    serde_json::from_value(body).expect("a page of the API")
}

fn step(n: usize) -> StepRow {
    serde_json::from_value(serde_json::json!({
        "step": n, "event_id": format!("{n}{n}{n}{n}-event"), "service": "web",
        "instance": "", "thread_id": "main", "kind": "StateChange", "label": "write x",
        "timestamp": "2024-01-01T12:00:00Z",
    }))
    .expect("a step of the API")
}

fn app_with_traces() -> App {
    let (mut app, first) = App::new("http://api");
    assert_eq!(first, vec![Fetch::Traces, Fetch::Anomalous]);
    app.on_loaded(Loaded::Traces(page(&[
        ("aaaa1111", "web"),
        ("bbbb2222", "ledger"),
    ])));
    app
}

#[test]
fn filter_narrows_the_list_as_typed_and_enter_opens_the_selection() {
    let mut app = app_with_traces();
    key(&mut app, KeyCode::Char('/'));
    for c in "ledg".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    assert_eq!(app.visible_traces().len(), 1);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.input, None);
    let fetches = key(&mut app, KeyCode::Enter);
    assert!(
        fetches.contains(&Fetch::Steps("bbbb2222".into())),
        "{fetches:?}"
    );
    assert_eq!(
        app.trace.as_ref().map(|t| t.trace_id.as_str()),
        Some("bbbb2222")
    );
    key(&mut app, KeyCode::Esc);
    assert!(app.trace.is_none());
}

#[test]
fn errors_show_in_the_status_line_until_an_answer_arrives() {
    let mut app = app_with_traces();
    app.on_loaded(Loaded::Failed(Fetch::Traces, "unreachable".into()));
    assert!(app.status.is_error && app.status.text.contains("retrying"));
    app.on_loaded(Loaded::Traces(page(&[])));
    assert!(!app.status.is_error);
}

#[test]
fn time_travel_steps_and_jumps_by_index_or_event_id() {
    let mut app = app_with_traces();
    key(&mut app, KeyCode::Enter);
    let steps: Vec<StepRow> = (0..3).map(step).collect();
    let fetches = app.on_loaded(Loaded::Steps("aaaa1111".into(), steps));
    assert!(fetches.contains(&Fetch::State("aaaa1111".into(), 0)));
    assert!(fetches.contains(&Fetch::FinalState("aaaa1111".into(), 2)));
    for _ in 0..6 {
        key(&mut app, KeyCode::Tab);
    }
    assert_eq!(app.trace.as_ref().map(|t| t.tab), Some(Tab::TimeTravel));
    assert_eq!(
        key(&mut app, KeyCode::Char(']')),
        vec![Fetch::State("aaaa1111".into(), 1)]
    );
    assert_eq!(
        key(&mut app, KeyCode::End),
        vec![Fetch::State("aaaa1111".into(), 2)]
    );
    // Past the last step nothing moves.
    key(&mut app, KeyCode::Right);
    assert_eq!(app.trace.as_ref().map(|t| t.step), Some(2));
    key(&mut app, KeyCode::Char('g'));
    assert_eq!(app.input, Some(Input::Goto(String::new())));
    for c in "1111".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![Fetch::State("aaaa1111".into(), 1)]
    );
    key(&mut app, KeyCode::Char('g'));
    key(&mut app, KeyCode::Char('9'));
    key(&mut app, KeyCode::Enter);
    assert!(app.status.is_error, "{:?}", app.status);
}

#[test]
fn help_quit_and_live() {
    let mut app = app_with_traces();
    key(&mut app, KeyCode::Char('?'));
    assert!(app.show_help);
    key(&mut app, KeyCode::Char('x'));
    assert!(!app.show_help && !app.quit);
    assert_eq!(
        key(&mut app, KeyCode::Char('l')),
        vec![Fetch::Traces, Fetch::Anomalous]
    );
    assert_eq!(app.live, Live::Connecting);
    key(&mut app, KeyCode::Char('q'));
    assert!(app.quit);
}

fn event_of(trace: &str) -> LiveUpdate {
    LiveUpdate::Message(Box::new(LiveMessage::Event {
        trace_id: trace.into(),
        service: "web".into(),
        environment: "test".into(),
        kind: "StateChange".into(),
        event: serde_json::Value::Null,
    }))
}

#[test]
fn live_messages_refresh_the_list_until_a_new_trace_is_listed() {
    let mut app = app_with_traces();
    // Off: live messages change nothing.
    app.on_live(event_of("cccc3333"));
    assert!(app.live_refresh().is_empty());

    key(&mut app, KeyCode::Char('l'));
    app.on_live(LiveUpdate::Connected);
    assert_eq!(app.live, Live::Streaming);
    // The first refresh after connecting catches up; then nothing until a message asks.
    assert_eq!(app.live_refresh(), vec![Fetch::Traces, Fetch::Anomalous]);
    assert!(app.live_refresh().is_empty());
    // Events of listed traces ask for nothing; a new trace's first event does, and the list
    // is refreshed again until the answer lists it.
    app.on_live(event_of("aaaa1111"));
    assert!(app.live_refresh().is_empty());
    app.on_live(event_of("cccc3333"));
    app.on_live(event_of("cccc3333"));
    assert_eq!(app.live_refresh(), vec![Fetch::Traces, Fetch::Anomalous]);
    assert_eq!(app.live_refresh(), vec![Fetch::Traces, Fetch::Anomalous]);
    app.on_loaded(Loaded::Traces(page(&[
        ("cccc3333", "web"),
        ("aaaa1111", "web"),
    ])));
    assert!(app.live_refresh().is_empty());
    let completed = LiveMessage::TraceCompleted {
        trace_id: "cccc3333".into(),
        event_count: 2,
        services: vec!["web".into()],
        environments: vec!["test".into()],
    };
    app.on_live(LiveUpdate::Message(Box::new(completed)));
    assert_eq!(app.live_refresh(), vec![Fetch::Traces, Fetch::Anomalous]);
}

#[test]
fn a_refused_live_stream_is_a_notice_and_live_mode_polls() {
    let mut app = app_with_traces();
    key(&mut app, KeyCode::Char('l'));
    app.on_live(LiveUpdate::Down("connection refused".into()));
    assert_eq!(app.live, Live::Polling("connection refused".into()));
    assert!(!app.status.is_error, "a notice, not an error");
    assert!(app.status.text.contains("polling"), "{:?}", app.status);
    // It reconnects later: streaming again.
    app.on_live(LiveUpdate::Connected);
    assert_eq!(app.live, Live::Streaming);
    key(&mut app, KeyCode::Char('l'));
    assert_eq!(app.live, Live::Off);
}

#[test]
fn services_open_with_shift_s_refresh_with_r_and_close_with_esc() {
    let (mut app, _) = App::new("http://api");
    app.on_loaded(Loaded::Traces(page(&[("aaaa", "web")])));
    assert_eq!(
        key(&mut app, KeyCode::Char('S')),
        [Fetch::Services, Fetch::Hotspots]
    );
    assert!(app.services.is_some());
    assert!(key(&mut app, KeyCode::Char('r')).contains(&Fetch::Services));
    key(&mut app, KeyCode::Enter);
    assert!(
        app.trace.is_none(),
        "Enter opens no trace from the services"
    );
    key(&mut app, KeyCode::Esc);
    assert!(app.services.is_none());
    assert!(!key(&mut app, KeyCode::Char('r')).contains(&Fetch::Services));
}

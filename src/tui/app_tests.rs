//! The app's key handling and answers, without terminal or network.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::{App, Input};
use super::fetch::{Fetch, Loaded};
use super::trace_screen::Tab;
use crate::client::models::{Step, TracePage, TraceRow};

fn key(app: &mut App, code: KeyCode) -> Vec<Fetch> {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn row(id: &str, service: &str) -> TraceRow {
    TraceRow {
        trace_id: id.into(),
        services: vec![service.into()],
        ..TraceRow::default()
    }
}

fn app_with_traces() -> App {
    let (mut app, first) = App::new("http://api");
    assert_eq!(first, vec![Fetch::Traces, Fetch::Anomalous]);
    let page = TracePage {
        traces: vec![row("aaaa1111", "web"), row("bbbb2222", "ledger")],
        total: 2,
    };
    app.on_loaded(Loaded::Traces(page));
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
    app.on_loaded(Loaded::Traces(TracePage::default()));
    assert!(!app.status.is_error);
}

#[test]
fn time_travel_steps_and_jumps_by_index_or_event_id() {
    let mut app = app_with_traces();
    key(&mut app, KeyCode::Enter);
    let steps: Vec<Step> = (0..3)
        .map(|n| Step {
            step: n,
            event_id: format!("{n}{n}{n}{n}-event"),
            ..Step::default()
        })
        .collect();
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
    assert!(app.live);
    key(&mut app, KeyCode::Char('q'));
    assert!(app.quit);
}

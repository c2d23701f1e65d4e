//! Drawing: the app's state to widgets, nothing else. Each view is a function of the state it
//! shows and the area it gets, so it renders the same way on a terminal and on ratatui's
//! `TestBackend` in the snapshot tests.

mod anomalies;
mod critical_path;
mod dependencies;
mod help;
mod races;
mod services;
mod simulate;
mod time_travel;
mod traces;
mod tree;
mod variables;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, List, ListItem, ListState, Paragraph, Row, Table, TableState, Tabs,
};
use ratatui::Frame;

use super::app::{App, Input, Live};
use super::trace_screen::{Tab, TraceScreen};

/// Draws the whole screen.
pub fn render(frame: &mut Frame, app: &App) {
    let [title, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    render_title(frame, title, app);
    match (&app.trace, &app.services) {
        (Some(trace), _) => render_trace(frame, body, trace),
        (None, Some(screen)) => services::render(frame, body, screen),
        (None, None) => traces::render(frame, body, app),
    }
    render_status(frame, status, app);
    if app.show_help {
        help::render(frame, frame.area());
    }
}

fn render_title(frame: &mut Frame, area: Rect, app: &App) {
    let mut spans = vec![Span::styled(
        " raceway ",
        Style::new()
            .fg(Color::Black)
            .bg(Color::Cyan)
            .add_modifier(Modifier::BOLD),
    )];
    match (&app.trace, &app.services) {
        (Some(trace), _) => spans.push(Span::raw(format!(" trace {}", trace.trace_id))),
        (None, Some(_)) => spans.push(Span::raw(format!(" services @ {}", app.api))),
        (None, None) => spans.push(Span::raw(format!(" traces @ {}", app.api))),
    }
    match &app.live {
        Live::Off => {}
        Live::Streaming => spans.push(Span::styled(" ● live", Style::new().fg(Color::Green))),
        Live::Connecting => spans.push(Span::styled(" ○ live", Style::new().fg(Color::Yellow))),
        Live::Polling(_) => spans.push(Span::styled(
            " ○ live (polling)",
            Style::new().fg(Color::Yellow),
        )),
    }
    frame.render_widget(Line::from(spans), area);
}

fn render_trace(frame: &mut Frame, area: Rect, trace: &TraceScreen) {
    let [tabs, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let titles = Tab::ALL.iter().map(|t| t.title());
    let selected = Tab::ALL.iter().position(|&t| t == trace.tab);
    frame.render_widget(
        Tabs::new(titles)
            .select(selected)
            .highlight_style(Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD))
            .divider("|")
            .padding("", ""),
        tabs,
    );
    match trace.tab {
        Tab::Tree => tree::render(frame, body, trace),
        Tab::CriticalPath => critical_path::render(frame, body, trace),
        Tab::Races => races::render(frame, body, trace),
        Tab::Anomalies => anomalies::render(frame, body, trace),
        Tab::Dependencies => dependencies::render(frame, body, trace),
        Tab::Variables => variables::render(frame, body, trace),
        Tab::TimeTravel => time_travel::render(frame, body, trace),
        Tab::Simulate => simulate::render(frame, body, trace),
    }
}

fn render_status(frame: &mut Frame, area: Rect, app: &App) {
    let line = match &app.input {
        Some(Input::Filter(text)) => Line::from(format!("/{text}▏")),
        Some(Input::Goto(text)) => Line::from(format!("go to step or event: {text}▏")),
        None if app.status.is_error => Line::from(app.status.text.clone().red()),
        None if !app.status.text.is_empty() => Line::from(app.status.text.clone()),
        None if app.trace.is_some() => Line::from(
            "Tab view  j/k move  Esc back  r refresh  l live  ? help  q quit".dark_gray(),
        ),
        None if app.services.is_some() => {
            Line::from("j/k move  Esc back  r refresh  ? help  q quit".dark_gray())
        }
        None => Line::from(
            "j/k move  Enter open  / filter  S services  r refresh  l live  ? help  q quit"
                .dark_gray(),
        ),
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// "loading ..." in an area whose data has not arrived.
pub(super) fn loading(frame: &mut Frame, area: Rect, what: &str) {
    frame.render_widget(
        Paragraph::new(format!("loading {what} ...").dark_gray()),
        area,
    );
}

/// A list under `block`, the row at `cursor` highlighted and scrolled into view.
pub(super) fn render_list(
    frame: &mut Frame,
    area: Rect,
    block: Block,
    items: Vec<ListItem>,
    cursor: usize,
) {
    let list = List::new(items)
        .block(block)
        .highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let mut state = ListState::default().with_selected(Some(cursor));
    frame.render_stateful_widget(list, area, &mut state);
}

/// A table's columns: names split at spaces (`-` for an empty name) and widths, 0 for the
/// column that takes the rest.
pub(super) struct Columns<'a>(pub &'a str, pub &'a [u16]);

/// A table under a top border titled `title`, with bold column names; the row at `cursor` (if
/// any) highlighted and scrolled into view.
pub(super) fn render_table<'a>(
    frame: &mut Frame,
    area: Rect,
    (title, Columns(names, widths)): (String, Columns<'a>),
    rows: impl IntoIterator<Item = Row<'a>>,
    cursor: Option<usize>,
) {
    let names = names.split(' ').map(|n| if n == "-" { "" } else { n });
    let header = Row::new(names).style(Style::new().add_modifier(Modifier::BOLD));
    let widths = widths.iter().map(|&w| match w {
        0 => Constraint::Fill(1),
        w => Constraint::Length(w),
    });
    let table = Table::new(rows, widths)
        .header(header)
        .block(titled(title))
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let mut state = TableState::new().with_selected(cursor);
    frame.render_stateful_widget(table, area, &mut state);
}

/// A top border with a title.
pub(super) fn titled(title: String) -> Block<'static> {
    Block::new().borders(Borders::TOP).title(title)
}

/// The list of `items` under a top border titled `title`, or `empty` when there are none.
pub(super) fn render_items(
    frame: &mut Frame,
    area: Rect,
    (title, empty): (String, Span),
    items: Vec<ListItem>,
    cursor: usize,
) {
    if items.is_empty() {
        frame.render_widget(Paragraph::new(empty).block(titled(title)), area);
    } else {
        render_list(frame, area, titled(title), items, cursor);
    }
}

/// Milliseconds as `12.3 ms`, or `1.2 s` from a second on.
pub(super) fn duration_text(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        format!("{ms:.1} ms")
    }
}

/// The first 8 characters of an id.
pub(super) fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// The colour of a severity (`critical`, `warning`, `minor`).
pub(super) fn severity_color(severity: &str) -> Color {
    match severity {
        "critical" => Color::Red,
        "warning" => Color::Yellow,
        _ => Color::Blue,
    }
}

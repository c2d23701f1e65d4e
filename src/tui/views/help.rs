//! The help overlay: every key.

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

/// Every key and what it does.
pub const KEYS: [(&str, &str); 18] = [
    ("j / k, ↓ / ↑", "move"),
    (
        "Enter",
        "open a trace; tree: expand/collapse; variables: inspect",
    ),
    ("Esc", "back to the traces (or clear the filter)"),
    ("Tab / Shift-Tab", "next / previous view of a trace"),
    ("→ / ←", "tree: expand / collapse; time travel: step"),
    ("] / [", "time travel: step forward / back"),
    ("Home / End", "time travel: first / last step"),
    ("g", "time travel: jump to a step or event id"),
    (
        "+ / - / f / s",
        "simulate: delay, failure, SLA of a service",
    ),
    ("/", "filter the traces by id or service"),
    ("S", "services: health, trends and hotspots"),
    ("r", "refresh"),
    ("l", "live: new traces and findings as they arrive"),
    ("?", "this help"),
    ("q", "quit"),
    ("Ctrl-C", "quit"),
    ("", ""),
    ("", "any key closes this help"),
];

pub fn render(frame: &mut Frame, area: Rect) {
    let height = (KEYS.len() as u16 + 2).min(area.height);
    let [area] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    let [area] = Layout::horizontal([Constraint::Max(76)])
        .flex(Flex::Center)
        .areas(area);
    let text: Vec<String> = KEYS
        .iter()
        .map(|(key, what)| format!("{key:>16}  {what}"))
        .collect();
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(text.join("\n")).block(Block::new().borders(Borders::ALL).title(" Keys ")),
        area,
    );
}

//! The trace's findings: kind, severity, explanation and both sides.

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::ListItem;
use ratatui::Frame;

use super::{loading, render_items, severity_color};
use crate::client::models::RaceFinding;
use crate::tui::trace_screen::TraceScreen;
use raceway_schemas::FindingEvent;

pub fn render(frame: &mut Frame, area: Rect, trace: &TraceScreen) {
    let Some(races) = &trace.races else {
        return loading(frame, area, "races");
    };
    let title = format!(" Races ({}) ", races.len());
    let width = usize::from(area.width.saturating_sub(2)).max(20);
    let items: Vec<ListItem> = races.iter().map(|race| item(race, width)).collect();
    let empty = "No races involve this trace.".green();
    render_items(frame, area, (title, empty), items, trace.cursor());
}

/// Kind, severity and variable; both sides; the explanation, wrapped to `width`.
fn item(race: &RaceFinding, width: usize) -> ListItem<'static> {
    let severity = race.severity.as_str();
    let mut lines = vec![Line::from(vec![
        Span::styled(
            format!("{} ", race.kind.as_str()),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::styled(
            severity.to_string(),
            Style::new().fg(severity_color(severity)),
        ),
        Span::raw(format!(" on {} (x{})", race.variable, race.count)),
    ])];
    lines.push(Line::from(format!("  1: {}", side(&race.first))));
    lines.push(Line::from(format!("  2: {}", side(&race.second))));
    for chunk in textwrap::wrap(&race.explanation, width.saturating_sub(2)) {
        lines.push(Line::from(format!("  {chunk}").dark_gray()));
    }
    lines.push(Line::from(""));
    ListItem::new(lines)
}

fn side(side: &FindingEvent) -> String {
    format!(
        "{}/{} {} @ {}",
        side.service, side.thread_id, side.access_type, side.location
    )
}

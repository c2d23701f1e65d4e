//! The variable inspector: the variables the trace touched, and the selected one's audit trail
//! (time, service, thread, access, value change, and whether it follows the previous access
//! causally or races with it).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Cell, ListItem, Row};
use ratatui::Frame;

use super::{loading, render_list, render_table, short, Columns};
use crate::client::models::value_text;
use crate::tui::trace_screen::TraceScreen;
use raceway_query_api::responses::AccessRow;

pub fn render(frame: &mut Frame, area: Rect, trace: &TraceScreen) {
    let [names, trail] =
        Layout::horizontal([Constraint::Length(16), Constraint::Min(20)]).areas(area);
    let Some(variables) = &trace.variables else {
        return loading(frame, area, "variables");
    };
    let block = Block::new()
        .borders(Borders::RIGHT | Borders::TOP)
        .title(" Variables ");
    let items = variables
        .iter()
        .map(|v| ListItem::new(v.as_str()))
        .collect();
    render_list(frame, names, block, items, trace.cursor());

    let Some((variable, audit)) = &trace.audit else {
        return;
    };
    let Some(audit) = audit else {
        return loading(frame, trail, "the audit trail");
    };
    let rows = audit.trail.accesses.iter().enumerate().map(|(n, entry)| {
        let previous = n.checked_sub(1).map(|p| &audit.trail.accesses[p]);
        Row::new(vec![
            Cell::from(clock_time(&entry.timestamp)),
            Cell::from(format!("{}/{}", entry.service, entry.thread_id)),
            Cell::from(entry.access_type.clone()),
            Cell::from(change(entry)),
            Cell::from(causal(entry, previous)),
        ])
    });
    let columns = Columns("time who op value causal", &[12, 13, 5, 9, 0]);
    render_table(frame, trail, (format!(" {variable} "), columns), rows, None);
}

/// `HH:MM:SS.mmm` of an RFC 3339 time.
fn clock_time(timestamp: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(timestamp)
        .map(|t| t.format("%H:%M:%S%.3f").to_string())
        .unwrap_or_else(|_| timestamp.to_string())
}

/// `old→new` for writes, the value seen for reads.
fn change(entry: &AccessRow) -> String {
    if entry.access_type.contains("Write") || entry.access_type.contains("RMW") {
        format!(
            "{}→{}",
            value_text(entry.old_value.as_ref().unwrap_or(&serde_json::Value::Null)),
            value_text(&entry.new_value)
        )
    } else {
        value_text(&entry.new_value)
    }
}

/// "follows …" when the previous access happens before this one, else "no causal link", a
/// RACE when the access is a side of a finding.
fn causal(entry: &AccessRow, previous: Option<&AccessRow>) -> Span<'static> {
    match previous {
        None => Span::raw("first access"),
        Some(previous) if entry.causally_linked_to_previous => Span::styled(
            format!("follows {}", short(&previous.event_id)),
            Style::new().fg(Color::Green),
        ),
        Some(_) if !entry.in_findings.is_empty() => Span::styled(
            "no causal link: RACE",
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        ),
        Some(_) => Span::raw("no causal link"),
    }
}

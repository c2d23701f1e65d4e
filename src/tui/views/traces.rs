//! The traces list: id, services, events, duration; races in red with their count, ⚠ on traces
//! with duration anomalies.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row};
use ratatui::Frame;

use super::{duration_text, loading, render_table, short, Columns};
use crate::tui::app::App;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let Some(page) = &app.traces else {
        return loading(frame, area, "traces");
    };
    let visible = app.visible_traces();
    let rows = visible.iter().map(|trace| {
        let races = if trace.race_count > 0 {
            Span::styled(
                format!(
                    "{} race{}",
                    trace.race_count,
                    if trace.race_count == 1 { "" } else { "s" }
                ),
                Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            )
        } else {
            Span::raw("-")
        };
        let flag = if app.anomalous.contains(&trace.trace_id) {
            Span::styled("⚠", Style::new().fg(Color::Yellow))
        } else {
            Span::raw(" ")
        };
        let row = Row::new(vec![
            Cell::from(flag),
            Cell::from(short(&trace.trace_id).to_string()),
            Cell::from(trace.services.join(",")),
            Cell::from(trace.event_count.to_string()),
            Cell::from(duration_text(trace.duration_ms)),
            Cell::from(races),
        ]);
        if trace.race_count > 0 {
            row.style(Style::new().fg(Color::Red))
        } else {
            row
        }
    });
    let title = if app.filter.is_empty() {
        format!(" Traces ({} of {}) ", visible.len(), page.page.total)
    } else {
        format!(" Traces matching {:?} ({}) ", app.filter, visible.len())
    };
    let columns = Columns(
        "- trace services events duration races",
        &[1, 8, 0, 6, 9, 8],
    );
    render_table(frame, area, (title, columns), rows, Some(app.cursor));
}

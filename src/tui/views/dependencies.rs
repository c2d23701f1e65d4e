//! The trace's service calls as an ASCII diagram, one edge a line with its call count; edges the
//! global dependency graph never saw before this trace started are flagged unexpected.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::ListItem;
use ratatui::Frame;

use super::{loading, render_items};
use crate::tui::trace_screen::TraceScreen;

pub fn render(frame: &mut Frame, area: Rect, trace: &TraceScreen) {
    let Some(edges) = &trace.dependencies else {
        return loading(frame, area, "dependencies");
    };
    let title = format!(" Service calls ({}) ", edges.len());
    let caller_width = edges
        .iter()
        .map(|e| e.edge.caller_service.chars().count())
        .max()
        .unwrap_or(0);
    let items: Vec<ListItem> = edges
        .iter()
        .map(|row| {
            let edge = &row.edge;
            let calls = format!(
                "──{} {} call{}{}──▶",
                edge.kind,
                edge.calls,
                if edge.calls == 1 { "" } else { "s" },
                if edge.errors > 0 {
                    format!(", {} err", edge.errors)
                } else {
                    String::new()
                }
            );
            let mut spans = vec![
                Span::styled(
                    format!("[{:>caller_width$}]", edge.caller_service),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
                Span::raw(calls),
                Span::styled(
                    format!("[{}]", edge.callee_service),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
            ];
            if row.unexpected {
                spans.push(Span::styled(
                    "  ⚠ unexpected",
                    Style::new().fg(Color::Yellow),
                ));
            }
            ListItem::new(Line::from(spans))
        })
        .collect();
    let empty = "This trace made no calls between services.".dark_gray();
    render_items(frame, area, (title, empty), items, trace.cursor());
}

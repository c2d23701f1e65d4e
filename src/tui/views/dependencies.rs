//! The trace's service calls as an ASCII diagram, one edge a line with its call count; edges the
//! global dependency graph never saw before this trace started are flagged unexpected.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, ListState, Paragraph};
use ratatui::Frame;

use super::loading;
use crate::tui::trace_screen::TraceScreen;

pub fn render(frame: &mut Frame, area: Rect, trace: &TraceScreen) {
    let Some(edges) = &trace.dependencies else {
        return loading(frame, area, "dependencies");
    };
    let block = Block::new()
        .borders(Borders::TOP)
        .title(format!(" Service calls ({}) ", edges.len()));
    if edges.is_empty() {
        let text = "This trace made no calls between services.".dark_gray();
        return frame.render_widget(Paragraph::new(text).block(block), area);
    }
    let caller_width = edges
        .iter()
        .map(|e| e.caller.chars().count())
        .max()
        .unwrap_or(0);
    let items: Vec<ListItem> = edges
        .iter()
        .map(|edge| {
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
                    format!("[{:>caller_width$}]", edge.caller),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
                Span::raw(calls),
                Span::styled(
                    format!("[{}]", edge.callee),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
            ];
            if trace.is_unexpected(edge) {
                spans.push(Span::styled(
                    "  ⚠ unexpected",
                    Style::new().fg(Color::Yellow),
                ));
            }
            ListItem::new(Line::from(spans))
        })
        .collect();
    let list = List::new(items)
        .block(block)
        .highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let mut state = ListState::default().with_selected(Some(trace.cursor()));
    frame.render_stateful_widget(list, area, &mut state);
}

//! The tree: one line per visible node, "kind @ location (duration)", nodes on the critical path
//! in red, under a header with the critical path's length and share of the trace.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, ListItem, Paragraph};
use ratatui::Frame;

use super::{duration_text, loading, render_list};
use crate::tui::trace_screen::TraceScreen;

pub fn render(frame: &mut Frame, area: Rect, trace: &TraceScreen) {
    let [header, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    if let Some(path) = &trace.critical_path {
        let text = format!(
            "Critical path: {} ({:.0}% of trace time)",
            duration_text(path.total_duration_ms),
            path.share_of_trace * 100.0
        );
        frame.render_widget(Paragraph::new(text.red().bold()), header);
    }
    if trace.tree.is_none() {
        return loading(frame, body, "the tree");
    }
    let items: Vec<ListItem> = trace
        .tree_rows()
        .iter()
        .map(|row| {
            let node = row.node;
            let marker = match (node.children.is_empty(), row.expanded) {
                (true, _) => "  ",
                (false, true) => "▾ ",
                (false, false) => "▸ ",
            };
            let location = if node.location.is_empty() {
                String::new()
            } else {
                format!(" @ {}", node.location)
            };
            let text = format!(
                "{}{marker}{}{location} ({}) [{}]",
                "  ".repeat(row.depth),
                node.kind,
                duration_text(node.duration_ns as f64 / 1e6),
                node.service,
            );
            let style = if trace.on_critical_path(&node.id) {
                Style::new().fg(Color::Red)
            } else if node.error {
                Style::new().fg(Color::Magenta)
            } else {
                Style::new()
            };
            ListItem::new(Line::styled(text, style))
        })
        .collect();
    render_list(frame, body, Block::new(), items, trace.cursor());
}

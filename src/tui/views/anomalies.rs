//! The trace's duration anomalies: ⚠ coloured by severity, "took X (expected Y)", location.

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, ListState, Paragraph};
use ratatui::Frame;

use super::{duration_text, loading, severity_color};
use crate::tui::trace_screen::TraceScreen;

pub fn render(frame: &mut Frame, area: Rect, trace: &TraceScreen) {
    let Some(analysed) = &trace.anomalies else {
        return loading(frame, area, "anomalies");
    };
    let Some(anomalies) = analysed else {
        let text = "The trace has not been analysed yet (it completes after being idle).";
        return frame.render_widget(Paragraph::new(text.dark_gray()), area);
    };
    let block = Block::new()
        .borders(Borders::TOP)
        .title(format!(" Anomalies ({}) ", anomalies.len()));
    if anomalies.is_empty() {
        let text = Paragraph::new("No step was slower than its baseline.".green()).block(block);
        return frame.render_widget(text, area);
    }
    let items: Vec<ListItem> = anomalies
        .iter()
        .map(|a| {
            let color = severity_color(&a.severity);
            ListItem::new(vec![
                Line::from(vec![
                    Span::styled(format!("⚠ {} ", a.severity), Style::new().fg(color)),
                    Span::raw(format!(
                        "{} took {} (expected {}, {:.1} deviations)",
                        a.kind,
                        duration_text(a.actual_ms),
                        duration_text(a.expected_ms),
                        a.deviations
                    )),
                ]),
                Line::from(format!("  {} @ {}", a.service, a.location).dark_gray()),
            ])
        })
        .collect();
    let list = List::new(items)
        .block(block)
        .highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let mut state = ListState::default().with_selected(Some(trace.cursor()));
    frame.render_stateful_widget(list, area, &mut state);
}

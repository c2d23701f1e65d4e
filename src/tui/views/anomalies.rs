//! The trace's duration anomalies: ⚠ coloured by severity, "took X (expected Y)", location.

use ratatui::layout::Rect;
use ratatui::style::{Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{ListItem, Paragraph};
use ratatui::Frame;

use super::{duration_text, loading, render_items, severity_color};
use crate::tui::trace_screen::TraceScreen;

pub fn render(frame: &mut Frame, area: Rect, trace: &TraceScreen) {
    let Some(analysed) = &trace.anomalies else {
        return loading(frame, area, "anomalies");
    };
    let Some(anomalies) = analysed else {
        let text = "The trace has not been analysed yet (it completes after being idle).";
        return frame.render_widget(Paragraph::new(text.dark_gray()), area);
    };
    let title = format!(" Anomalies ({}) ", anomalies.len());
    let items: Vec<ListItem> = anomalies
        .iter()
        .map(|a| {
            let color = severity_color(a.severity.as_str());
            ListItem::new(vec![
                Line::from(vec![
                    Span::styled(
                        format!("⚠ {} ", a.severity.as_str()),
                        Style::new().fg(color),
                    ),
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
    let empty = "No step was slower than its baseline.".green();
    render_items(frame, area, (title, empty), items, trace.cursor());
}

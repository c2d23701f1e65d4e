//! The critical path as a list of steps with their own and total durations.

use ratatui::layout::Rect;
use ratatui::widgets::Row;
use ratatui::Frame;

use super::{duration_text, loading, render_table, Columns};
use crate::tui::trace_screen::TraceScreen;

pub fn render(frame: &mut Frame, area: Rect, trace: &TraceScreen) {
    let Some(path) = &trace.critical_path else {
        return loading(frame, area, "the critical path");
    };
    let rows = path.path.iter().enumerate().map(|(n, step)| {
        Row::new(vec![
            (n + 1).to_string(),
            step.kind.clone(),
            step.service.clone(),
            step.location.clone(),
            duration_text(step.self_time_ms),
            duration_text(step.duration_ms),
        ])
    });
    let title = format!(
        " Critical path: {} of {} ({:.0}%) ",
        duration_text(path.total_duration_ms),
        duration_text(path.trace_duration_ms),
        path.share_of_trace * 100.0
    );
    let columns = Columns("# kind service location self total", &[3, 14, 10, 0, 9, 9]);
    render_table(frame, area, (title, columns), rows, Some(trace.cursor()));
}

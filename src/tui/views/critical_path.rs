//! The critical path as a list of steps with their own and total durations, and under it the
//! optimisation hints with the time each would save.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Row};
use ratatui::Frame;

use super::{duration_text, loading, render_table, titled, Columns};
use crate::tui::trace_screen::TraceScreen;

pub fn render(frame: &mut Frame, area: Rect, trace: &TraceScreen) {
    let Some(path) = &trace.critical_path else {
        return loading(frame, area, "the critical path");
    };
    let hints = u16::try_from(path.suggestions.len()).unwrap_or(u16::MAX);
    let height = if hints == 0 {
        0
    } else {
        hints.saturating_add(1)
    };
    let [area, hints_area] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(height)]).areas(area);
    let lines: Vec<Line> = path
        .suggestions
        .iter()
        .map(|s| {
            Line::from(format!(
                "saves {}: {}",
                duration_text(s.saves_ms),
                s.description
            ))
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines).block(titled(" Could be faster ".into())),
        hints_area,
    );
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

#[cfg(test)]
mod tests {
    use raceway_analysis::trace::{Suggestion, SuggestionKind};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    use super::*;
    use crate::client::models::CriticalPathBody;

    #[test]
    fn hints_show_under_the_path_with_their_saving() {
        let trace = TraceScreen {
            critical_path: Some(CriticalPathBody {
                trace_id: "t".into(),
                path: Vec::new(),
                total_duration_ms: 150.0,
                trace_duration_ms: 150.0,
                share_of_trace: 1.0,
                suggestions: vec![Suggestion {
                    kind: SuggestionKind::Parallelize,
                    event_ids: Vec::new(),
                    saves_ms: 50.0,
                    description: "2 calls ran one after the other".into(),
                }],
            }),
            ..TraceScreen::default()
        };
        let mut terminal = Terminal::new(TestBackend::new(70, 10)).expect("terminal");
        terminal
            .draw(|frame| render(frame, frame.area(), &trace))
            .expect("draw");
        let screen = format!("{}", terminal.backend());
        assert!(screen.contains("Could be faster"), "{screen}");
        assert!(
            screen.contains("saves 50.0 ms: 2 calls ran one after the other"),
            "{screen}"
        );
    }
}

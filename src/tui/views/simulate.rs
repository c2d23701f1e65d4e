//! The Simulate view: the services the trace calls with the delay and failure chosen for each,
//! and under them the last simulation: the critical path before and after, the services it
//! reaches, the requests over their SLA and the steps that moved most.

use raceway_analysis::simulate::{FailureMode, Simulation};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Row};
use ratatui::Frame;

use super::{duration_text, render_table, short, titled, Columns};
use crate::tui::simulate_form::{SLA_MS, TIMEOUT_MS};
use crate::tui::trace_screen::TraceScreen;

pub fn render(frame: &mut Frame, area: Rect, trace: &TraceScreen) {
    let form = &trace.simulate;
    if trace.dependencies.is_none() {
        return super::loading(frame, area, "the services this trace calls");
    }
    if form.rows.is_empty() {
        let text = "This trace makes no calls into other services: nothing to delay or fail.";
        frame.render_widget(Paragraph::new(text.dark_gray()), area);
        return;
    }
    let height = u16::try_from(form.rows.len())
        .unwrap_or(u16::MAX)
        .saturating_add(2);
    let [choices, result] =
        Layout::vertical([Constraint::Length(height), Constraint::Min(1)]).areas(area);
    let rows = form.rows.iter().map(|row| {
        let failure = match row.failure {
            None => "-".to_string(),
            Some(FailureMode::Error) => "fails at once".to_string(),
            Some(FailureMode::Timeout) => {
                format!("times out after {}", duration_text(TIMEOUT_MS as f64))
            }
        };
        let delay = if row.delay_ms == 0 {
            "-".to_string()
        } else {
            format!("+{} ms", row.delay_ms)
        };
        Row::new(vec![row.service.clone(), delay, failure])
    });
    let sla = form
        .sla_ms
        .map_or("no SLA".to_string(), |ms| format!("SLA {ms} ms"));
    let title = format!(
        " What if: +/- delay  f failure  s SLA ({sla}, toggles {SLA_MS} ms)  Enter simulate "
    );
    render_table(
        frame,
        choices,
        (title, Columns("service delay failure", &[24, 10, 0])),
        rows,
        Some(trace.cursor()),
    );
    let lines = match &form.result {
        _ if form.running => vec![Line::from("simulating ...".dark_gray())],
        None => vec![Line::from(
            "Choose a delay or a failure, then Enter.".dark_gray(),
        )],
        Some(Err(message)) => vec![Line::from(message.clone().red())],
        Some(Ok(simulation)) => result_lines(simulation),
    };
    frame.render_widget(
        Paragraph::new(lines).block(titled(" Result ".into())),
        result,
    );
}

/// The answer in lines: the path's change, the services reached, the SLA breaches, the steps
/// that moved most.
fn result_lines(sim: &Simulation) -> Vec<Line<'static>> {
    let path = &sim.critical_path;
    let change = format!(
        "Critical path: {} -> {} ({:+.1} ms)",
        duration_text(path.length.before_ms),
        duration_text(path.length.after_ms),
        path.delta_ms
    );
    let colour = if path.delta_ms > 0.0 {
        Color::Red
    } else {
        Color::Green
    };
    let mut lines = vec![Line::from(change.fg(colour).bold())];
    if sim.affected_services.is_empty() {
        lines.push(Line::from("No other service moves."));
    }
    for affected in &sim.affected_services {
        let via: Vec<String> = affected
            .via
            .iter()
            .map(|id| short(&id.to_string()).to_string())
            .collect();
        lines.push(Line::from(format!(
            "reaches {} via {}",
            affected.service,
            via.join(" -> ")
        )));
    }
    for breach in &sim.over_sla {
        lines.push(Line::from(
            format!(
                "over SLA: {} {} {} (budget {} ms)",
                breach.event.service,
                breach.event.location,
                duration_text(breach.duration.after_ms),
                breach.sla_ms
            )
            .red(),
        ));
    }
    let mut moved: Vec<(f64, String)> = sim
        .events
        .iter()
        .filter_map(|e| {
            let after = e.after_start_ms? + e.after_duration_ms?;
            let shift = after - (e.before_start_ms + e.before_duration_ms);
            (shift != 0.0).then(|| {
                (
                    shift,
                    format!("{} {} {}", e.event.service, e.event.kind, e.event.location),
                )
            })
        })
        .collect();
    moved.sort_by(|a, b| b.0.abs().total_cmp(&a.0.abs()));
    for (shift, what) in moved.into_iter().take(5) {
        lines.push(Line::from(format!("  {shift:+.1} ms  {what}")));
    }
    lines
}

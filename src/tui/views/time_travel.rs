//! Time travel: a timeline bar at the current step, the step's event and the races it is part
//! of, the variables' values, and each thread's position with the locks it holds.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, LineGauge, Paragraph};
use ratatui::Frame;

use super::{loading, short};
use crate::client::models::{value_text, TraceStateBody};
use crate::tui::trace_screen::TraceScreen;

pub fn render(frame: &mut Frame, area: Rect, trace: &TraceScreen) {
    let Some(steps) = &trace.steps else {
        return loading(frame, area, "steps");
    };
    if steps.is_empty() {
        return frame.render_widget(Paragraph::new("The trace has no steps."), area);
    }
    let [timeline, event, panels] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(4),
        Constraint::Min(3),
    ])
    .areas(area);
    let last = steps.len() - 1;
    let ratio = if last == 0 {
        1.0
    } else {
        trace.step as f64 / last as f64
    };
    frame.render_widget(
        LineGauge::default()
            .filled_style(Style::new().fg(Color::Cyan))
            .label(format!("step {}/{} ", trace.step, last))
            .ratio(ratio.clamp(0.0, 1.0)),
        timeline,
    );
    let current = &steps[trace.step.min(last)];
    let Some(state) = trace.state.as_ref().filter(|s| s.step == trace.step) else {
        return loading(frame, panels, "the state");
    };
    let races = if state.races_at_step.is_empty() {
        Line::from("races at this step: none".dark_gray())
    } else {
        let ids: Vec<&str> = state.races_at_step.iter().map(|id| short(id)).collect();
        Line::from(
            format!("races at this step: {}", ids.join(", "))
                .red()
                .bold(),
        )
    };
    let lines = vec![
        Line::from(current.label.clone().bold()),
        Line::from(format!(
            "{} by {}/{}  event {}",
            current.kind,
            current.actor.service,
            current.actor.thread_id,
            short(&current.event_id)
        )),
        races,
    ];
    frame.render_widget(
        Paragraph::new(lines).block(Block::new().borders(Borders::TOP).title(" Event ")),
        event,
    );
    let [variables, threads] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(panels);
    render_variables(frame, variables, state);
    render_threads(frame, threads, state);
}

fn render_variables(frame: &mut Frame, area: Rect, state: &TraceStateBody) {
    let lines: Vec<Line> = state
        .variables
        .iter()
        .map(|(name, variable)| {
            let writer = match &variable.last_writer {
                Some(w) => format!(" ({})", w.actor.thread_id),
                None => " (read)".to_string(),
            };
            let text = format!("{name} = {}{writer}", value_text(&variable.value));
            if variable.written_at_step == Some(state.step) {
                Line::styled(
                    text,
                    Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
                )
            } else {
                Line::from(text)
            }
        })
        .collect();
    let block = Block::new()
        .borders(Borders::TOP | Borders::RIGHT)
        .title(" Variables ");
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn render_threads(frame: &mut Frame, area: Rect, state: &TraceStateBody) {
    let lines: Vec<Line> = state
        .threads
        .iter()
        .map(|thread| {
            let locks: Vec<String> = thread
                .locks_held
                .iter()
                .map(|l| format!("{} ({})", l.lock_id, l.mode))
                .collect();
            let text = format!(
                "{}/{} @ {}{}",
                thread.actor.service,
                thread.actor.thread_id,
                thread.last_step,
                if locks.is_empty() {
                    String::new()
                } else {
                    format!(" holds {}", locks.join(", "))
                }
            );
            if thread.last_step == state.step {
                Line::styled(text, Style::new().add_modifier(Modifier::BOLD))
            } else {
                Line::from(text)
            }
        })
        .collect();
    let block = Block::new().borders(Borders::TOP).title(" Threads ");
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

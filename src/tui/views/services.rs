//! The Services view: each service's counts and health over the last hour (percentiles, error
//! and anomaly rates, trend), and the variables and locations in the most findings and anomalies.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::Span;
use ratatui::widgets::{Paragraph, Row};
use ratatui::Frame;

use super::{duration_text, loading, render_table, titled, Columns};
use raceway_analysis::service_health::Trend;

use crate::client::models::{HotspotsBody, ServiceHealthBody};
use crate::tui::services_screen::{ServiceLine, ServicesScreen, WINDOW};

pub fn render(frame: &mut Frame, area: Rect, screen: &ServicesScreen) {
    let [health, hotspots] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    match &screen.services {
        None => loading(frame, health, "services"),
        Some(lines) if lines.is_empty() => frame.render_widget(
            Paragraph::new(format!("No service recorded events in the last {WINDOW}.").dark_gray())
                .block(titled(format!(" Services (last {WINDOW}) "))),
            health,
        ),
        Some(lines) => render_health(frame, health, lines, screen.cursor),
    }
    match &screen.hotspots {
        None => loading(frame, hotspots, "hotspots"),
        Some(found) => render_hotspots(frame, hotspots, found),
    }
}

/// The colour and label of a trend.
fn trend(health: Option<&ServiceHealthBody>) -> Span<'static> {
    let Some(health) = health else {
        return Span::raw("-");
    };
    match health.health.trend {
        Trend::Degrading => Span::styled("degrading", Style::new().fg(Color::Red)),
        Trend::Improving => Span::styled("improving", Style::new().fg(Color::Green)),
        Trend::Stable => Span::raw("stable"),
        Trend::InsufficientData => Span::styled("too few", Style::new().fg(Color::DarkGray)),
    }
}

fn ms(ns: u64) -> String {
    duration_text(ns as f64 / 1e6)
}

fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

fn render_health(frame: &mut Frame, area: Rect, lines: &[ServiceLine], cursor: usize) {
    let rows = lines.iter().map(|line| {
        let c = &line.counts;
        let h = line.health.as_ref();
        let figure = |f: fn(&ServiceHealthBody) -> String| h.map(f).unwrap_or_else(|| "-".into());
        Row::new(vec![
            Span::raw(c.service.clone()),
            Span::raw(c.trace_count.to_string()),
            Span::raw(c.race_count.to_string()),
            Span::raw(c.anomaly_count.to_string()),
            Span::raw(figure(|h| ms(h.health.recent.p50_ns))),
            Span::raw(figure(|h| ms(h.health.recent.p95_ns))),
            Span::raw(figure(|h| ms(h.health.recent.p99_ns))),
            Span::raw(figure(|h| percent(h.health.recent.error_rate))),
            Span::raw(figure(|h| percent(h.health.recent.anomaly_rate))),
            trend(h),
        ])
    });
    let title = format!(" Services (last {WINDOW}): health against their own history ");
    let columns = Columns(
        "Service Traces Finds Anoms p50 p95 p99 Errors Anomalous Trend",
        &[0, 7, 6, 6, 9, 9, 9, 7, 9, 10],
    );
    render_table(frame, area, (title, columns), rows, Some(cursor));
}

fn render_hotspots(frame: &mut Frame, area: Rect, found: &HotspotsBody) {
    let [variables, locations] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area);
    let found = &found.hotspots;
    let variable_rows: Vec<Vec<String>> = found
        .variables
        .iter()
        .map(|v| {
            let counts = [
                v.findings,
                v.data_races,
                v.lost_updates,
                v.lock_order_inversions,
            ];
            let mut cells = vec![v.variable.clone()];
            cells.extend(counts.iter().map(u64::to_string));
            cells
        })
        .collect();
    let location_rows: Vec<Vec<String>> = found
        .locations
        .iter()
        .map(|l| {
            let counts = [l.findings.to_string(), l.anomalies.to_string()];
            [vec![l.service.clone(), l.location.clone()], counts.to_vec()].concat()
        })
        .collect();
    let tables = [
        (
            variables,
            "variables",
            Columns("Variable All Races Lost Locks", &[0, 4, 6, 5, 6]),
            variable_rows,
        ),
        (
            locations,
            "locations",
            Columns("Service Location Finds Anoms", &[14, 0, 6, 6]),
            location_rows,
        ),
    ];
    for (area, what, columns, rows) in tables {
        let title = format!(" Hotspot {what} (last {WINDOW}) ");
        render_table(
            frame,
            area,
            (title, columns),
            rows.into_iter().map(Row::new),
            None,
        );
    }
}

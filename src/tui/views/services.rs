//! The Services view: each service's counts and health over the last hour (percentiles, error
//! and anomaly rates, trend), and the variables and locations in the most findings and anomalies.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::Span;
use ratatui::widgets::{Paragraph, Row};
use ratatui::Frame;

use super::{duration_text, loading, render_table, titled, Columns};
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
    match health.trend.trend.as_str() {
        "degrading" => Span::styled("degrading", Style::new().fg(Color::Red)),
        "improving" => Span::styled("improving", Style::new().fg(Color::Green)),
        "stable" => Span::raw("stable"),
        _ => Span::styled("too few", Style::new().fg(Color::DarkGray)),
    }
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
            Span::raw(figure(|h| duration_text(h.recent.p50_ms))),
            Span::raw(figure(|h| duration_text(h.recent.p95_ms))),
            Span::raw(figure(|h| duration_text(h.recent.p99_ms))),
            Span::raw(figure(|h| percent(h.recent.error_rate))),
            Span::raw(figure(|h| percent(h.recent.anomaly_rate))),
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
    let rows = found.variables.iter().map(|v| {
        Row::new(vec![
            v.variable.clone(),
            v.findings.to_string(),
            v.data_races.to_string(),
            v.lost_updates.to_string(),
            v.lock_order_inversions.to_string(),
        ])
    });
    let title = format!(" Hotspot variables (last {WINDOW}) ");
    let columns = Columns("Variable All Races Lost Locks", &[0, 4, 6, 5, 6]);
    render_table(frame, variables, (title, columns), rows, None);
    let rows = found.locations.iter().map(|l| {
        Row::new(vec![
            l.service.clone(),
            l.location.clone(),
            l.findings.to_string(),
            l.anomalies.to_string(),
        ])
    });
    let title = format!(" Hotspot locations (last {WINDOW}) ");
    let columns = Columns("Service Location Finds Anoms", &[14, 0, 6, 6]);
    render_table(frame, locations, (title, columns), rows, None);
}

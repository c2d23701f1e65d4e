//! The trace's anomalies: ⚠ coloured by severity, then for a slow step "took X (expected Y)" and
//! its location, for an unusual sequence its first improbable transition and its entry point.

use ratatui::layout::Rect;
use ratatui::style::{Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{ListItem, Paragraph};
use ratatui::Frame;

use super::{duration_text, loading, render_items, severity_color};
use crate::tui::trace_screen::TraceScreen;
use raceway_query_api::responses::AnomalyRow;
use raceway_store::AnomalyKind;

/// What is unusual (after the severity), and where (the second line).
fn anomaly_text(a: &AnomalyRow) -> (String, String) {
    match (a.anomaly_kind, &a.transition) {
        (AnomalyKind::UnusualSequence, Some(t)) => (
            format!(
                "unusual sequence: {} → {} (p {:.3}, {:.1} MADs)",
                t.from, t.to, t.probability, a.deviations
            ),
            format!("  {} @ entry {} {}", a.service, a.kind, a.location),
        ),
        (AnomalyKind::UnusualSequence, None) => (
            format!("unusual sequence ({:.1} MADs)", a.deviations),
            format!("  {} @ entry {} {}", a.service, a.kind, a.location),
        ),
        (AnomalyKind::Duration, _) => (
            format!(
                "{} took {} (expected {}, {:.1} deviations)",
                a.kind,
                duration_text(a.actual_ms),
                duration_text(a.expected_ms),
                a.deviations
            ),
            format!("  {} @ {}", a.service, a.location),
        ),
    }
}

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
            let (what, place) = anomaly_text(a);
            ListItem::new(vec![
                Line::from(vec![
                    Span::styled(
                        format!("⚠ {} ", a.severity.as_str()),
                        Style::new().fg(color),
                    ),
                    Span::raw(what),
                ]),
                Line::from(place.dark_gray()),
            ])
        })
        .collect();
    let empty = "No step was slower than its baseline, no sequence was unusual.".green();
    render_items(frame, area, (title, empty), items, trace.cursor());
}

#[cfg(test)]
mod tests {
    use super::*;
    use raceway_store::SequenceTransition;

    fn row(anomaly_kind: AnomalyKind, transition: Option<SequenceTransition>) -> AnomalyRow {
        let text = serde_json::json!({
            "anomaly_kind": anomaly_kind, "description": "", "transition": transition,
            "id": "a", "trace_id": "t", "event_id": "e", "service": "bank",
            "kind": "FunctionCall", "location": "validate", "actual_ms": 60.0,
            "expected_ms": 10.0, "actual_ns": 60_000_000, "expected_ns": 10_000_000,
            "deviations": 12.5, "severity": "critical", "baseline_samples": 30,
            "flagged_steps": 2, "trace_start": "2024-01-01T00:00:00Z"
        });
        serde_json::from_value(text).expect("a row")
    }

    #[test]
    fn an_unusual_sequence_reads_as_its_transition_and_entry_point() {
        let transition = SequenceTransition {
            from: "FunctionCall:validate".into(),
            to: "FunctionCall:credit".into(),
            probability: 0.0042,
        };
        let (what, place) = anomaly_text(&row(AnomalyKind::UnusualSequence, Some(transition)));
        assert_eq!(
            what,
            "unusual sequence: FunctionCall:validate → FunctionCall:credit (p 0.004, 12.5 MADs)"
        );
        assert_eq!(place, "  bank @ entry FunctionCall validate");
        let (what, place) = anomaly_text(&row(AnomalyKind::Duration, None));
        assert!(what.starts_with("FunctionCall took 60"), "{what}");
        assert_eq!(place, "  bank @ validate");
    }
}

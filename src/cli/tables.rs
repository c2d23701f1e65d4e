//! Human tables of the query commands' answers. Colour (red for races and critical findings,
//! yellow for warnings) only reaches a terminal: comfy-table drops styling when stdout is not
//! one, so piped output stays plain text.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, Color, ContentArrangement, Table};

use raceway_query_api::responses::PathStep;

use crate::client::models::{
    value_text, AnomalyRow, CriticalPathBody, RaceFinding, ServicesBody, StepRow, TraceStateBody,
    TracesPage, Tree, TreeNode,
};

pub(super) fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().map(|h| Cell::new(h).fg(Color::Cyan)));
    table
}

fn with_newline(table: Table) -> String {
    format!("{table}\n")
}

/// Red for critical, yellow for warnings, plain otherwise.
fn severity_cell(severity: &str) -> Cell {
    let cell = Cell::new(severity);
    match severity {
        "critical" => cell.fg(Color::Red),
        "warning" => cell.fg(Color::Yellow),
        _ => cell,
    }
}

/// `raceway traces`.
pub fn traces(page: &TracesPage) -> String {
    let mut out = table(&["trace", "services", "events", "duration", "races"]);
    for trace in &page.traces {
        let races = Cell::new(trace.race_count);
        out.add_row(vec![
            Cell::new(&trace.trace_id),
            Cell::new(trace.services.join(", ")),
            Cell::new(trace.event_count),
            Cell::new(format!("{:.1} ms", trace.duration_ms)),
            if trace.race_count > 0 {
                races.fg(Color::Red)
            } else {
                races
            },
        ]);
    }
    format!(
        "{}{} of {} traces\n",
        with_newline(out),
        page.traces.len(),
        page.page.total
    )
}

/// `raceway services`.
pub fn services(list: &ServicesBody) -> String {
    let mut out = table(&["service", "traces", "events", "findings", "anomalies"]);
    for service in &list.services {
        let counts = [
            service.trace_count,
            service.event_count,
            service.race_count,
            service.anomaly_count,
        ];
        let mut row = vec![Cell::new(&service.service)];
        row.extend(counts.into_iter().map(Cell::new));
        out.add_row(row);
    }
    let window = &list.window;
    let shown = list.services.len();
    let (from, to, last) = (&window.from, &window.to, &window.window);
    format!(
        "{}{shown} services from {from} to {to} (last {last})\n",
        with_newline(out)
    )
}

/// `raceway races` and `raceway trace ID --races`.
pub fn races(races: &[RaceFinding]) -> String {
    let mut out = table(&["kind", "severity", "variable", "first", "second", "count"]);
    for race in races {
        let side = |s: &raceway_schemas::FindingEvent| {
            format!(
                "{}/{} {} {}",
                s.service, s.thread_id, s.access_type, s.location
            )
        };
        out.add_row(vec![
            Cell::new(race.kind.as_str()),
            severity_cell(race.severity.as_str()),
            Cell::new(&race.variable),
            Cell::new(side(&race.first)),
            Cell::new(side(&race.second)),
            Cell::new(race.count),
        ]);
    }
    let mut text = with_newline(out);
    for race in races {
        text.push_str(&format!("- {}\n", race.explanation));
    }
    text
}

/// `raceway trace ID --tree`: one line per node, indented by depth.
pub fn tree(tree: &Tree) -> String {
    let mut text = format!(
        "{} nodes, {:.1} ms\n",
        tree.node_count,
        tree.duration_ns as f64 / 1e6
    );
    let mut stack: Vec<(&TreeNode, usize)> = tree.roots.iter().rev().map(|n| (n, 0)).collect();
    while let Some((node, depth)) = stack.pop() {
        text.push_str(&format!(
            "{}{} @ {} [{}/{}] ({:.1} ms){}\n",
            "  ".repeat(depth),
            node.kind,
            node.location,
            node.service,
            node.thread,
            node.duration_ns as f64 / 1e6,
            if node.error { " ERROR" } else { "" }
        ));
        stack.extend(node.children.iter().rev().map(|c| (c, depth + 1)));
    }
    text
}

/// `raceway trace ID --critical-path`.
pub fn critical_path(path: &CriticalPathBody) -> String {
    let mut out = table(&["step", "kind", "service", "location", "self ms", "total ms"]);
    for (n, step) in path.path.iter().enumerate() {
        let PathStep {
            kind,
            service,
            location,
            self_time_ms,
            duration_ms,
            ..
        } = step;
        out.add_row(vec![
            Cell::new(n + 1),
            Cell::new(kind),
            Cell::new(service),
            Cell::new(location),
            Cell::new(format!("{self_time_ms:.1}")),
            Cell::new(format!("{duration_ms:.1}")),
        ]);
    }
    let mut text = format!(
        "Critical path: {:.1} ms ({:.0}% of trace time)\n{}",
        path.total_duration_ms,
        path.share_of_trace * 100.0,
        with_newline(out)
    );
    for hint in &path.suggestions {
        text.push_str(&format!(
            "could save {:.1} ms: {}\n",
            hint.saves_ms, hint.description
        ));
    }
    text
}

/// `raceway trace ID --anomalies`: slow steps with their durations, unusual sequences with
/// their entry point and first improbable transition.
pub fn anomalies(anomalies: &[AnomalyRow]) -> String {
    let mut out = table(&[
        "severity", "kind", "service", "location", "took", "expected", "why",
    ]);
    for a in anomalies {
        let (kind, took, expected, why) = match (&a.transition, a.anomaly_kind) {
            (Some(t), raceway_store::AnomalyKind::UnusualSequence) => (
                format!("unusual sequence from {}", a.kind),
                "–".to_string(),
                "–".to_string(),
                format!("{} → {} (p {:.3})", t.from, t.to, t.probability),
            ),
            _ => (
                a.kind.clone(),
                format!("{:.1} ms", a.actual_ms),
                format!("{:.1} ms", a.expected_ms),
                format!("{:.1} deviations", a.deviations),
            ),
        };
        out.add_row(vec![
            severity_cell(a.severity.as_str()),
            Cell::new(kind),
            Cell::new(&a.service),
            Cell::new(&a.location),
            Cell::new(took),
            Cell::new(expected),
            Cell::new(why),
        ]);
    }
    with_newline(out)
}

/// `raceway trace ID`: the steps in causal order.
pub fn steps(steps: &[StepRow]) -> String {
    let mut out = table(&["step", "service", "thread", "kind", "what"]);
    for step in steps {
        out.add_row(vec![
            Cell::new(step.step),
            Cell::new(&step.actor.service),
            Cell::new(&step.actor.thread_id),
            Cell::new(&step.kind),
            Cell::new(&step.label),
        ]);
    }
    with_newline(out)
}

/// `raceway state ID --at STEP`.
pub fn state(state: &TraceStateBody) -> String {
    let mut variables = table(&["variable", "value", "last writer", "written at step"]);
    for (name, variable) in &state.variables {
        let writer = variable
            .last_writer
            .as_ref()
            .map(|w| format!("{}/{}", w.actor.service, w.actor.thread_id))
            .unwrap_or_else(|| "(read only)".into());
        variables.add_row(vec![
            Cell::new(name),
            Cell::new(value_text(&variable.value)),
            Cell::new(writer),
            Cell::new(
                variable
                    .written_at_step
                    .map_or("-".to_string(), |s| s.to_string()),
            ),
        ]);
    }
    let mut threads = table(&["thread", "last step", "locks held"]);
    for thread in &state.threads {
        let locks: Vec<String> = thread
            .locks_held
            .iter()
            .map(|l| format!("{} ({})", l.lock_id, l.mode))
            .collect();
        threads.add_row(vec![
            Cell::new(format!(
                "{}/{}",
                thread.actor.service, thread.actor.thread_id
            )),
            Cell::new(thread.last_step),
            Cell::new(locks.join(", ")),
        ]);
    }
    let event = &state.event;
    let races = if state.races_at_step.is_empty() {
        "none".to_string()
    } else {
        state.races_at_step.join(", ")
    };
    format!(
        "step {} of {}: event {}\n{}{}races at this step: {races}\n",
        state.step,
        state.total_steps,
        value_text(&event["id"]),
        with_newline(variables),
        with_newline(threads),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_table_lists_ids_counts_and_durations() {
        let page: TracesPage = serde_json::from_value(serde_json::json!({
            "traces": [{
                "trace_id": "aaaaaaaa-aaaa-4aaa-aaaa-aaaaaaaaaaaa",
                "event_count": 3,
                "services": ["web"],
                "first_timestamp": "2024-01-01T12:00:00Z",
                "last_timestamp": "2024-01-01T12:00:00.002Z",
                "duration_ms": 2.0,
                "race_count": 1,
            }],
            "total": 1, "limit": 50, "offset": 0,
        }))
        .expect("a page of the API");
        let text = traces(&page);
        assert!(
            text.contains("aaaaaaaa-aaaa-4aaa-aaaa-aaaaaaaaaaaa"),
            "{text}"
        );
        assert!(text.contains("2.0 ms"), "{text}");
        assert!(text.contains("1 of 1 traces"), "{text}");
        // Not a terminal in tests: no escape codes.
        assert!(!text.contains('\u{1b}'), "{text}");
    }
}

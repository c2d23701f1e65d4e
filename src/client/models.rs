//! The query API's answers as the command line reads them. Only the fields shown are declared;
//! the API may add others. Findings are the event model's own [`RaceFinding`].

use std::collections::BTreeMap;

pub use raceway_schemas::RaceFinding;
use serde::Deserialize;
use serde_json::Value;

/// `GET /api/traces`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TracePage {
    pub traces: Vec<TraceRow>,
    #[serde(default)]
    pub total: u64,
}

/// One trace of the list.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct TraceRow {
    pub trace_id: String,
    pub event_count: u64,
    pub services: Vec<String>,
    pub first_timestamp: String,
    pub last_timestamp: String,
    pub race_count: u64,
}

impl TraceRow {
    /// Wall-clock time between its first and last event, in milliseconds.
    pub fn duration_ms(&self) -> f64 {
        let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
        match (parse(&self.first_timestamp), parse(&self.last_timestamp)) {
            (Some(first), Some(last)) => {
                (last - first).num_microseconds().unwrap_or(0) as f64 / 1000.0
            }
            _ => 0.0,
        }
    }
}

/// `GET /api/races` and `GET /api/traces/{id}/races`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RacePage {
    pub races: Vec<RaceFinding>,
    #[serde(default)]
    pub total: u64,
}

/// `GET /api/traces/{id}/tree`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Tree {
    #[serde(default)]
    pub start_ns: i64,
    pub duration_ns: u64,
    pub node_count: u64,
    pub roots: Vec<TreeNode>,
}

/// One node of the tree.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TreeNode {
    pub id: String,
    pub kind: String,
    pub service: String,
    pub location: String,
    pub thread: String,
    pub duration_ns: u64,
    pub error: bool,
    pub children: Vec<TreeNode>,
}

/// `GET /api/traces/{id}/critical-path`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CriticalPath {
    pub path: Vec<PathStep>,
    pub total_duration_ms: f64,
    pub trace_duration_ms: f64,
    pub share_of_trace: f64,
}

/// One step of the critical path.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PathStep {
    pub event_id: String,
    pub kind: String,
    pub service: String,
    pub location: String,
    pub self_time_ms: f64,
    pub duration_ms: f64,
}

/// `GET /api/traces/{id}/anomalies`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TraceAnomalies {
    pub anomalies: Vec<Anomaly>,
}

/// One step slower than its baseline.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Anomaly {
    pub service: String,
    pub kind: String,
    pub location: String,
    pub actual_ms: f64,
    pub expected_ms: f64,
    pub deviations: f64,
    pub severity: String,
}

/// `GET /api/dependencies` and `GET /api/traces/{id}/dependencies`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Dependencies {
    pub dependencies: Vec<DependencyEdge>,
}

/// Calls from one service to another.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct DependencyEdge {
    pub caller: String,
    pub callee: String,
    pub kind: String,
    pub calls: u64,
    #[serde(default)]
    pub errors: u64,
}

/// One access of `GET /api/traces/{id}/audit-trail/{variable}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AuditEntry {
    pub event_id: String,
    pub causally_linked_to_previous: bool,
    pub timestamp: String,
    pub old_value: Value,
    pub service: String,
    pub new_value: Value,
    pub thread_id: String,
    pub in_findings: Vec<String>,
    pub access_type: String,
}

/// `GET /api/traces/{id}/audit-trail/{variable}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuditTrail {
    pub accesses: Vec<AuditEntry>,
}

/// `GET /api/traces/{id}/steps`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Steps {
    pub steps: Vec<Step>,
}

/// One step of a trace's causal order.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Step {
    pub step: usize,
    pub event_id: String,
    pub service: String,
    pub thread_id: String,
    pub kind: String,
    pub label: String,
}

/// `GET /api/traces/{id}/state?at=`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct State {
    pub step: usize,
    pub total_steps: usize,
    pub event: Value,
    pub variables: BTreeMap<String, VariableState>,
    pub threads: Vec<ThreadState>,
    pub races_at_step: Vec<String>,
}

/// A variable's value after a step.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct VariableState {
    pub value: Value,
    pub last_writer: Option<Writer>,
    pub written_at_step: Option<usize>,
}

/// Who wrote a value.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Writer {
    pub service: String,
    pub thread_id: String,
}

/// One actor's position after a step.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ThreadState {
    pub service: String,
    pub thread_id: String,
    pub last_step: usize,
    pub locks_held: Vec<HeldLock>,
}

/// A lock an actor holds.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HeldLock {
    pub lock_id: String,
    pub mode: String,
}

/// A JSON value as a short text: strings without quotes, others as JSON.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

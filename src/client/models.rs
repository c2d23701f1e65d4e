//! The query API's answers as the command line reads them: the API's own response types
//! ([`raceway_query_api::responses`]), so client and server cannot drift apart, plus the tree,
//! which the API writes without a deserialisable type (it streams nested nodes of any depth).

use serde::Deserialize;
use serde_json::Value;

pub use raceway_query_api::responses::{
    AnomaliesPage, AnomalyRow, CriticalPathBody, HotspotsBody, LiveMessage, RacesPage,
    ServiceHealthBody, ServicesBody, StepRow, TraceAnomalies, TraceAuditTrail, TraceDependencies,
    TraceDependencyRow, TraceRaces, TraceRow, TraceStateBody, TraceSteps, TracesPage,
};
pub use raceway_schemas::RaceFinding;
pub use raceway_store::ServiceCounts;

/// `GET /api/traces/{id}/tree`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Tree {
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

/// A JSON value as a short text: strings without quotes, others as JSON.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

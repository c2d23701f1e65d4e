//! Notices on the findings topic (`raceway.findings`): what the pipeline tells live readers
//! (the query API's live stream) besides the events themselves. JSON, one notice per record,
//! key = the trace it concerns.
//!
//! The race stage sends [`Notice::Finding`] for each new or updated finding after storing it;
//! the trace stage sends [`Notice::TraceCompleted`] after storing a completed trace's analyses
//! (a late event re-opens a trace, so one trace can complete more than once). Both are sent
//! after the store write, so a reader that follows a notice to the query API finds the data.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::RaceFinding;

/// One notice on the findings topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Notice {
    /// A finding was stored (new, or a new version of it).
    Finding {
        /// The finding as stored.
        finding: Box<RaceFinding>,
    },
    /// A trace was completed and analysed.
    TraceCompleted {
        /// The trace.
        trace_id: Uuid,
        /// Its events at completion.
        event_count: u64,
        /// Its services, sorted.
        services: Vec<String>,
        /// Its events' environments, sorted (live readers confine tenants by them; empty in
        /// notices written before they were recorded).
        #[serde(default)]
        environments: Vec<String>,
    },
}

impl Notice {
    /// The trace the notice concerns (a finding's first side), the record's key.
    pub fn trace_id(&self) -> String {
        match self {
            Notice::Finding { finding } => finding.first.trace_id.clone(),
            Notice::TraceCompleted { trace_id, .. } => trace_id.to_string(),
        }
    }

    /// The JSON payload of the notice's record.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

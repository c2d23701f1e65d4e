//! Conversions between the shared types and stored columns, common to both backends.

use raceway_schemas::json::{decode_event, encode_event};
use raceway_schemas::{Event, FindingKind, RaceFinding, Severity};
use uuid::Uuid;

use crate::StoreError;

/// The indexed columns of an event, plus its full Raceway-JSON `payload`.
pub(crate) struct EventColumns {
    pub id: Uuid,
    pub trace_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub timestamp_ns: i64,
    pub kind: &'static str,
    pub service: String,
    pub instance_id: String,
    pub thread_id: String,
    pub environment: String,
    /// The variable of a StateChange, empty for every other kind.
    pub variable: String,
    /// The access type of a StateChange, empty for every other kind.
    pub access_type: &'static str,
    pub payload: String,
}

impl EventColumns {
    /// Splits an event into columns; the payload is the schemas crate's Raceway JSON.
    pub fn new(event: &Event) -> EventColumns {
        let change = event.state_change();
        EventColumns {
            id: event.id,
            trace_id: event.trace_id,
            parent_id: event.parent_id,
            timestamp_ns: event.timestamp_ns,
            kind: event.kind.name(),
            service: event.metadata.service_name.clone(),
            instance_id: event.metadata.instance_id.clone().unwrap_or_default(),
            thread_id: event.metadata.thread_id.clone(),
            environment: event.metadata.environment.clone(),
            variable: change.map(|c| c.variable.clone()).unwrap_or_default(),
            access_type: change.map(|c| c.access_type.as_str()).unwrap_or_default(),
            payload: encode_event(event).to_string(),
        }
    }
}

/// Rebuilds an event from its stored payload.
pub(crate) fn decode_payload(id: &str, payload: &str) -> Result<Event, StoreError> {
    let corrupt = |message: String| StoreError::Corrupt {
        what: "event",
        id: id.to_string(),
        message,
    };
    let value: serde_json::Value =
        serde_json::from_str(payload).map_err(|e| corrupt(format!("payload is not JSON: {e}")))?;
    decode_event(&value).map_err(|e| corrupt(e.to_string()))
}

/// Trace ids of findings are strings; store UUIDs in the one form [`Uuid`]'s `Display` gives
/// (hyphenated lowercase), so a lookup by `Uuid` finds them whatever form the producer used.
pub(crate) fn normalize_trace_id(trace_id: &str) -> String {
    match Uuid::parse_str(trace_id) {
        Ok(uuid) => uuid.to_string(),
        Err(_) => trace_id.to_string(),
    }
}

/// Sort key for "severity desc": larger is worse.
pub(crate) fn severity_rank(severity: Severity) -> u8 {
    match severity {
        Severity::Warning => 1,
        Severity::Critical => 2,
    }
}

/// The version column of a finding: its detection time, clamped at 0.
pub(crate) fn finding_version(finding: &RaceFinding) -> u64 {
    u64::try_from(finding.detected_at_ns).unwrap_or(0)
}

/// Parses the stored kind and severity of finding `id`.
pub(crate) fn parse_kind_severity(
    id: &str,
    kind: &str,
    severity: &str,
) -> Result<(FindingKind, Severity), StoreError> {
    let corrupt = |message: String| StoreError::Corrupt {
        what: "finding",
        id: id.to_string(),
        message,
    };
    let kind = FindingKind::parse(kind).ok_or_else(|| corrupt(format!("unknown kind {kind:?}")))?;
    let severity = Severity::parse(severity)
        .ok_or_else(|| corrupt(format!("unknown severity {severity:?}")))?;
    Ok((kind, severity))
}

/// Sorts findings the way [`crate::Store::trace_findings`] promises: severity desc, variable, id.
pub(crate) fn sort_findings(findings: &mut [RaceFinding]) {
    findings.sort_by(|a, b| {
        severity_rank(b.severity)
            .cmp(&severity_rank(a.severity))
            .then_with(|| a.variable.cmp(&b.variable))
            .then_with(|| a.id.cmp(&b.id))
    });
}

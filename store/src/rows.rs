//! Conversions between the shared types and stored columns, common to both backends.

use ::clickhouse::Row;
use raceway_schemas::json::{decode_event, decode_happens_before_fields, decode_sdk_shaped_event};
use raceway_schemas::{
    Access, AccessType, ActorId, CompactClock, Event, FindingKind, HeldLock, LockMode, RaceFinding,
    Severity,
};
use serde::Deserialize;
use uuid::Uuid;

use crate::StoreError;

/// Rebuilds an event from its stored payload.
///
/// A payload is the wire JSON the store wrote, which the typed decoder reads straight into the
/// model (every kind but `Custom`); anything it does not take goes through a JSON value and the
/// lenient decoder, which decodes the same event. The typed path first skips a value tree per
/// event, the largest cost of reading a trace back.
pub(crate) fn decode_payload(id: &str, payload: &str) -> Result<Event, StoreError> {
    if let Some(event) = decode_sdk_shaped_event(payload) {
        return Ok(event);
    }
    let corrupt = |message: String| StoreError::Corrupt {
        what: "event",
        id: id.to_string(),
        message,
    };
    let value: serde_json::Value =
        serde_json::from_str(payload).map_err(|e| corrupt(format!("payload is not JSON: {e}")))?;
    decode_event(&value).map_err(|e| corrupt(e.to_string()))
}

/// An event stored as Raceway JSON `payload`, read for [`crate::EventStore::trace_events_with_json`]:
/// the fields the happens-before analysis reads (decoded whole when that reader declines), and
/// the text itself, which is the event's JSON as `EventJson` writes it.
///
/// Why the text can stand for the event: every payload stored as text was written by this
/// crate from a decoded event `e`, as `encode_event(e).to_string()` until commit `a39f90c` and
/// as `EventJson(e)` since (the same bytes: `schemas/tests/json_wire.rs`); migrations copy
/// payloads and never rewrite them (ClickHouse 0007 and 0008; SQLite's 0006 turns text into
/// Avro, which reads without text). The model's fields and the encoder's keys have not changed
/// since the first store (`Event` is as in the workspace's first commit), so an older row holds
/// every key a newer one does. And for every event, encoding what its encoding decodes to gives
/// the same text (JSON-text fields are written as the value they hold, which decoding keeps
/// canonical; an optional `"null"` text is written `null`, decodes as absent and is written
/// `null` again): `stored_texts_encode_again_to_themselves` in `schemas/tests/json_stored.rs`
/// holds every kind and every scenario fixture to it. What breaks otherwise: a key added to the
/// encoder makes rows written before it lack that key, and their text then differs from what
/// re-encoding them writes; such a change must mark the rows it writes and send only marked rows'
/// text (`stored_payload_keys_are_those_of_every_stored_row` there fails first).
pub(crate) fn event_with_json(
    id: &str,
    payload: String,
) -> Result<(Event, Option<String>), StoreError> {
    let event = match decode_happens_before_fields(&payload) {
        Some(event) => event,
        None => decode_payload(id, &payload)?,
    };
    Ok((event, Some(payload)))
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

/// Sorts findings the way [`crate::Store::list_findings`] promises: newest first (by the later
/// of the two events), ties by id.
pub(crate) fn sort_findings_newest_first(findings: &mut [RaceFinding]) {
    findings.sort_by(|a, b| {
        finding_latest_ns(b)
            .cmp(&finding_latest_ns(a))
            .then_with(|| a.id.cmp(&b.id))
    });
}

/// The time of the later of a finding's two events.
pub(crate) fn finding_latest_ns(finding: &RaceFinding) -> i64 {
    finding.first.timestamp_ns.max(finding.second.timestamp_ns)
}

/// A corrupt-access error for the access `id`.
pub(crate) fn corrupt_access(id: &str, message: String) -> StoreError {
    StoreError::Corrupt {
        what: "access",
        id: id.to_string(),
        message,
    }
}

/// Parses the stored access type of access `id`.
pub(crate) fn parse_access_type(id: &str, name: &str) -> Result<AccessType, StoreError> {
    AccessType::parse(name)
        .ok_or_else(|| corrupt_access(id, format!("unknown access type {name:?}")))
}

/// Parses a stored lock mode ([`LockMode::as_str`]) of access `id`.
fn parse_lock_mode(id: &str, name: &str) -> Result<LockMode, StoreError> {
    [LockMode::Exclusive, LockMode::Shared]
        .into_iter()
        .find(|m| m.as_str() == name)
        .ok_or_else(|| corrupt_access(id, format!("unknown lock mode {name:?}")))
}

/// The lock set of access `id` from its stored (lock id, mode name) pairs, as both stores keep
/// it.
pub(crate) fn parse_held_locks<M: AsRef<str>>(
    id: &str,
    locks: impl IntoIterator<Item = (String, M)>,
) -> Result<Vec<HeldLock>, StoreError> {
    locks
        .into_iter()
        .map(|(lock_id, mode)| {
            Ok(HeldLock {
                lock_id,
                mode: parse_lock_mode(id, mode.as_ref())?,
            })
        })
        .collect()
}

/// An access as both backends read it back, before its ids, access type and lock modes are
/// checked: the columns of `accesses` (`old_value` last), with the clock and the lock set as pairs.
/// ClickHouse reads rows straight into it (field order = column order, see its `accesses`
/// module), SQLite fills it from its columns and JSON text.
#[derive(Debug, Row, Deserialize)]
pub(crate) struct StoredAccess {
    pub event_id: String,
    pub trace_id: String,
    pub timestamp_ns: i64,
    pub environment: String,
    pub variable: String,
    pub access_type: String,
    pub location: String,
    pub value: String,
    pub service: String,
    pub instance: String,
    pub thread: String,
    /// (component, counter), sorted by component.
    pub clock: Vec<(String, u64)>,
    pub trusted_clock: bool,
    /// (lock id, mode name).
    pub locks: Vec<(String, String)>,
    pub trace_start_ns: i64,
    pub trace_end_ns: i64,
    pub old_value: Option<String>,
}

impl StoredAccess {
    /// The access, or a corrupt-access error naming what does not parse.
    pub(crate) fn into_access(self) -> Result<Access, StoreError> {
        let id = self.event_id;
        Ok(Access {
            event_id: parse_uuid(&id, "event id", &id)?,
            trace_id: parse_uuid(&id, "trace id", &self.trace_id)?,
            timestamp_ns: self.timestamp_ns,
            access_type: parse_access_type(&id, &self.access_type)?,
            locks: parse_held_locks(&id, self.locks)?.into(),
            environment: self.environment.into(),
            variable: self.variable.into(),
            location: self.location.into(),
            value: self.value,
            old_value: self.old_value,
            actor: ActorId {
                service: self.service,
                instance: self.instance,
                thread: self.thread,
            }
            .into(),
            clock: CompactClock::from_pairs(self.clock),
            trusted_clock: self.trusted_clock,
            trace_start_ns: self.trace_start_ns,
            trace_end_ns: self.trace_end_ns,
        })
    }
}

/// Parses a stored event or trace id of access `id`.
pub(crate) fn parse_uuid(id: &str, what: &str, text: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|e| corrupt_access(id, format!("{what} {text:?}: {e}")))
}

/// The version of a row written now: the wall clock in ns. Rows written later win, which is
/// what a re-analysis (after a late event) needs.
pub(crate) fn now_version() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

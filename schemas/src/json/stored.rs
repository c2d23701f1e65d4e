//! A stored payload read for its happens-before alone: the fields the causality of a trace
//! reads, borrowed from the payload's text, the rest skipped.
//!
//! Rule: [`event`] reads a payload this crate's encoder wrote ([`EventJson`])
//! into an [`Event`] whose ids, parent, timestamp, clock, lock set, metadata (read by the SDK
//! path's own readers) and kind are what the full decoder gives, with every other field at its
//! default: a kind's location, a call's function and arguments, HTTP, database, error and
//! message payloads, the task ids of spawns and awaits. Of a kind's payload it keeps what the
//! causality rules read: a state change's variable, access type and values, a lock's id, type,
//! mode and location, a fence's ordering. It answers
//! `None` for anything else (a `Custom` kind, a member of an unexpected type, an invalid id),
//! and the caller then decodes the payload in full.
//!
//! Reason: the one-trace route sends each stored payload's text as it is and needs the decoded
//! event only for the causality; decoding every member into the model was 13,000 instructions
//! per 650-byte event, the route's largest cost. The values are taken as their stored text,
//! which is canonical already (the encoder writes a value as a `serde_json::Value`, which is
//! what [`super::canonical_json_text`] writes), instead of parsed and written again.
//!
//! What breaks otherwise: were the causality to read a field skipped here, the route would
//! order events differently from the trace stage; `query-api`'s trace body tests compare the
//! causality of these events with that of the fully decoded ones on every kind, and fail then.
//!
//! [`EventJson`]: super::EventJson

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::fields::parse_timestamp;
use super::typed::{
    clock, lock, metadata, named, optional_uuid, required, texts, uuid, wire, OptText, Text,
    WireLock, WireMetadata,
};
use crate::model::*;

/// The members of a stored event the causality reads; the others are skipped unread.
#[derive(Deserialize)]
#[serde(bound(deserialize = "'de: 'a"))]
struct StoredEvent<'a> {
    id: OptText<'a>,
    trace_id: OptText<'a>,
    #[serde(default)]
    parent_id: OptText<'a>,
    timestamp: OptText<'a>,
    kind: StoredKind<'a>,
    metadata: WireMetadata<'a>,
    #[serde(default)]
    causality_vector: Option<Vec<(Text<'a>, u64)>>,
    #[serde(default)]
    lock_set: Option<Vec<Text<'a>>>,
}

/// Every kind the encoder writes but `Custom`, which the full decoder reads (its rules depend on
/// which members are present).
#[derive(Deserialize)]
#[serde(bound(deserialize = "'de: 'a"))]
enum StoredKind<'a> {
    FunctionCall(IgnoredAny),
    AsyncSpawn(IgnoredAny),
    AsyncAwait(IgnoredAny),
    StateChange(StoredStateChange<'a>),
    LockAcquire(WireLock<'a>),
    LockRelease(WireLock<'a>),
    MemoryFence(StoredFence<'a>),
    HttpRequest(IgnoredAny),
    HttpResponse(IgnoredAny),
    DatabaseQuery(IgnoredAny),
    DatabaseResult(IgnoredAny),
    Error(IgnoredAny),
    MessageSend(IgnoredAny),
    MessageReceive(IgnoredAny),
}

wire!(StoredStateChange<'a> {
    variable: OptText<'a>, old_value: Option<&'a RawValue>, new_value: Option<&'a RawValue>,
    access_type: OptText<'a>,
});

wire!(StoredFence<'a> { ordering: OptText<'a> });

/// The event of a stored payload `text` with only the fields the causality reads (see the
/// module documentation); `None` when the text is not a payload this path reads, which the
/// full decoder then reads.
pub(super) fn event(text: &str) -> Option<Event> {
    let stored: StoredEvent<'_> = serde_json::from_str(text).ok()?;
    Some(Event {
        id: uuid(&stored.id)?,
        trace_id: uuid(&stored.trace_id)?,
        parent_id: optional_uuid(&stored.parent_id)?,
        timestamp_ns: parse_timestamp(&stored.timestamp?.0)?,
        kind: kind(stored.kind)?,
        metadata: metadata(stored.metadata)?,
        causality_vector: clock(stored.causality_vector),
        lock_set: texts(stored.lock_set),
    })
}

/// A stored value's text as the model holds it: canonical as stored, `None` for `null`.
fn value_text(raw: Option<&RawValue>) -> Option<String> {
    raw.map(|raw| raw.get().to_string())
}

fn kind(stored: StoredKind<'_>) -> Option<EventKind> {
    Some(match stored {
        StoredKind::FunctionCall(_) => EventKind::FunctionCall(FunctionCall::default()),
        StoredKind::AsyncSpawn(_) => EventKind::AsyncSpawn(AsyncSpawn::default()),
        StoredKind::AsyncAwait(_) => EventKind::AsyncAwait(AsyncAwait::default()),
        StoredKind::StateChange(s) => EventKind::StateChange(StateChange {
            access_type: named(&s.access_type, AccessType::ALL, AccessType::as_str)?,
            variable: required(s.variable)?,
            old_value: value_text(s.old_value),
            new_value: value_text(s.new_value).unwrap_or_else(|| "null".to_string()),
            location: String::new(),
        }),
        StoredKind::LockAcquire(l) => EventKind::LockAcquire(lock(l)?),
        StoredKind::LockRelease(l) => EventKind::LockRelease(lock(l)?),
        StoredKind::MemoryFence(f) => EventKind::MemoryFence(MemoryFence {
            ordering: named(&f.ordering, MemoryOrdering::ALL, MemoryOrdering::as_str)?,
            location: String::new(),
        }),
        StoredKind::HttpRequest(_) => EventKind::HttpRequest(HttpRequest::default()),
        StoredKind::HttpResponse(_) => EventKind::HttpResponse(HttpResponse::default()),
        StoredKind::DatabaseQuery(_) => EventKind::DatabaseQuery(DatabaseQuery::default()),
        StoredKind::DatabaseResult(_) => EventKind::DatabaseResult(DatabaseResult::default()),
        StoredKind::Error(_) => EventKind::Error(ErrorEvent::default()),
        StoredKind::MessageSend(_) => EventKind::MessageSend(MessageEvent::default()),
        StoredKind::MessageReceive(_) => EventKind::MessageReceive(MessageEvent::default()),
    })
}

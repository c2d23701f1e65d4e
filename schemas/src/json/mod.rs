//! The Raceway JSON format: what the existing SDKs (TypeScript, Python, Go) send to `POST /events`.
//!
//! The body is `{"events": [Event, ...]}`. An event's `kind` is externally tagged
//! (`{"StateChange": {...}}`), `causality_vector` is `[["component", n], ...]`, `timestamp` is
//! RFC 3339, and values of arbitrary JSON (args, old/new values, bodies, custom data) are stored
//! in the model as canonical JSON text (see [`canonical_json_text`]).
//!
//! Decoding is lenient where the SDKs differ (DESIGN.md "Event model"): `null` or a missing
//! optional field takes its default; numbers are accepted where strings are expected (and numeric
//! strings where numbers are) when the meaning is clear; a kind we do not know, such as the Go
//! SDK's `FunctionReturn`, becomes [`crate::Custom`] with the kind's name and its payload as data;
//! a kind given as a bare string (`"kind": "AsyncAwait"`) is a kind without payload; lock types
//! are kept as sent and their mode derived with [`crate::LockMode::from_lock_type`]; headers
//! sent as an object `{name: value}` become pairs sorted by name. What the analyses cannot do
//! without is required, and rejected with the field named: `id`, `trace_id` (UUIDs),
//! `timestamp`, `kind`, `metadata.thread_id`, `metadata.service_name`, a state change's
//! `variable` and `access_type`, a lock's `lock_id`, a fence's `ordering`.

mod decode;
mod encode;
mod fields;
mod stored;
mod typed;

pub use encode::EventJson;

use std::fmt;

use thiserror::Error;

use crate::error::join_path;
use crate::model::{Event, EventKind};

/// Why one event of a body was rejected, with the field at fault.
///
/// `field` is a path into the JSON: relative to the event when returned by [`decode_event`]
/// (`kind.StateChange.access_type`, `metadata.thread_id`, `causality_vector[2]`), and prefixed
/// with the event's position when returned by [`decode_events_body`]
/// (`events[3].kind.StateChange.access_type`). It is empty when the event as a whole is wrong
/// (e.g. not a JSON object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the offending field (see the type's documentation).
    pub field: String,
    /// What is wrong with it, phrased so the SDK's user can fix it.
    pub reason: String,
}

impl FieldError {
    pub(crate) fn new(field: impl Into<String>, reason: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Prefixes the path with the enclosing field (paths are built only when an error happens).
    pub(crate) fn within(mut self, prefix: &str) -> FieldError {
        self.field = join_path(prefix, &self.field);
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "event: {}", self.reason)
        } else {
            write!(f, "field `{}`: {}", self.field, self.reason)
        }
    }
}

impl std::error::Error for FieldError {}

/// Why a whole `POST /events` body was rejected: it is not JSON of the shape
/// `{"events": [...]}`. Problems with single events are [`FieldError`]s instead.
#[derive(Debug, Error)]
pub enum BodyError {
    /// The body does not parse as JSON.
    #[error("body is not valid JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// The body is JSON, but not an object.
    #[error("body must be a JSON object {{\"events\": [...]}}, got {found}")]
    NotAnObject {
        /// The JSON type found instead (`array`, `string`, ...).
        found: &'static str,
    },
    /// The object has no `events` member.
    #[error("body has no \"events\" member; expected {{\"events\": [...]}}")]
    MissingEvents,
    /// `events` is not an array.
    #[error("\"events\" must be an array of events, got {found}")]
    EventsNotArray {
        /// The JSON type found instead.
        found: &'static str,
    },
}

/// The value that [`redact_sensitive_headers`] puts in place of a secret.
pub const REDACTED: &str = "[REDACTED]";

/// Header names (compared case-insensitively) whose values are secrets.
const SENSITIVE_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// Decodes one event of the Raceway JSON format (see the module documentation for what is
/// required and what is lenient). Error paths are relative to the event.
pub fn decode_event(value: &serde_json::Value) -> Result<Event, FieldError> {
    decode::event(value)
}

/// Decodes one event's JSON text by the typed path alone: `Some` for an event in the SDKs' usual
/// shape that is valid, exactly as [`decode_event`] would decode it; `None` for any other event
/// (another shape the lenient rules take, or an invalid one), which [`decode_event`] then reads.
pub fn decode_sdk_shaped_event(text: &str) -> Option<Event> {
    typed::event(text)
}

/// Decodes a stored payload (the JSON [`EventJson`] wrote) into an event holding only what the
/// happens-before analysis of a trace reads: ids, parent, timestamp, clock, lock set, metadata
/// and kind, with a kind's locks, state accesses and fences; every other field (most locations,
/// arguments, HTTP, database, error and message payloads) is left at its default. `None` for a
/// payload it does not read (a `Custom` kind, another shape), which [`decode_event`] then reads
/// in full. For a route that sends the stored text as it is and decodes it only to order the
/// events (`stored.rs` says why).
pub fn decode_happens_before_fields(text: &str) -> Option<Event> {
    stored::event(text)
}

/// Decodes a `POST /events` body. The body as a whole fails only when it is not JSON of the shape
/// `{"events": [...]}`; each event is decoded independently, so one bad event does not cost the
/// others, and its error path starts with `events[i]`.
///
/// Events in the SDKs' usual shape are read straight into the model (`typed.rs`); any other
/// event, and any body that is not plainly `{"events": [...]}`, takes the lenient path, with the
/// same result either way.
pub fn decode_events_body(body: &[u8]) -> Result<Vec<Result<Event, FieldError>>, BodyError> {
    match decode_events_typed(body) {
        Some(events) => Ok(events),
        None => decode_events_lenient(body),
    }
}

/// Every event through the typed path in one pass when all have the SDKs' shape; else each event
/// through the typed path, or the lenient one where the typed path declines; `None`
/// when the body is not plainly `{"events": [...]}` or an event is not JSON by itself (the
/// lenient path then words the body's error).
fn decode_events_typed(body: &[u8]) -> Option<Vec<Result<Event, FieldError>>> {
    if let Some(events) = typed::body_all_events(body) {
        return Some(events.into_iter().map(Ok).collect());
    }
    typed::body_events(body)?
        .iter()
        .enumerate()
        .map(|(i, raw)| match typed::event(raw.get()) {
            Some(event) => Some(Ok(event)),
            None => {
                let value: serde_json::Value = serde_json::from_str(raw.get()).ok()?;
                Some(decode_event(&value).map_err(|err| err.within(&format!("events[{i}]"))))
            }
        })
        .collect()
}

/// Decodes the body through a JSON value tree: every event by the lenient rules.
fn decode_events_lenient(body: &[u8]) -> Result<Vec<Result<Event, FieldError>>, BodyError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(BodyError::NotJson)?;
    let serde_json::Value::Object(mut object) = value else {
        return Err(BodyError::NotAnObject {
            found: fields::type_name(&value),
        });
    };
    let events = match object.remove("events") {
        None => return Err(BodyError::MissingEvents),
        Some(serde_json::Value::Array(events)) => events,
        Some(other) => {
            return Err(BodyError::EventsNotArray {
                found: fields::type_name(&other),
            })
        }
    };
    Ok(events
        .iter()
        .enumerate()
        .map(|(i, e)| decode_event(e).map_err(|err| err.within(&format!("events[{i}]"))))
        .collect())
}

/// Encodes an event in the Raceway JSON format, such that `decode_event(&encode_event(e)) == e`.
///
/// JSON-text fields are emitted as the JSON values they hold, so the output reads like what the
/// SDKs send; a text that is not JSON is emitted as a JSON string. Exactness therefore holds for
/// events whose JSON-text fields are canonical ([`canonical_json_text`]), as every decoded event's
/// are, with one exception: an optional JSON text holding `null` (`Some("null")`) is emitted as
/// `null` and decodes as `None`.
///
/// To write the JSON out (a response, a stored payload), serialize [`EventJson`] instead: the same
/// bytes without building the value tree.
pub fn encode_event(event: &Event) -> serde_json::Value {
    // Serializing into a `Value` fails only for a map key that is not a string, and every key
    // here is a string.
    serde_json::to_value(EventJson(event)).unwrap_or(serde_json::Value::Null)
}

/// The canonical JSON text of a value, as stored in the model's JSON-text fields: compact, object
/// keys sorted, numbers as serde_json prints them. Canonical text makes JSON -> model -> JSON ->
/// model round trips exact and equal values store equal text, whatever key order an SDK used.
pub fn canonical_json_text(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        serde_json::Value::Object(map) => {
            // Sorted explicitly: with serde_json's `preserve_order` feature (which any crate in a
            // build may turn on) maps keep insertion order.
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Replaces the values of secret-bearing headers (`Authorization`, `Proxy-Authorization`,
/// `Cookie`, `Set-Cookie`, any case) of an HTTP request or response event with [`REDACTED`], so
/// credentials never reach Kafka or the store. Other events are left alone.
pub fn redact_sensitive_headers(event: &mut Event) {
    let headers = match &mut event.kind {
        EventKind::HttpRequest(request) => &mut request.headers,
        EventKind::HttpResponse(response) => &mut response.headers,
        _ => return,
    };
    for (name, value) in headers {
        if SENSITIVE_HEADERS
            .iter()
            .any(|s| name.eq_ignore_ascii_case(s))
        {
            *value = REDACTED.to_string();
        }
    }
}

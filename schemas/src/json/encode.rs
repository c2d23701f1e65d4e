//! Model -> Raceway JSON, the inverse of `decode.rs`, written straight to the serializer.
//!
//! The rule: every object's keys are written in sorted (byte) order, the order a
//! `serde_json::Value` map keeps them in (serde_json's default `BTreeMap`, no `preserve_order`).
//! So serializing an [`EventJson`] gives the same bytes as serializing the `Value` that
//! [`super::encode_event`] returns, and responses written either way stay byte for byte equal
//! (`schemas/tests/json_wire.rs` holds every event kind and every scenario fixture to it). A key
//! written out of order would still be valid JSON, but the two paths would differ and that test
//! fails.
//!
//! Writing the event directly spares a `Value` tree per event (a map and a string per field),
//! which was the largest share of the one-trace route's CPU.

use std::borrow::Borrow;
use std::{fmt, io};

use chrono::{DateTime, SecondsFormat};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;
use serde_json::Value;

use crate::model::*;

/// An event that serializes as its Raceway JSON (the same output as [`super::encode_event`]),
/// borrowed (`EventJson(&event)`) or owned (`EventJson(event)`).
#[derive(Debug, Clone, PartialEq)]
pub struct EventJson<E>(pub E);

impl<E: Borrow<Event>> Serialize for EventJson<E> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let e = self.0.borrow();
        let mut map = serializer.serialize_map(Some(8))?;
        map.serialize_entry("causality_vector", &e.causality_vector)?;
        map.serialize_entry("id", &Id(&e.id))?;
        map.serialize_entry("kind", &Kind(&e.kind))?;
        map.serialize_entry("lock_set", &e.lock_set)?;
        map.serialize_entry("metadata", &MetadataJson(&e.metadata))?;
        map.serialize_entry("parent_id", &e.parent_id.as_ref().map(Id))?;
        map.serialize_entry("timestamp", &rfc3339(e.timestamp_ns))?;
        map.serialize_entry("trace_id", &Id(&e.trace_id))?;
        map.end()
    }
}

/// Most events' JSON fits in this many bytes: [`EventJson::to_json`] reserves it at once.
const TYPICAL_EVENT_JSON: usize = 512;

impl<E: Borrow<Event>> EventJson<E> {
    /// The compact JSON text, the same as `to_string()`, written by serde_json straight into one
    /// buffer reserved for a typical event. `to_string()` goes through a `Formatter`, which
    /// checks each of serde_json's small writes for UTF-8 and grows the text write by write:
    /// on the trace stage's event inserts that was a quarter of the stage's samples.
    pub fn to_json(&self) -> String {
        let mut bytes = Vec::with_capacity(TYPICAL_EVENT_JSON);
        // Neither fails: a `Vec` takes every write, every key is a string, and serde_json writes
        // UTF-8. `to_string()` stays as the fallback rather than a panic.
        if serde_json::to_writer(&mut bytes, self).is_ok() {
            if let Ok(text) = String::from_utf8(bytes) {
                return text;
            }
        }
        self.to_string()
    }
}

/// The compact JSON text, as `Value`'s `Display` writes it (`EventJson(&event).to_string()`).
impl<E: Borrow<Event>> fmt::Display for EventJson<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        serde_json::to_writer(FormatterWriter(f), self).map_err(|_| fmt::Error)
    }
}

/// Bytes from serde_json into a `Formatter`: serde_json writes whole UTF-8 sequences per call.
struct FormatterWriter<'a, 'b>(&'a mut fmt::Formatter<'b>);

impl io::Write for FormatterWriter<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text =
            std::str::from_utf8(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        self.0.write_str(text).map_err(io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A UUID as a JSON string of its `Display` text (hyphenated, lower case), formatted into a
/// buffer on the stack rather than through a `Formatter`.
struct Id<'a>(&'a uuid::Uuid);

impl Serialize for Id<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buffer = uuid::Uuid::encode_buffer();
        serializer.serialize_str(self.0.hyphenated().encode_lower(&mut buffer))
    }
}

/// A JSON-text field as the JSON value it holds; text that is not JSON becomes a JSON string.
/// Parsed into a `Value` (not copied raw) so that any text, canonical or not, is written the
/// way a `Value` writes it.
struct Parsed<'a>(&'a str);

impl Serialize for Parsed<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match serde_json::from_str::<Value>(self.0) {
            Ok(value) => value.serialize(serializer),
            Err(_) => serializer.serialize_str(self.0),
        }
    }
}

/// An optional JSON-text field: `null` when absent.
fn parsed_opt(text: Option<&String>) -> Option<Parsed<'_>> {
    text.map(|t| Parsed(t))
}

/// RFC 3339 in UTC with as many fractional digits as needed (0, 3, 6 or 9): exact to the
/// nanosecond, and every `i64` of nanoseconds is representable.
fn rfc3339(timestamp_ns: i64) -> String {
    DateTime::from_timestamp_nanos(timestamp_ns).to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

struct MetadataJson<'a>(&'a Metadata);

impl Serialize for MetadataJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let m = self.0;
        let mut map = serializer.serialize_map(Some(9))?;
        map.serialize_entry("distributed_span_id", &m.distributed_span_id)?;
        map.serialize_entry("duration_ns", &m.duration_ns)?;
        map.serialize_entry("environment", &m.environment)?;
        map.serialize_entry("instance_id", &m.instance_id)?;
        map.serialize_entry("process_id", &m.process_id)?;
        map.serialize_entry("service_name", &m.service_name)?;
        map.serialize_entry("tags", &m.tags)?;
        map.serialize_entry("thread_id", &m.thread_id)?;
        map.serialize_entry("upstream_span_id", &m.upstream_span_id)?;
        map.end()
    }
}

/// Headers as the SDKs send them, `{name: value}`, when that loses nothing (names unique and in
/// sorted order, which is how decoding an object leaves them); otherwise as `[[name, value], ...]`
/// so that duplicates (two `Set-Cookie`) and order survive.
struct Headers<'a>(&'a [(String, String)]);

impl Serialize for Headers<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let headers = self.0;
        if headers.windows(2).all(|w| w[0].0 < w[1].0) {
            let mut map = serializer.serialize_map(Some(headers.len()))?;
            for (name, value) in headers {
                map.serialize_entry(name, value)?;
            }
            map.end()
        } else {
            let mut seq = serializer.serialize_seq(Some(headers.len()))?;
            for pair in headers {
                seq.serialize_element(pair)?;
            }
            seq.end()
        }
    }
}

/// `{"Name": {payload}}`: the kind's name, then its payload's fields in sorted order.
struct Kind<'a>(&'a EventKind);

impl Serialize for Kind<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(self.0.name(), &Payload(self.0))?;
        map.end()
    }
}

struct Payload<'a>(&'a EventKind);

impl Serialize for Payload<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match self.0 {
            EventKind::FunctionCall(c) => {
                map.serialize_entry("args", &Parsed(&c.args))?;
                map.serialize_entry("file", &c.file)?;
                map.serialize_entry("function_name", &c.function_name)?;
                map.serialize_entry("line", &c.line)?;
                map.serialize_entry("module", &c.module)?;
            }
            EventKind::AsyncSpawn(s) => {
                map.serialize_entry("spawned_at", &s.spawned_at)?;
                map.serialize_entry("spawned_by", &s.spawned_by)?;
                map.serialize_entry("task_id", &s.task_id)?;
                map.serialize_entry("task_name", &s.task_name)?;
            }
            EventKind::AsyncAwait(a) => {
                map.serialize_entry("awaited_at", &a.awaited_at)?;
                map.serialize_entry("future_id", &a.future_id)?;
            }
            EventKind::StateChange(s) => {
                map.serialize_entry("access_type", s.access_type.as_str())?;
                map.serialize_entry("location", &s.location)?;
                map.serialize_entry("new_value", &Parsed(&s.new_value))?;
                map.serialize_entry("old_value", &parsed_opt(s.old_value.as_ref()))?;
                map.serialize_entry("variable", &s.variable)?;
            }
            EventKind::LockAcquire(l) | EventKind::LockRelease(l) => {
                map.serialize_entry("location", &l.location)?;
                map.serialize_entry("lock_id", &l.lock_id)?;
                map.serialize_entry("lock_type", &l.lock_type)?;
                map.serialize_entry("mode", l.mode.as_str())?;
            }
            EventKind::MemoryFence(m) => {
                map.serialize_entry("location", &m.location)?;
                map.serialize_entry("ordering", m.ordering.as_str())?;
            }
            EventKind::HttpRequest(r) => {
                map.serialize_entry("body", &parsed_opt(r.body.as_ref()))?;
                map.serialize_entry("headers", &Headers(&r.headers))?;
                map.serialize_entry("method", &r.method)?;
                map.serialize_entry("url", &r.url)?;
            }
            EventKind::HttpResponse(r) => {
                map.serialize_entry("body", &parsed_opt(r.body.as_ref()))?;
                map.serialize_entry("duration_ms", &r.duration_ms)?;
                map.serialize_entry("headers", &Headers(&r.headers))?;
                map.serialize_entry("status", &r.status)?;
            }
            EventKind::DatabaseQuery(q) => {
                map.serialize_entry("database", &q.database)?;
                map.serialize_entry("duration_ms", &q.duration_ms)?;
                map.serialize_entry("query", &q.query)?;
            }
            EventKind::DatabaseResult(r) => {
                map.serialize_entry("rows_affected", &r.rows_affected)?;
            }
            EventKind::Error(e) => {
                map.serialize_entry("error_type", &e.error_type)?;
                map.serialize_entry("message", &e.message)?;
                map.serialize_entry("stack_trace", &e.stack_trace)?;
            }
            EventKind::MessageSend(m) | EventKind::MessageReceive(m) => {
                map.serialize_entry("key", &m.key)?;
                map.serialize_entry("location", &m.location)?;
                map.serialize_entry("offset", &m.offset)?;
                map.serialize_entry("partition", &m.partition)?;
                map.serialize_entry("topic", &m.topic)?;
            }
            // Always under "Custom" with name and data, even for kinds kept from other SDKs (such
            // as FunctionReturn): a Custom named like a known kind must not turn into that kind.
            EventKind::Custom(c) => {
                map.serialize_entry("data", &Parsed(&c.data))?;
                map.serialize_entry("name", &c.name)?;
            }
        }
        map.end()
    }
}

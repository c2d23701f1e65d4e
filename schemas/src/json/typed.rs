//! The typed fast path of decoding: an event in the shape the SDKs send, read by serde straight
//! into wire structs that borrow the body's strings, then moved into the model. No JSON value
//! tree is built except for the fields that hold arbitrary JSON (args, values, bodies).
//!
//! The rule: this path may only accept what the lenient decoder (`decode.rs`) accepts, and must
//! then produce exactly the same event. It is therefore strict: any member of another type than
//! the SDKs' usual one (a number where text is usual, a float counter, headers as pairs, a
//! `Custom` or unknown kind, a kind with `null` payload members, duplicate members) makes it
//! answer `None`, and the caller decodes that event through the lenient path, which also words
//! every error. Were this path looser than the lenient one, an event could be accepted here that
//! the documented rules refuse, or decode differently depending on which path read it.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use uuid::Uuid;

use super::canonical_json_text;
use super::fields::parse_timestamp;
use crate::model::*;

/// A JSON string, borrowed from the body unless it has escapes.
pub(super) struct Text<'a>(pub(super) Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(TextVisitor(PhantomData))
    }
}

/// A struct read from a JSON object only: serde's derived structs also read arrays, by position,
/// which the lenient decoder refuses.
struct Obj<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjVisitor<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Obj<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(Obj)
            }
        }
        deserializer.deserialize_map(ObjVisitor(PhantomData))
    }
}

pub(super) type OptText<'a> = Option<Text<'a>>;
type Json<'a> = Option<&'a RawValue>;

pub(super) fn owned(text: OptText<'_>) -> Option<String> {
    text.map(|t| t.0.into_owned())
}

pub(super) fn or_empty(text: OptText<'_>) -> String {
    owned(text).unwrap_or_default()
}

/// Non-empty text, as `required_text` demands; `None` sends the event to the lenient path.
pub(super) fn required(text: OptText<'_>) -> Option<String> {
    owned(text).filter(|t| !t.is_empty())
}

/// Canonical JSON text of an arbitrary member (`None` when missing or `null`).
fn json_text(raw: Json<'_>) -> Option<Option<String>> {
    match raw {
        None => Some(None),
        Some(raw) => {
            let value: serde_json::Value = serde_json::from_str(raw.get()).ok()?;
            Some(Some(canonical_json_text(&value)))
        }
    }
}

pub(super) fn uuid(text: &OptText<'_>) -> Option<Uuid> {
    Uuid::parse_str(&text.as_ref()?.0).ok()
}

/// `Some(None)` when missing, `null` or `""` (no parent), `None` when not a UUID.
pub(super) fn optional_uuid(text: &OptText<'_>) -> Option<Option<Uuid>> {
    match text {
        None => Some(None),
        Some(t) if t.0.is_empty() => Some(None),
        Some(t) => Uuid::parse_str(&t.0).ok().map(Some),
    }
}

/// The member of `all` whose name matches, ignoring case, as the lenient `one_of` does.
pub(super) fn named<T: Copy, const N: usize>(
    text: &OptText<'_>,
    all: [T; N],
    name_of: fn(T) -> &'static str,
) -> Option<T> {
    let name = &text.as_ref()?.0;
    if name.is_empty() {
        return None;
    }
    all.into_iter()
        .find(|t| name_of(*t).eq_ignore_ascii_case(name))
}

/// Declares a wire struct: every member may be missing (its default), strings borrow the body.
macro_rules! wire {
    ($vis:vis $name:ident<$lt:lifetime> { $($field:ident: $ty:ty),* $(,)? }) => {
        #[derive(Deserialize, Default)]
        #[serde(default, bound(deserialize = "'de: 'a"))]
        $vis struct $name<$lt> {
            $($field: $ty),*
        }
    };
}
pub(super) use wire;

wire!(WireEvent<'a> {
    id: OptText<'a>, trace_id: OptText<'a>, parent_id: OptText<'a>, timestamp: OptText<'a>,
    kind: Option<WireKind<'a>>, metadata: Option<Obj<WireMetadata<'a>>>,
    causality_vector: Option<Vec<(Text<'a>, u64)>>, lock_set: Option<Vec<Text<'a>>>,
});

wire!(pub(super) WireMetadata<'a> {
    thread_id: OptText<'a>, process_id: Option<u32>, service_name: OptText<'a>,
    environment: OptText<'a>, tags: Option<BTreeMap<String, OptText<'a>>>, duration_ns: Option<u64>,
    instance_id: OptText<'a>, distributed_span_id: OptText<'a>, upstream_span_id: OptText<'a>,
});

/// The kinds with a payload of their own shape; `Custom` and unknown kinds are left to the
/// lenient path (their payload rules depend on which members are present).
#[derive(Deserialize)]
#[serde(bound(deserialize = "'de: 'a"))]
enum WireKind<'a> {
    FunctionCall(Obj<WireFunctionCall<'a>>),
    AsyncSpawn(Obj<WireAsyncSpawn<'a>>),
    AsyncAwait(Obj<WireAsyncAwait<'a>>),
    StateChange(Obj<WireStateChange<'a>>),
    LockAcquire(Obj<WireLock<'a>>),
    LockRelease(Obj<WireLock<'a>>),
    MemoryFence(Obj<WireFence<'a>>),
    HttpRequest(Obj<WireHttpRequest<'a>>),
    HttpResponse(Obj<WireHttpResponse<'a>>),
    DatabaseQuery(Obj<WireDatabaseQuery<'a>>),
    DatabaseResult(Obj<WireDatabaseResult>),
    Error(Obj<WireError<'a>>),
    MessageSend(Obj<WireMessage<'a>>),
    MessageReceive(Obj<WireMessage<'a>>),
}

wire!(WireFunctionCall<'a> {
    function_name: OptText<'a>, module: OptText<'a>, args: Json<'a>, file: OptText<'a>,
    line: Option<u32>,
});

wire!(WireAsyncSpawn<'a> {
    task_id: OptText<'a>, spawned_by: OptText<'a>, task_name: OptText<'a>, spawned_at: OptText<'a>,
});

wire!(WireAsyncAwait<'a> { future_id: OptText<'a>, awaited_at: OptText<'a>, });

wire!(WireStateChange<'a> {
    variable: OptText<'a>, old_value: Json<'a>, new_value: Json<'a>, location: OptText<'a>,
    access_type: OptText<'a>,
});

wire!(pub(super) WireLock<'a> {
    lock_id: OptText<'a>, lock_type: OptText<'a>, mode: OptText<'a>, location: OptText<'a>,
});

wire!(WireFence<'a> { ordering: OptText<'a>, location: OptText<'a>, });

type WireHeaders<'a> = Option<BTreeMap<String, OptText<'a>>>;

wire!(WireHttpRequest<'a> {
    method: OptText<'a>, url: OptText<'a>, headers: WireHeaders<'a>, body: Json<'a>,
});

wire!(WireHttpResponse<'a> {
    status: Option<u16>, headers: WireHeaders<'a>, body: Json<'a>, duration_ms: Option<u64>,
});

wire!(WireDatabaseQuery<'a> {
    query: OptText<'a>, database: OptText<'a>, duration_ms: Option<u64>,
});

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireDatabaseResult {
    rows_affected: Option<u64>,
}

wire!(WireError<'a> {
    error_type: OptText<'a>, message: OptText<'a>, stack_trace: Option<Vec<Text<'a>>>,
});

wire!(WireMessage<'a> {
    topic: OptText<'a>, partition: Option<i32>, offset: Option<i64>, key: OptText<'a>,
    location: OptText<'a>,
});

/// The body `{"events": [...]}`, each event kept as its JSON text.
#[derive(Deserialize)]
struct RawBody<'a> {
    #[serde(borrow)]
    events: Vec<&'a RawValue>,
}

/// The events of a body that is plainly `{"events": [...]}` (no duplicate `events`), each as
/// its JSON text; `None` for any other body.
pub(super) fn body_events(body: &[u8]) -> Option<Vec<&RawValue>> {
    let Obj(RawBody { events }) = serde_json::from_slice(body).ok()?;
    Some(events)
}

/// The body `{"events": [...]}` with every event read as a wire event in the same pass.
#[derive(Deserialize)]
struct WireBody<'a> {
    #[serde(borrow)]
    events: Vec<Obj<WireEvent<'a>>>,
}

/// Every event of `body` in one pass over it, when the body is plainly `{"events": [...]}` and
/// every event has the SDKs' usual shape and is valid; `None` otherwise. The usual body takes
/// this path alone: splitting it into each event's text first ([`body_events`]) scanned every
/// byte twice, a third of decoding. The caller falls back to decoding event by event.
pub(super) fn body_all_events(body: &[u8]) -> Option<Vec<Event>> {
    // UTF-8 is checked once for the whole body: read from bytes, serde_json checks every string
    // on its own, which cost a sixth of decoding.
    let text = std::str::from_utf8(body).ok()?;
    let Obj(WireBody { events }) = serde_json::from_str(text).ok()?;
    events
        .into_iter()
        .map(|Obj(wire)| from_wire(wire))
        .collect()
}

/// The event in `raw`, when it has the SDKs' usual shape and is valid; `None` otherwise (the
/// caller then decodes it leniently, which also explains what is wrong).
pub(super) fn event(raw: &str) -> Option<Event> {
    let Obj(wire) = serde_json::from_str::<Obj<WireEvent<'_>>>(raw).ok()?;
    from_wire(wire)
}

/// The model's event from a wire event, when its members are valid.
fn from_wire(wire: WireEvent<'_>) -> Option<Event> {
    Some(Event {
        id: uuid(&wire.id)?,
        trace_id: uuid(&wire.trace_id)?,
        parent_id: optional_uuid(&wire.parent_id)?,
        timestamp_ns: parse_timestamp(&wire.timestamp?.0)?,
        kind: kind(wire.kind?)?,
        metadata: metadata(wire.metadata?.0)?,
        causality_vector: clock(wire.causality_vector),
        lock_set: texts(wire.lock_set),
    })
}

/// A list of texts as owned strings; missing is empty.
pub(super) fn texts(list: Option<Vec<Text<'_>>>) -> Vec<String> {
    list.unwrap_or_default()
        .into_iter()
        .map(|t| t.0.into_owned())
        .collect()
}

/// A clock's (component, counter) pairs with owned names; missing is empty.
pub(super) fn clock(pairs: Option<Vec<(Text<'_>, u64)>>) -> Vec<(String, u64)> {
    pairs
        .unwrap_or_default()
        .into_iter()
        .map(|(component, counter)| (component.0.into_owned(), counter))
        .collect()
}

pub(super) fn metadata(wire: WireMetadata<'_>) -> Option<Metadata> {
    Some(Metadata {
        thread_id: required(wire.thread_id)?,
        process_id: wire.process_id.unwrap_or_default(),
        service_name: required(wire.service_name)?,
        environment: or_empty(wire.environment),
        tags: wire
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|(name, value)| (name, or_empty(value)))
            .collect(),
        duration_ns: wire.duration_ns,
        instance_id: owned(wire.instance_id),
        distributed_span_id: owned(wire.distributed_span_id),
        upstream_span_id: owned(wire.upstream_span_id),
    })
}

fn headers(wire: WireHeaders<'_>) -> Vec<(String, String)> {
    wire.unwrap_or_default()
        .into_iter()
        .map(|(name, value)| (name, or_empty(value)))
        .collect()
}

pub(super) fn lock(wire: WireLock<'_>) -> Option<LockEvent> {
    let lock_type = or_empty(wire.lock_type);
    let mode = match &wire.mode {
        None => LockMode::from_lock_type(&lock_type),
        Some(_) => named(
            &wire.mode,
            [LockMode::Exclusive, LockMode::Shared],
            LockMode::as_str,
        )?,
    };
    Some(LockEvent {
        lock_id: required(wire.lock_id)?,
        mode,
        lock_type,
        location: or_empty(wire.location),
    })
}

fn message(wire: WireMessage<'_>) -> MessageEvent {
    MessageEvent {
        topic: or_empty(wire.topic),
        partition: wire.partition,
        offset: wire.offset,
        key: owned(wire.key),
        location: or_empty(wire.location),
    }
}

fn kind(wire: WireKind<'_>) -> Option<EventKind> {
    let null = || "null".to_string();
    Some(match wire {
        WireKind::FunctionCall(Obj(c)) => EventKind::FunctionCall(FunctionCall {
            function_name: or_empty(c.function_name),
            module: or_empty(c.module),
            args: json_text(c.args)?.unwrap_or_else(null),
            file: or_empty(c.file),
            line: c.line.unwrap_or_default(),
        }),
        WireKind::AsyncSpawn(Obj(s)) => EventKind::AsyncSpawn(AsyncSpawn {
            task_id: or_empty(s.task_id),
            spawned_by: or_empty(s.spawned_by),
            task_name: owned(s.task_name),
            spawned_at: owned(s.spawned_at),
        }),
        WireKind::AsyncAwait(Obj(a)) => EventKind::AsyncAwait(AsyncAwait {
            future_id: or_empty(a.future_id),
            awaited_at: or_empty(a.awaited_at),
        }),
        WireKind::StateChange(Obj(s)) => EventKind::StateChange(StateChange {
            access_type: named(&s.access_type, AccessType::ALL, AccessType::as_str)?,
            variable: required(s.variable)?,
            old_value: json_text(s.old_value)?,
            new_value: json_text(s.new_value)?.unwrap_or_else(null),
            location: or_empty(s.location),
        }),
        WireKind::LockAcquire(Obj(l)) => EventKind::LockAcquire(lock(l)?),
        WireKind::LockRelease(Obj(l)) => EventKind::LockRelease(lock(l)?),
        WireKind::MemoryFence(Obj(f)) => EventKind::MemoryFence(MemoryFence {
            ordering: named(&f.ordering, MemoryOrdering::ALL, MemoryOrdering::as_str)?,
            location: or_empty(f.location),
        }),
        WireKind::HttpRequest(Obj(r)) => EventKind::HttpRequest(HttpRequest {
            method: or_empty(r.method),
            url: or_empty(r.url),
            headers: headers(r.headers),
            body: json_text(r.body)?,
        }),
        WireKind::HttpResponse(Obj(r)) => EventKind::HttpResponse(HttpResponse {
            status: r.status.unwrap_or_default(),
            headers: headers(r.headers),
            body: json_text(r.body)?,
            duration_ms: r.duration_ms.unwrap_or_default(),
        }),
        WireKind::DatabaseQuery(Obj(q)) => EventKind::DatabaseQuery(DatabaseQuery {
            query: or_empty(q.query),
            database: or_empty(q.database),
            duration_ms: q.duration_ms.unwrap_or_default(),
        }),
        WireKind::DatabaseResult(Obj(r)) => EventKind::DatabaseResult(DatabaseResult {
            rows_affected: r.rows_affected.unwrap_or_default(),
        }),
        WireKind::Error(Obj(e)) => EventKind::Error(ErrorEvent {
            error_type: or_empty(e.error_type),
            message: or_empty(e.message),
            stack_trace: e
                .stack_trace
                .unwrap_or_default()
                .into_iter()
                .map(|t| t.0.into_owned())
                .collect(),
        }),
        WireKind::MessageSend(Obj(m)) => EventKind::MessageSend(message(m)),
        WireKind::MessageReceive(Obj(m)) => EventKind::MessageReceive(message(m)),
    })
}

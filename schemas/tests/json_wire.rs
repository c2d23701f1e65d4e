//! The direct JSON encoding (`EventJson`) against the value-tree encoder it replaced: the same
//! bytes for every event kind, every scenario fixture, and texts a `Value` rewrites (not JSON,
//! not canonical, duplicate headers, escapes), so responses and stored payloads do not change.

mod common;

use common::*;
use raceway_schemas::json::{decode_events_body, encode_event, EventJson};
use raceway_schemas::*;

/// The bytes every route and store wrote before: the reference encoder's `Value`, printed.
fn reference_text(event: &Event) -> String {
    reference::event(event).to_string()
}

fn assert_same_bytes(event: &Event, what: &str) {
    let expected = reference_text(event);
    assert_eq!(
        serde_json::to_string(&EventJson(event)).unwrap(),
        expected,
        "{what}: serialized"
    );
    assert_eq!(EventJson(event).to_string(), expected, "{what}: Display");
    assert_eq!(EventJson(event).to_json(), expected, "{what}: to_json");
    assert_eq!(
        encode_event(event),
        reference::event(event),
        "{what}: Value"
    );
}

#[test]
fn every_kind_encodes_to_the_value_encoders_bytes() {
    for event in all_kinds_events() {
        assert_same_bytes(&event, event.kind.name());
    }
}

#[test]
fn texts_a_value_rewrites_encode_to_the_same_bytes() {
    let events = rewritten_kinds_events();
    for event in &events {
        assert_same_bytes(event, event.kind.name());
    }
}

#[test]
fn every_scenario_fixture_encodes_to_the_value_encoders_bytes() {
    let files = scenario_files();
    let mut kinds = std::collections::BTreeSet::new();
    for file in files {
        let body = std::fs::read(&file).unwrap();
        for (i, event) in decode_events_body(&body).unwrap().into_iter().enumerate() {
            let event = event.unwrap_or_else(|e| panic!("{}[{i}]: {e}", file.display()));
            kinds.insert(event.kind.name());
            assert_same_bytes(&event, &format!("{}[{i}]", file.display()));
        }
    }
    assert!(kinds.len() >= 4, "kinds covered: {kinds:?}");
}

/// The encoder that built a `serde_json::Value` per event, kept as it was to pin the bytes.
mod reference {
    use chrono::{DateTime, SecondsFormat};
    use serde_json::{json, Map, Value};

    use raceway_schemas::*;

    /// A JSON-text field as the JSON value it holds; text that is not JSON becomes a JSON string.
    fn parsed(text: &str) -> Value {
        serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
    }

    fn parsed_opt(text: Option<&String>) -> Value {
        text.map_or(Value::Null, |t| parsed(t))
    }

    /// RFC 3339 in UTC with as many fractional digits as needed (0, 3, 6 or 9): exact to the
    /// nanosecond, and every `i64` of nanoseconds is representable.
    fn rfc3339(timestamp_ns: i64) -> String {
        DateTime::from_timestamp_nanos(timestamp_ns).to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }

    pub fn event(e: &Event) -> Value {
        json!({
            "id": e.id.to_string(),
            "trace_id": e.trace_id.to_string(),
            "parent_id": e.parent_id.map(|p| p.to_string()),
            "timestamp": rfc3339(e.timestamp_ns),
            "kind": kind(&e.kind),
            "metadata": metadata(&e.metadata),
            "causality_vector": e.causality_vector.iter().map(|(c, n)| json!([c, n])).collect::<Vec<_>>(),
            "lock_set": e.lock_set,
        })
    }

    fn metadata(m: &Metadata) -> Value {
        json!({
            "thread_id": m.thread_id,
            "process_id": m.process_id,
            "service_name": m.service_name,
            "environment": m.environment,
            "tags": m.tags,
            "duration_ns": m.duration_ns,
            "instance_id": m.instance_id,
            "distributed_span_id": m.distributed_span_id,
            "upstream_span_id": m.upstream_span_id,
        })
    }

    /// Headers as the SDKs send them, `{name: value}`, when that loses nothing (names unique and in
    /// sorted order, which is how decoding an object leaves them); otherwise as `[[name, value], ...]`
    /// so that duplicates (two `Set-Cookie`) and order survive.
    fn headers(headers: &[(String, String)]) -> Value {
        if headers.windows(2).all(|w| w[0].0 < w[1].0) {
            let map: Map<String, Value> = headers
                .iter()
                .map(|(n, v)| (n.clone(), Value::String(v.clone())))
                .collect();
            Value::Object(map)
        } else {
            json!(headers
                .iter()
                .map(|(n, v)| json!([n, v]))
                .collect::<Vec<_>>())
        }
    }

    fn lock(l: &LockEvent) -> Value {
        json!({
            "lock_id": l.lock_id,
            "lock_type": l.lock_type,
            "location": l.location,
            "mode": l.mode.as_str(),
        })
    }

    fn message(m: &MessageEvent) -> Value {
        json!({
            "topic": m.topic,
            "partition": m.partition,
            "offset": m.offset,
            "key": m.key,
            "location": m.location,
        })
    }

    fn kind(kind: &EventKind) -> Value {
        let payload = match kind {
            EventKind::FunctionCall(c) => json!({
                "function_name": c.function_name,
                "module": c.module,
                "args": parsed(&c.args),
                "file": c.file,
                "line": c.line,
            }),
            EventKind::AsyncSpawn(s) => json!({
                "task_id": s.task_id,
                "spawned_by": s.spawned_by,
                "task_name": s.task_name,
                "spawned_at": s.spawned_at,
            }),
            EventKind::AsyncAwait(a) => {
                json!({"future_id": a.future_id, "awaited_at": a.awaited_at})
            }
            EventKind::StateChange(s) => json!({
                "variable": s.variable,
                "old_value": parsed_opt(s.old_value.as_ref()),
                "new_value": parsed(&s.new_value),
                "location": s.location,
                "access_type": s.access_type.as_str(),
            }),
            EventKind::LockAcquire(l) | EventKind::LockRelease(l) => lock(l),
            EventKind::MemoryFence(m) => {
                json!({"ordering": m.ordering.as_str(), "location": m.location})
            }
            EventKind::HttpRequest(r) => json!({
                "method": r.method,
                "url": r.url,
                "headers": headers(&r.headers),
                "body": parsed_opt(r.body.as_ref()),
            }),
            EventKind::HttpResponse(r) => json!({
                "status": r.status,
                "headers": headers(&r.headers),
                "body": parsed_opt(r.body.as_ref()),
                "duration_ms": r.duration_ms,
            }),
            EventKind::DatabaseQuery(q) => {
                json!({"query": q.query, "database": q.database, "duration_ms": q.duration_ms})
            }
            EventKind::DatabaseResult(r) => json!({"rows_affected": r.rows_affected}),
            EventKind::Error(e) => {
                json!({"error_type": e.error_type, "message": e.message, "stack_trace": e.stack_trace})
            }
            EventKind::MessageSend(m) | EventKind::MessageReceive(m) => message(m),
            // Always under "Custom" with name and data, even for kinds kept from other SDKs (such as
            // FunctionReturn): a Custom named like a known kind must not turn into that kind.
            EventKind::Custom(c) => json!({"name": c.name, "data": parsed(&c.data)}),
        };
        let mut map = Map::new();
        map.insert(kind.name().to_string(), payload);
        Value::Object(map)
    }
}

//! Raceway JSON -> model: the event, its metadata, clock and kinds (the lenient member readers
//! are in `fields.rs`). Errors are relative to the object being read; callers prefix the path on
//! the way up, so paths are only built when something is wrong.

use serde_json::Value;

use super::fields::*;
use super::{canonical_json_text, FieldError};
use crate::model::*;

pub(super) fn event(value: &Value) -> Result<Event> {
    let obj = value.as_object().ok_or_else(|| {
        FieldError::new(
            "",
            format!("expected an event object, got {}", type_name(value)),
        )
    })?;
    Ok(Event {
        id: required_uuid(obj, "id")?,
        trace_id: required_uuid(obj, "trace_id")?,
        parent_id: optional_uuid(obj, "parent_id")?,
        timestamp_ns: timestamp(obj)?,
        kind: kind(obj.get("kind")).map_err(|e| e.within("kind"))?,
        metadata: metadata(obj.get("metadata")).map_err(|e| e.within("metadata"))?,
        causality_vector: clock(present(obj, "causality_vector"))
            .map_err(|e| e.within("causality_vector"))?,
        lock_set: text_list(obj, "lock_set")?,
    })
}

fn metadata(value: Option<&Value>) -> Result<Metadata> {
    let obj = match value {
        None | Some(Value::Null) => {
            return Err(FieldError::new(
                "",
                "missing (required, with thread_id and service_name)",
            ))
        }
        Some(v) => object("", v)?,
    };
    let tags = match present(obj, "tags") {
        None => Default::default(),
        Some(Value::Object(tags)) => tags
            .iter()
            .map(|(k, v)| {
                Ok((
                    k.clone(),
                    if v.is_null() {
                        String::new()
                    } else {
                        text_of(&format!("tags.{k}"), v)?
                    },
                ))
            })
            .collect::<Result<_>>()?,
        Some(other) => {
            return Err(FieldError::new(
                "tags",
                format!("expected an object, got {}", type_name(other)),
            ))
        }
    };
    Ok(Metadata {
        thread_id: required_text(obj, "thread_id")?,
        process_id: unsigned(obj, "process_id", u64::from(u32::MAX))?,
        service_name: required_text(obj, "service_name")?,
        environment: text(obj, "environment")?,
        tags,
        duration_ns: optional_u64(obj, "duration_ns")?,
        instance_id: optional_text(obj, "instance_id")?,
        distributed_span_id: optional_text(obj, "distributed_span_id")?,
        upstream_span_id: optional_text(obj, "upstream_span_id")?,
    })
}

/// `[["component", n], ...]`; also `[{"component": c, "counter": n}]` and `{"component": n}`.
fn clock(value: Option<&Value>) -> Result<Vec<(String, u64)>> {
    let counter =
        |name: &str, v: &Value| integer_of(name, v, 0, i128::from(u64::MAX)).map(|n| n as u64);
    match value {
        None => Ok(Vec::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(c, n)| Ok((c.clone(), counter(c, n)?)))
            .collect(),
        Some(Value::Array(entries)) => pairs(entries, "", counter, |at, entry| match entry {
            Value::Object(o) => Ok((
                required_text(o, "component")?,
                unsigned(o, "counter", u64::MAX)?,
            )),
            other => Err(FieldError::new(
                at,
                format!(
                    "expected a [\"component\", counter] pair, got {}",
                    describe(other)
                ),
            )),
        }),
        Some(other) => Err(FieldError::new(
            "",
            format!(
                "expected an array of [\"component\", counter] pairs, got {}",
                type_name(other)
            ),
        )),
    }
}

/// `{"Kind": payload}` (members whose payload is `null` are ignored), or `"Kind"`.
fn kind(value: Option<&Value>) -> Result<EventKind> {
    let (name, payload) = match value {
        None | Some(Value::Null) => {
            return Err(FieldError::new(
                "",
                "missing (required), e.g. {\"StateChange\": {...}}",
            ));
        }
        Some(Value::String(name)) => (name, &Value::Null),
        Some(Value::Object(map)) => {
            let given: Vec<_> = map.iter().filter(|(_, v)| !v.is_null()).collect();
            match (given.as_slice(), map.iter().next()) {
                ([(name, payload)], _) => (*name, *payload),
                ([], Some((name, payload))) if map.len() == 1 => (name, payload),
                ([], _) => {
                    return Err(FieldError::new(
                        "",
                        "no kind given; expected e.g. {\"StateChange\": {...}}",
                    ))
                }
                (many, _) => {
                    let names: Vec<&str> = many.iter().map(|(n, _)| n.as_str()).collect();
                    return Err(FieldError::new(
                        "",
                        format!(
                            "several kinds given ({}); expected exactly one",
                            names.join(", ")
                        ),
                    ));
                }
            }
        }
        Some(other) => {
            return Err(FieldError::new(
                "",
                format!(
                    "expected an object such as {{\"StateChange\": {{...}}}}, got {}",
                    type_name(other)
                ),
            ));
        }
    };
    kind_payload(name, payload).map_err(|e| e.within(name))
}

fn kind_payload(name: &str, payload: &Value) -> Result<EventKind> {
    let empty = Object::new();
    // Kinds with a payload of their own shape; any other name becomes `Custom`.
    let known = name != "Custom" && EventKind::NAMES.contains(&name);
    let p = match payload {
        Value::Null => &empty,
        Value::Object(o) => o,
        _ if !known => &empty, // unknown kinds keep any payload as Custom data, below
        other => {
            return Err(FieldError::new(
                "",
                format!("expected an object, got {}", type_name(other)),
            ))
        }
    };
    Ok(match name {
        "FunctionCall" => EventKind::FunctionCall(FunctionCall {
            function_name: text(p, "function_name")?,
            module: text(p, "module")?,
            args: json(p, "args"),
            file: text(p, "file")?,
            line: unsigned(p, "line", u64::from(u32::MAX))?,
        }),
        "AsyncSpawn" => EventKind::AsyncSpawn(AsyncSpawn {
            task_id: text(p, "task_id")?,
            spawned_by: text(p, "spawned_by")?,
            task_name: optional_text(p, "task_name")?,
            spawned_at: optional_text(p, "spawned_at")?,
        }),
        "AsyncAwait" => EventKind::AsyncAwait(AsyncAwait {
            future_id: text(p, "future_id")?,
            awaited_at: text(p, "awaited_at")?,
        }),
        "StateChange" => EventKind::StateChange(StateChange {
            variable: required_text(p, "variable")?,
            old_value: optional_json(p, "old_value"),
            new_value: json(p, "new_value"),
            location: text(p, "location")?,
            access_type: access_type(p)?,
        }),
        "LockAcquire" => EventKind::LockAcquire(lock(p)?),
        "LockRelease" => EventKind::LockRelease(lock(p)?),
        "MemoryFence" => EventKind::MemoryFence(MemoryFence {
            ordering: ordering(p)?,
            location: text(p, "location")?,
        }),
        "HttpRequest" => EventKind::HttpRequest(HttpRequest {
            method: text(p, "method")?,
            url: text(p, "url")?,
            headers: headers(p)?,
            body: optional_json(p, "body"),
        }),
        "HttpResponse" => EventKind::HttpResponse(HttpResponse {
            status: unsigned(p, "status", u64::from(u16::MAX))?,
            headers: headers(p)?,
            body: optional_json(p, "body"),
            duration_ms: unsigned(p, "duration_ms", u64::MAX)?,
        }),
        "DatabaseQuery" => EventKind::DatabaseQuery(DatabaseQuery {
            query: text(p, "query")?,
            database: text(p, "database")?,
            duration_ms: unsigned(p, "duration_ms", u64::MAX)?,
        }),
        "DatabaseResult" => EventKind::DatabaseResult(DatabaseResult {
            rows_affected: unsigned(p, "rows_affected", u64::MAX)?,
        }),
        "Error" => EventKind::Error(ErrorEvent {
            error_type: text(p, "error_type")?,
            message: text(p, "message")?,
            stack_trace: text_list(p, "stack_trace")?,
        }),
        "MessageSend" => EventKind::MessageSend(message(p)?),
        "MessageReceive" => EventKind::MessageReceive(message(p)?),
        // Our own encoding is {"name": ..., "data": ...}; a payload without `name` is kept whole.
        "Custom" if p.contains_key("name") => EventKind::Custom(Custom {
            name: text(p, "name")?,
            data: json(p, "data"),
        }),
        // Unknown kinds (e.g. the Go SDK's FunctionReturn) are kept, never rejected.
        _ => EventKind::Custom(Custom {
            name: name.to_string(),
            data: canonical_json_text(payload),
        }),
    })
}

fn access_type(p: &Object) -> Result<AccessType> {
    one_of(
        p,
        "access_type",
        AccessType::ALL,
        AccessType::as_str,
        "access type",
    )
}

fn ordering(p: &Object) -> Result<MemoryOrdering> {
    one_of(
        p,
        "ordering",
        MemoryOrdering::ALL,
        MemoryOrdering::as_str,
        "memory ordering",
    )
}

/// The member of `all` named by text field `field` (case-insensitive); an unknown name is an
/// error that lists the names expected.
fn one_of<T: Copy, const N: usize>(
    p: &Object,
    field: &str,
    all: [T; N],
    name_of: fn(T) -> &'static str,
    what: &str,
) -> Result<T> {
    let name = required_text(p, field)?;
    all.into_iter()
        .find(|t| name_of(*t).eq_ignore_ascii_case(&name))
        .ok_or_else(|| {
            let names: Vec<_> = all.into_iter().map(name_of).collect();
            let (last, rest) = names.split_last().expect("a non-empty list of names");
            let expected = format!("{} or {last}", rest.join(", "));
            FieldError::new(
                field,
                format!("unknown {what} {name:?} (expected {expected})"),
            )
        })
}

fn lock(p: &Object) -> Result<LockEvent> {
    let lock_type = text(p, "lock_type")?;
    // The SDKs send only lock_type; our own encoding adds `mode`, which wins when present.
    let mode = match optional_text(p, "mode")? {
        None => LockMode::from_lock_type(&lock_type),
        Some(m) if m.eq_ignore_ascii_case("exclusive") => LockMode::Exclusive,
        Some(m) if m.eq_ignore_ascii_case("shared") => LockMode::Shared,
        Some(m) => {
            return Err(FieldError::new(
                "mode",
                format!("unknown lock mode {m:?} (expected exclusive or shared)"),
            ))
        }
    };
    Ok(LockEvent {
        lock_id: required_text(p, "lock_id")?,
        mode,
        lock_type,
        location: text(p, "location")?,
    })
}

/// The items of array field `field`: each a `[text, value]` pair, its value decoded by `value`
/// (given the item's path), or any other item decoded (or refused) by `other`.
fn pairs<T>(
    items: &[Value],
    field: &str,
    value: impl Fn(&str, &Value) -> Result<T>,
    other: impl Fn(String, &Value) -> Result<(String, T)>,
) -> Result<Vec<(String, T)>> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let at = format!("{field}[{i}]");
            match item {
                Value::Array(pair) if pair.len() == 2 => {
                    Ok((text_of(&at, &pair[0])?, value(&at, &pair[1])?))
                }
                item => other(at, item),
            }
        })
        .collect()
}

/// Headers as `{name: value}` (sorted by name) or as `[[name, value], ...]` (kept in order).
fn headers(p: &Object) -> Result<Vec<(String, String)>> {
    let value_text = |at: &str, v: &Value| {
        if v.is_null() {
            Ok(String::new())
        } else {
            text_of(at, v)
        }
    };
    match present(p, "headers") {
        None => Ok(Vec::new()),
        Some(Value::Object(map)) => {
            let mut pairs = map
                .iter()
                .map(|(k, v)| Ok((k.clone(), value_text(&format!("headers.{k}"), v)?)))
                .collect::<Result<Vec<_>>>()?;
            pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            Ok(pairs)
        }
        Some(Value::Array(items)) => pairs(items, "headers", value_text, |at, other| {
            Err(FieldError::new(
                at,
                format!("expected a [name, value] pair, got {}", describe(other)),
            ))
        }),
        Some(other) => Err(FieldError::new(
            "headers",
            format!("expected an object, got {}", type_name(other)),
        )),
    }
}

fn message(p: &Object) -> Result<MessageEvent> {
    Ok(MessageEvent {
        topic: text(p, "topic")?,
        partition: optional_integer(p, "partition", i128::from(i32::MIN), i128::from(i32::MAX))?
            .map(|n| n as i32),
        offset: optional_integer(p, "offset", i128::from(i64::MIN), i128::from(i64::MAX))?
            .map(|n| n as i64),
        key: optional_text(p, "key")?,
        location: text(p, "location")?,
    })
}

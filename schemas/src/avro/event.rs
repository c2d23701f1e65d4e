//! `raceway.EventBatch` / `raceway.Event` <-> model through [`Value`]s, by hand, so that `kind` is a
//! true union: the reference the direct codec (`event_read.rs`, `event_write.rs`) is tested
//! against, through the schema-driven codec of `binary.rs`.

use apache_avro::types::Value;

use super::value::{
    access_type_from_symbol, clock, field, nested, optional, optional_string, string, strings,
    unsigned, value_uuid, Fields,
};
use crate::error::SchemaError;
use crate::model::*;

/// Record names of the `kind` union, in schema order: the model's kind names.
pub(crate) const KIND_RECORDS: [&str; 15] = EventKind::NAMES;

pub(crate) fn batch_to_value(batch: &EventBatch) -> Result<Value, SchemaError> {
    let mut events = Vec::with_capacity(batch.events.len());
    for (i, e) in batch.events.iter().enumerate() {
        events.push(event_to_value(e).map_err(|err| err.within(&format!("events[{i}]")))?);
    }
    Ok(Value::Record(vec![
        field("trace_id", Value::Uuid(batch.trace_id)),
        field("events", Value::Array(events)),
    ]))
}

pub(crate) fn batch_from_value(value: Value) -> Result<EventBatch, SchemaError> {
    let mut batch = Fields::of(value)?;
    let trace_id = batch.uuid("trace_id")?;
    let events = batch
        .array("events")?
        .into_iter()
        .enumerate()
        .map(|(i, v)| event_from_value(v).map_err(|e| e.within(&format!("events[{i}]"))))
        .collect::<Result<_, _>>()?;
    Ok(EventBatch { trace_id, events })
}

pub(crate) fn event_to_value(e: &Event) -> Result<Value, SchemaError> {
    Ok(Value::Record(vec![
        field("id", Value::Uuid(e.id)),
        field("trace_id", Value::Uuid(e.trace_id)),
        field("parent_id", optional(e.parent_id.map(Value::Uuid))),
        field("timestamp", Value::Long(e.timestamp_ns)),
        nested("kind", kind_to_value(&e.kind))?,
        nested("metadata", metadata_to_value(&e.metadata))?,
        nested("causality_vector", clock(&e.causality_vector))?,
        field("lock_set", strings(&e.lock_set)),
    ]))
}

pub(crate) fn event_from_value(value: Value) -> Result<Event, SchemaError> {
    let mut f = Fields::of(value)?;
    Ok(Event {
        id: f.uuid("id")?,
        trace_id: f.uuid("trace_id")?,
        parent_id: f
            .optional("parent_id")?
            .map(|v| value_uuid("parent_id", v))
            .transpose()?,
        timestamp_ns: f.long("timestamp")?,
        kind: kind_from_value(f.take("kind")?).map_err(|e| e.within("kind"))?,
        metadata: metadata_from_value(f.record("metadata")?).map_err(|e| e.within("metadata"))?,
        causality_vector: f.clock("causality_vector")?,
        lock_set: f.strings("lock_set")?,
    })
}

fn metadata_to_value(m: &Metadata) -> Result<Value, SchemaError> {
    let tags = m.tags.iter().map(|(k, v)| (k.clone(), string(v))).collect();
    Ok(Value::Record(vec![
        field("thread_id", string(&m.thread_id)),
        field("process_id", Value::Long(i64::from(m.process_id))),
        field("service_name", string(&m.service_name)),
        field("environment", string(&m.environment)),
        field("tags", Value::Map(tags)),
        field(
            "duration_ns",
            optional(
                m.duration_ns
                    .map(|d| unsigned("duration_ns", d))
                    .transpose()?,
            ),
        ),
        field("instance_id", optional_string(m.instance_id.as_ref())),
        field(
            "distributed_span_id",
            optional_string(m.distributed_span_id.as_ref()),
        ),
        field(
            "upstream_span_id",
            optional_string(m.upstream_span_id.as_ref()),
        ),
    ]))
}

fn metadata_from_value(mut f: Fields) -> Result<Metadata, SchemaError> {
    let thread_id = f.string("thread_id")?;
    let process_id = f.unsigned("process_id")?;
    let service_name = f.string("service_name")?;
    let environment = f.string("environment")?;
    let tags = match f.take("tags")? {
        Value::Map(entries) => entries
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k, s)),
                _ => Err(SchemaError::field(format!("tags.{k}"), "expected a string")),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(SchemaError::field("tags", "expected a map")),
    };
    let duration_ns = match f.optional("duration_ns")? {
        None => None,
        Some(Value::Long(n)) => Some(
            u64::try_from(n)
                .map_err(|_| SchemaError::field("duration_ns", format!("negative duration {n}")))?,
        ),
        Some(_) => return Err(SchemaError::field("duration_ns", "expected a long")),
    };
    Ok(Metadata {
        thread_id,
        process_id,
        service_name,
        environment,
        tags,
        duration_ns,
        instance_id: f.optional_string("instance_id")?,
        distributed_span_id: f.optional_string("distributed_span_id")?,
        upstream_span_id: f.optional_string("upstream_span_id")?,
    })
}

fn headers_to_value(headers: &[(String, String)]) -> Value {
    Value::Array(
        headers
            .iter()
            .map(|(name, value)| {
                Value::Record(vec![
                    field("name", string(name)),
                    field("value", string(value)),
                ])
            })
            .collect(),
    )
}

fn headers_from_value(f: &mut Fields) -> Result<Vec<(String, String)>, SchemaError> {
    fn header(v: Value) -> Result<(String, String), SchemaError> {
        let mut h = Fields::of(v)?;
        Ok((h.string("name")?, h.string("value")?))
    }
    f.array("headers")?
        .into_iter()
        .enumerate()
        .map(|(i, v)| header(v).map_err(|e| e.within(&format!("headers[{i}]"))))
        .collect()
}

fn lock_to_value(l: &LockEvent) -> Value {
    let (index, symbol) = match l.mode {
        LockMode::Exclusive => (0, "Exclusive"),
        LockMode::Shared => (1, "Shared"),
    };
    Value::Record(vec![
        field("lock_id", string(&l.lock_id)),
        field("mode", Value::Enum(index, symbol.to_string())),
        field("lock_type", string(&l.lock_type)),
        field("location", string(&l.location)),
    ])
}

fn lock_from_value(f: &mut Fields) -> Result<LockEvent, SchemaError> {
    let lock_id = f.string("lock_id")?;
    let mode = match f.symbol("mode")?.as_str() {
        "Exclusive" => LockMode::Exclusive,
        "Shared" => LockMode::Shared,
        other => {
            return Err(SchemaError::field(
                "mode",
                format!("unknown lock mode {other:?}"),
            ))
        }
    };
    Ok(LockEvent {
        lock_id,
        mode,
        lock_type: f.string("lock_type")?,
        location: f.string("location")?,
    })
}

fn message_to_value(m: &MessageEvent) -> Value {
    Value::Record(vec![
        field("topic", string(&m.topic)),
        field("partition", optional(m.partition.map(Value::Int))),
        field("offset", optional(m.offset.map(Value::Long))),
        field("key", optional_string(m.key.as_ref())),
        field("location", string(&m.location)),
    ])
}

fn message_from_value(f: &mut Fields) -> Result<MessageEvent, SchemaError> {
    let topic = f.string("topic")?;
    let partition = match f.optional("partition")? {
        None => None,
        Some(Value::Int(p)) => Some(p),
        Some(_) => return Err(SchemaError::field("partition", "expected an int")),
    };
    let offset = match f.optional("offset")? {
        None => None,
        Some(Value::Long(o)) => Some(o),
        Some(_) => return Err(SchemaError::field("offset", "expected a long")),
    };
    Ok(MessageEvent {
        topic,
        partition,
        offset,
        key: f.optional_string("key")?,
        location: f.string("location")?,
    })
}

fn kind_to_value(kind: &EventKind) -> Result<Value, SchemaError> {
    let record = match kind {
        EventKind::FunctionCall(c) => vec![
            field("function_name", string(&c.function_name)),
            field("module", string(&c.module)),
            field("args", string(&c.args)),
            field("file", string(&c.file)),
            field("line", Value::Long(i64::from(c.line))),
        ],
        EventKind::AsyncSpawn(s) => vec![
            field("task_id", string(&s.task_id)),
            field("spawned_by", string(&s.spawned_by)),
            field("task_name", optional_string(s.task_name.as_ref())),
            field("spawned_at", optional_string(s.spawned_at.as_ref())),
        ],
        EventKind::AsyncAwait(a) => {
            vec![
                field("future_id", string(&a.future_id)),
                field("awaited_at", string(&a.awaited_at)),
            ]
        }
        EventKind::StateChange(s) => vec![
            field("variable", string(&s.variable)),
            field("old_value", optional_string(s.old_value.as_ref())),
            field("new_value", string(&s.new_value)),
            field("location", string(&s.location)),
            field("access_type", access_type_to_value(s.access_type)),
        ],
        EventKind::LockAcquire(l) | EventKind::LockRelease(l) => {
            return Ok(union(kind, lock_to_value(l)))
        }
        EventKind::MemoryFence(m) => vec![
            field("ordering", ordering_to_value(m.ordering)),
            field("location", string(&m.location)),
        ],
        EventKind::HttpRequest(r) => vec![
            field("method", string(&r.method)),
            field("url", string(&r.url)),
            field("headers", headers_to_value(&r.headers)),
            field("body", optional_string(r.body.as_ref())),
        ],
        EventKind::HttpResponse(r) => vec![
            field("status", Value::Int(i32::from(r.status))),
            field("headers", headers_to_value(&r.headers)),
            field("body", optional_string(r.body.as_ref())),
            field("duration_ms", unsigned("duration_ms", r.duration_ms)?),
        ],
        EventKind::DatabaseQuery(q) => vec![
            field("query", string(&q.query)),
            field("database", string(&q.database)),
            field("duration_ms", unsigned("duration_ms", q.duration_ms)?),
        ],
        EventKind::DatabaseResult(r) => vec![field(
            "rows_affected",
            unsigned("rows_affected", r.rows_affected)?,
        )],
        EventKind::Error(e) => vec![
            field("error_type", string(&e.error_type)),
            field("message", string(&e.message)),
            field("stack_trace", strings(&e.stack_trace)),
        ],
        EventKind::MessageSend(m) | EventKind::MessageReceive(m) => {
            return Ok(union(kind, message_to_value(m)))
        }
        EventKind::Custom(c) => vec![
            field("name", string(&c.name)),
            field("data", string(&c.data)),
        ],
    };
    Ok(union(kind, Value::Record(record)))
}

/// The union branch of `kind`: its position in the schema's union (= [`KIND_RECORDS`]).
fn union(kind: &EventKind, record: Value) -> Value {
    Value::Union(super::event_write::kind_index(kind), Box::new(record))
}

fn access_type_to_value(t: AccessType) -> Value {
    let index = AccessType::ALL.iter().position(|a| *a == t).unwrap_or(0);
    Value::Enum(index as u32, t.as_str().to_string())
}

fn ordering_to_value(o: MemoryOrdering) -> Value {
    let index = MemoryOrdering::ALL
        .iter()
        .position(|a| *a == o)
        .unwrap_or(0);
    Value::Enum(index as u32, o.as_str().to_string())
}

fn kind_from_value(value: Value) -> Result<EventKind, SchemaError> {
    let Value::Union(index, record) = value else {
        return Err(SchemaError::field("", "expected a union"));
    };
    let name = KIND_RECORDS.get(index as usize).copied().unwrap_or("?");
    kind_record_from_value(index, *record).map_err(|e| e.within(name))
}

fn kind_record_from_value(index: u32, record: Value) -> Result<EventKind, SchemaError> {
    let mut f = Fields::of(record)?;
    Ok(match index {
        0 => EventKind::FunctionCall(FunctionCall {
            function_name: f.string("function_name")?,
            module: f.string("module")?,
            args: f.string("args")?,
            file: f.string("file")?,
            line: f.unsigned("line")?,
        }),
        1 => EventKind::AsyncSpawn(AsyncSpawn {
            task_id: f.string("task_id")?,
            spawned_by: f.string("spawned_by")?,
            task_name: f.optional_string("task_name")?,
            spawned_at: f.optional_string("spawned_at")?,
        }),
        2 => EventKind::AsyncAwait(AsyncAwait {
            future_id: f.string("future_id")?,
            awaited_at: f.string("awaited_at")?,
        }),
        3 => EventKind::StateChange(StateChange {
            variable: f.string("variable")?,
            old_value: f.optional_string("old_value")?,
            new_value: f.string("new_value")?,
            location: f.string("location")?,
            access_type: access_type_from_symbol("access_type", &f.symbol("access_type")?)?,
        }),
        4 => EventKind::LockAcquire(lock_from_value(&mut f)?),
        5 => EventKind::LockRelease(lock_from_value(&mut f)?),
        6 => {
            let symbol = f.symbol("ordering")?;
            let ordering = MemoryOrdering::parse(&symbol).ok_or_else(|| {
                SchemaError::field("ordering", format!("unknown memory ordering {symbol:?}"))
            })?;
            EventKind::MemoryFence(MemoryFence {
                ordering,
                location: f.string("location")?,
            })
        }
        7 => EventKind::HttpRequest(HttpRequest {
            method: f.string("method")?,
            url: f.string("url")?,
            headers: headers_from_value(&mut f)?,
            body: f.optional_string("body")?,
        }),
        8 => {
            let status = f.int("status")?;
            EventKind::HttpResponse(HttpResponse {
                status: u16::try_from(status).map_err(|_| {
                    SchemaError::field("status", format!("{status} is not an HTTP status"))
                })?,
                headers: headers_from_value(&mut f)?,
                body: f.optional_string("body")?,
                duration_ms: f.unsigned("duration_ms")?,
            })
        }
        9 => EventKind::DatabaseQuery(DatabaseQuery {
            query: f.string("query")?,
            database: f.string("database")?,
            duration_ms: f.unsigned("duration_ms")?,
        }),
        10 => EventKind::DatabaseResult(DatabaseResult {
            rows_affected: f.unsigned("rows_affected")?,
        }),
        11 => EventKind::Error(ErrorEvent {
            error_type: f.string("error_type")?,
            message: f.string("message")?,
            stack_trace: f.strings("stack_trace")?,
        }),
        12 => EventKind::MessageSend(message_from_value(&mut f)?),
        13 => EventKind::MessageReceive(message_from_value(&mut f)?),
        14 => EventKind::Custom(Custom {
            name: f.string("name")?,
            data: f.string("data")?,
        }),
        _ => {
            return Err(SchemaError::field(
                "",
                format!("unknown union branch {index}"),
            ))
        }
    })
}

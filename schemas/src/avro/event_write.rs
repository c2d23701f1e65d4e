//! [`EventBatch`] written straight as a `raceway.EventBatch` datum, field by field in the order
//! of `event.avsc`, without building a generic value tree first (see `event_read.rs` for why).
//!
//! The bytes are the schema-driven codec's (a test compares them): arrays as one block then the
//! empty block, maps sorted by key (the model's `BTreeMap` order), so equal batches always
//! encode to equal bytes. Unsigned model values above `i64::MAX` are errors naming the field.

use super::wire::{write_long, write_str};
use crate::error::SchemaError;
use crate::model::*;
use uuid::Uuid;

/// Appends the datum of `batch` to `out`.
pub(crate) fn batch(batch: &EventBatch, out: &mut Vec<u8>) -> Result<(), SchemaError> {
    write_uuid(batch.trace_id, out);
    array(&batch.events, out, |i, e, out| {
        event(e, out).map_err(|err| err.within(&format!("events[{i}]")))
    })
}

/// The branch of the `kind` union that holds `kind` (= its position in [`EventKind::NAMES`]).
pub(crate) fn kind_index(kind: &EventKind) -> u32 {
    // At most 14: always fits.
    kind.index() as u32
}

fn event(e: &Event, out: &mut Vec<u8>) -> Result<(), SchemaError> {
    write_uuid(e.id, out);
    write_uuid(e.trace_id, out);
    optional(e.parent_id.as_ref(), out, |u, out| write_uuid(*u, out));
    write_long(e.timestamp_ns, out);
    kind(&e.kind, out).map_err(|err| err.within("kind"))?;
    metadata(&e.metadata, out).map_err(|err| err.within("metadata"))?;
    array(&e.causality_vector, out, |i, (component, counter), out| {
        write_str(component, out);
        unsigned("counter", *counter, out)
            .map_err(|err| err.within(&format!("causality_vector[{i}]")))
    })?;
    strings(&e.lock_set, out);
    Ok(())
}

fn write_uuid(u: Uuid, out: &mut Vec<u8>) {
    write_str(u.hyphenated().encode_lower(&mut Uuid::encode_buffer()), out);
}

/// An unsigned model value as an Avro long; above `i64::MAX` it cannot be represented.
fn unsigned(name: &str, n: u64, out: &mut Vec<u8>) -> Result<(), SchemaError> {
    let n = i64::try_from(n)
        .map_err(|_| SchemaError::field(name, format!("{n} does not fit an Avro long")))?;
    write_long(n, out);
    Ok(())
}

/// A `["null", T]` union.
fn optional<T>(value: Option<&T>, out: &mut Vec<u8>, write: impl FnOnce(&T, &mut Vec<u8>)) {
    match value {
        None => write_long(0, out),
        Some(v) => {
            write_long(1, out);
            write(v, out);
        }
    }
}

fn optional_string(s: Option<&String>, out: &mut Vec<u8>) {
    optional(s, out, |s, out| write_str(s, out));
}

/// An array: one block of every item (none when empty), then the empty block.
fn array<T>(
    items: &[T],
    out: &mut Vec<u8>,
    mut write: impl FnMut(usize, &T, &mut Vec<u8>) -> Result<(), SchemaError>,
) -> Result<(), SchemaError> {
    if !items.is_empty() {
        write_long(items.len() as i64, out);
        for (i, item) in items.iter().enumerate() {
            write(i, item, out)?;
        }
    }
    write_long(0, out);
    Ok(())
}

fn strings(items: &[String], out: &mut Vec<u8>) {
    // Writing a string cannot fail.
    let _ = array(items, out, |_, s, out| {
        write_str(s, out);
        Ok(())
    });
}

fn metadata(m: &Metadata, out: &mut Vec<u8>) -> Result<(), SchemaError> {
    write_str(&m.thread_id, out);
    write_long(i64::from(m.process_id), out);
    write_str(&m.service_name, out);
    write_str(&m.environment, out);
    if !m.tags.is_empty() {
        write_long(m.tags.len() as i64, out);
        for (key, value) in &m.tags {
            write_str(key, out);
            write_str(value, out);
        }
    }
    write_long(0, out);
    match m.duration_ns {
        None => write_long(0, out),
        Some(d) => {
            write_long(1, out);
            unsigned("duration_ns", d, out)?;
        }
    }
    optional_string(m.instance_id.as_ref(), out);
    optional_string(m.distributed_span_id.as_ref(), out);
    optional_string(m.upstream_span_id.as_ref(), out);
    Ok(())
}

fn kind(kind: &EventKind, out: &mut Vec<u8>) -> Result<(), SchemaError> {
    let index = kind_index(kind);
    write_long(i64::from(index), out);
    kind_record(kind, out).map_err(|e| e.within(EventKind::NAMES[index as usize]))
}

fn kind_record(kind: &EventKind, out: &mut Vec<u8>) -> Result<(), SchemaError> {
    match kind {
        EventKind::FunctionCall(c) => {
            for s in [&c.function_name, &c.module, &c.args, &c.file] {
                write_str(s, out);
            }
            write_long(i64::from(c.line), out);
        }
        EventKind::AsyncSpawn(s) => {
            write_str(&s.task_id, out);
            write_str(&s.spawned_by, out);
            optional_string(s.task_name.as_ref(), out);
            optional_string(s.spawned_at.as_ref(), out);
        }
        EventKind::AsyncAwait(a) => {
            write_str(&a.future_id, out);
            write_str(&a.awaited_at, out);
        }
        EventKind::StateChange(s) => {
            write_str(&s.variable, out);
            optional_string(s.old_value.as_ref(), out);
            write_str(&s.new_value, out);
            write_str(&s.location, out);
            let index = AccessType::ALL.iter().position(|a| *a == s.access_type);
            write_long(index.unwrap_or(0) as i64, out);
        }
        EventKind::LockAcquire(l) | EventKind::LockRelease(l) => {
            write_str(&l.lock_id, out);
            write_long(
                match l.mode {
                    LockMode::Exclusive => 0,
                    LockMode::Shared => 1,
                },
                out,
            );
            write_str(&l.lock_type, out);
            write_str(&l.location, out);
        }
        EventKind::MemoryFence(m) => {
            let index = MemoryOrdering::ALL.iter().position(|o| *o == m.ordering);
            write_long(index.unwrap_or(0) as i64, out);
            write_str(&m.location, out);
        }
        EventKind::HttpRequest(r) => {
            write_str(&r.method, out);
            write_str(&r.url, out);
            headers(&r.headers, out);
            optional_string(r.body.as_ref(), out);
        }
        EventKind::HttpResponse(r) => {
            write_long(i64::from(r.status), out);
            headers(&r.headers, out);
            optional_string(r.body.as_ref(), out);
            unsigned("duration_ms", r.duration_ms, out)?;
        }
        EventKind::DatabaseQuery(q) => {
            write_str(&q.query, out);
            write_str(&q.database, out);
            unsigned("duration_ms", q.duration_ms, out)?;
        }
        EventKind::DatabaseResult(r) => unsigned("rows_affected", r.rows_affected, out)?,
        EventKind::Error(e) => {
            write_str(&e.error_type, out);
            write_str(&e.message, out);
            strings(&e.stack_trace, out);
        }
        EventKind::MessageSend(m) | EventKind::MessageReceive(m) => {
            write_str(&m.topic, out);
            optional(m.partition.as_ref(), out, |p, out| {
                write_long(i64::from(*p), out)
            });
            optional(m.offset.as_ref(), out, |o, out| write_long(*o, out));
            optional_string(m.key.as_ref(), out);
            write_str(&m.location, out);
        }
        EventKind::Custom(c) => {
            write_str(&c.name, out);
            write_str(&c.data, out);
        }
    }
    Ok(())
}

fn headers(headers: &[(String, String)], out: &mut Vec<u8>) {
    // Writing strings cannot fail.
    let _ = array(headers, out, |_, (name, value), out| {
        write_str(name, out);
        write_str(value, out);
        Ok(())
    });
}

//! `raceway.EventBatch` read straight into [`EventBatch`]: field by field in the order of
//! `event.avsc`, strings borrowed from the record until the model takes them.
//!
//! Going through the generic [`apache_avro::types::Value`] tree first (`binary.rs`) cost a tree
//! node, a field-name string and a boxed union per field of every event, then a search by name
//! to take each field out again: on the trace stage's consuming path that was the largest
//! single cost after allocation. The rules are the same as the schema-driven codec's (the tests
//! hold this reader to it on valid, truncated and corrupt records): every length is checked
//! against the bytes left, trailing bytes are an error, structural errors carry the byte offset
//! and values the model cannot hold name the field (`events[3].causality_vector[0].counter`).
//!
//! A field added to `event.avsc` must be added here, in schema order, and in `event_write.rs`;
//! otherwise every record is refused as malformed (the round-trip tests catch it).

use std::collections::BTreeMap;

use super::wire::Reader;
use crate::error::SchemaError;
use crate::model::*;

/// Decodes one `raceway.EventBatch` datum (after the frame header).
pub(crate) fn batch(datum: &[u8]) -> Result<EventBatch, SchemaError> {
    let mut r = Reader::new(datum, "raceway.EventBatch");
    let trace_id = r.uuid()?;
    let mut events = Vec::new();
    r.blocks(|r| {
        let event = event(r).map_err(|e| e.within(&format!("events[{}]", events.len())))?;
        events.push(event);
        Ok(())
    })?;
    r.finish()?;
    Ok(EventBatch { trace_id, events })
}

fn event(r: &mut Reader) -> Result<Event, SchemaError> {
    Ok(Event {
        id: r.uuid()?,
        trace_id: r.uuid()?,
        parent_id: r.optional(Reader::uuid)?,
        timestamp_ns: r.long()?,
        kind: kind(r).map_err(|e| e.within("kind"))?,
        metadata: metadata(r).map_err(|e| e.within("metadata"))?,
        causality_vector: clock(r)?,
        lock_set: strings(r)?,
    })
}

/// An Avro long that the model holds as an unsigned (or narrower) integer.
pub(crate) fn unsigned<T: TryFrom<i64>>(r: &mut Reader, name: &str) -> Result<T, SchemaError> {
    let n = r.long()?;
    T::try_from(n).map_err(|_| {
        SchemaError::field(
            name,
            format!("{n} is out of range for {}", std::any::type_name::<T>()),
        )
    })
}

fn optional_string(r: &mut Reader) -> Result<Option<String>, SchemaError> {
    r.optional(Reader::string)
}

fn strings(r: &mut Reader) -> Result<Vec<String>, SchemaError> {
    let mut items = Vec::new();
    r.blocks(|r| r.string().map(|s| items.push(s)))?;
    Ok(items)
}

fn clock(r: &mut Reader) -> Result<Vec<(String, u64)>, SchemaError> {
    let mut entries = Vec::new();
    r.blocks(|r| {
        let component = r.string()?;
        let counter = unsigned(r, "counter")
            .map_err(|e| e.within(&format!("causality_vector[{}]", entries.len())))?;
        entries.push((component, counter));
        Ok(())
    })?;
    Ok(entries)
}

/// Fields are read in the order they are written below, which is the schema's.
fn metadata(r: &mut Reader) -> Result<Metadata, SchemaError> {
    Ok(Metadata {
        thread_id: r.string()?,
        process_id: unsigned(r, "process_id")?,
        service_name: r.string()?,
        environment: r.string()?,
        tags: string_map(r)?,
        duration_ns: match r.optional(Reader::long)? {
            Some(n) => Some(u64::try_from(n).map_err(|_| {
                SchemaError::field("duration_ns", format!("negative duration {n}"))
            })?),
            None => None,
        },
        instance_id: optional_string(r)?,
        distributed_span_id: optional_string(r)?,
        upstream_span_id: optional_string(r)?,
    })
}

fn string_map(r: &mut Reader) -> Result<BTreeMap<String, String>, SchemaError> {
    let mut map = BTreeMap::new();
    r.blocks(|r| {
        let key = r.string()?;
        map.insert(key, r.string()?);
        Ok(())
    })?;
    Ok(map)
}

fn kind(r: &mut Reader) -> Result<EventKind, SchemaError> {
    let index = r.union_index(EventKind::NAMES.len())?;
    kind_record(r, index).map_err(|e| e.within(EventKind::NAMES[index]))
}

/// The record of branch `index` of the `kind` union (branches in [`EventKind::NAMES`] order).
fn kind_record(r: &mut Reader, index: usize) -> Result<EventKind, SchemaError> {
    Ok(match index {
        0 => EventKind::FunctionCall(FunctionCall {
            function_name: r.string()?,
            module: r.string()?,
            args: r.string()?,
            file: r.string()?,
            line: unsigned(r, "line")?,
        }),
        1 => EventKind::AsyncSpawn(AsyncSpawn {
            task_id: r.string()?,
            spawned_by: r.string()?,
            task_name: optional_string(r)?,
            spawned_at: optional_string(r)?,
        }),
        2 => EventKind::AsyncAwait(AsyncAwait {
            future_id: r.string()?,
            awaited_at: r.string()?,
        }),
        3 => EventKind::StateChange(StateChange {
            variable: r.string()?,
            old_value: optional_string(r)?,
            new_value: r.string()?,
            location: r.string()?,
            access_type: AccessType::ALL
                [r.enum_index(&"raceway.AccessType", AccessType::ALL.len())?],
        }),
        4 => EventKind::LockAcquire(lock(r)?),
        5 => EventKind::LockRelease(lock(r)?),
        6 => EventKind::MemoryFence(MemoryFence {
            ordering: MemoryOrdering::ALL
                [r.enum_index(&"raceway.MemoryOrdering", MemoryOrdering::ALL.len())?],
            location: r.string()?,
        }),
        7 => EventKind::HttpRequest(HttpRequest {
            method: r.string()?,
            url: r.string()?,
            headers: headers(r)?,
            body: optional_string(r)?,
        }),
        8 => {
            let status = r.int()?;
            EventKind::HttpResponse(HttpResponse {
                status: u16::try_from(status).map_err(|_| {
                    SchemaError::field("status", format!("{status} is not an HTTP status"))
                })?,
                headers: headers(r)?,
                body: optional_string(r)?,
                duration_ms: unsigned(r, "duration_ms")?,
            })
        }
        9 => EventKind::DatabaseQuery(DatabaseQuery {
            query: r.string()?,
            database: r.string()?,
            duration_ms: unsigned(r, "duration_ms")?,
        }),
        10 => EventKind::DatabaseResult(DatabaseResult {
            rows_affected: unsigned(r, "rows_affected")?,
        }),
        11 => EventKind::Error(ErrorEvent {
            error_type: r.string()?,
            message: r.string()?,
            stack_trace: strings(r)?,
        }),
        12 => EventKind::MessageSend(message(r)?),
        13 => EventKind::MessageReceive(message(r)?),
        _ => EventKind::Custom(Custom {
            name: r.string()?,
            data: r.string()?,
        }),
    })
}

fn lock(r: &mut Reader) -> Result<LockEvent, SchemaError> {
    Ok(LockEvent {
        lock_id: r.string()?,
        mode: lock_mode(r)?,
        lock_type: r.string()?,
        location: r.string()?,
    })
}

/// A `raceway.LockMode` symbol.
pub(crate) fn lock_mode(r: &mut Reader) -> Result<LockMode, SchemaError> {
    Ok(match r.enum_index(&"raceway.LockMode", 2)? {
        0 => LockMode::Exclusive,
        _ => LockMode::Shared,
    })
}

fn message(r: &mut Reader) -> Result<MessageEvent, SchemaError> {
    Ok(MessageEvent {
        topic: r.string()?,
        partition: r.optional(Reader::int)?,
        offset: r.optional(Reader::long)?,
        key: optional_string(r)?,
        location: r.string()?,
    })
}

fn headers(r: &mut Reader) -> Result<Vec<(String, String)>, SchemaError> {
    let mut headers = Vec::new();
    r.blocks(|r| {
        let name = r.string()?;
        headers.push((name, r.string()?));
        Ok(())
    })?;
    Ok(headers)
}

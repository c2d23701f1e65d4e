//! `raceway.Access`, `raceway.UpdateSpan` and `raceway.LockOrderEdge` datums written straight from
//! the model, field by field in the order of their `.avsc` files, without building a generic
//! value tree first.
//!
//! Rule: the bytes are those of the schema-driven codec (`access.rs` and `race_inputs.rs` build
//! the value, `binary.rs` encodes it), which stays as the reference a test holds this writer to:
//! the same bytes for every input with its optional parts set and unset, and the same error
//! naming the same field for a counter above `i64::MAX`. Why: the trace stage encodes every
//! access, update span and lock-order edge of every completed trace, and the value tree cost a
//! node, a field-name string and a copy of every string per field (about as much as the
//! analyses of a short trace). What breaks otherwise: a byte that differs is a record the race
//! stage decodes as something else, or refuses.

use uuid::Uuid;

use super::wire::{write_long, write_str};
use crate::access::{Access, HeldLock};
use crate::compact_clock::CompactClock;
use crate::error::SchemaError;
use crate::lock_order::{LockAcquisition, LockOrderEdge};
use crate::model::{AccessType, ActorId, LockMode};
use crate::update::UpdateSpan;

/// Appends the `raceway.Access` datum of `a` to `out`.
pub(crate) fn access(a: &Access, trace_events: u64, out: &mut Vec<u8>) -> Result<(), SchemaError> {
    access_and_read(a, trace_events, None, out).map(|_| ())
}

/// Appends the `raceway.UpdateSpan` datum of `span` to `out`.
pub(crate) fn update_span(
    span: &UpdateSpan,
    trace_events: u64,
    out: &mut Vec<u8>,
) -> Result<(), SchemaError> {
    let read = &span.read;
    let read_entries = access_and_read(&span.write, trace_events, Some(&read.clock), out)
        .map_err(|e| e.within("write"))?;
    write_uuid(read.event_id, out);
    write_long(read.timestamp_ns, out);
    write_str(&read.location, out);
    write_str(&read.value, out);
    // The read clock's entries index into the write's `clock_components`.
    indexed_entries(&read_entries, out);
    held_locks(&span.held_throughout, out);
    unsigned("trace_events", trace_events, out)
}

/// Appends the `raceway.LockOrderEdge` datum of `edge` to `out`.
pub(crate) fn lock_order_edge(
    edge: &LockOrderEdge,
    trace_events: u64,
    out: &mut Vec<u8>,
) -> Result<(), SchemaError> {
    write_uuid(edge.trace_id, out);
    write_str(&edge.environment, out);
    actor(&edge.actor, out);
    acquisition(&edge.held, out).map_err(|e| e.within("held"))?;
    acquisition(&edge.acquired, out).map_err(|e| e.within("acquired"))?;
    pairs_clock(&edge.start_clock, out).map_err(|e| e.within("start_clock"))?;
    held_locks(&edge.guards, out);
    out.push(u8::from(edge.trusted_clock));
    write_long(edge.trace_start_ns, out);
    write_long(edge.trace_end_ns, out);
    unsigned("trace_events", trace_events, out)
}

/// The access's fields; with `read` (an update span's read clock) the clock table covers both
/// clocks, and the read clock's (index, counter) entries are returned for the caller to write
/// where the span's schema puts them.
fn access_and_read(
    a: &Access,
    trace_events: u64,
    read: Option<&CompactClock>,
    out: &mut Vec<u8>,
) -> Result<Vec<(i32, i64)>, SchemaError> {
    write_uuid(a.event_id, out);
    write_uuid(a.trace_id, out);
    write_long(a.timestamp_ns, out);
    write_str(&a.environment, out);
    write_str(&a.variable, out);
    write_long(access_type_index(a.access_type), out);
    write_str(&a.location, out);
    write_str(&a.value, out);
    match &a.old_value {
        None => write_long(0, out),
        Some(old) => {
            write_long(1, out);
            write_str(old, out);
        }
    }
    actor(&a.actor, out);
    let clocks: Vec<&CompactClock> = std::iter::once(&a.clock).chain(read).collect();
    let table = record_table(&clocks).map_err(|e| e.within("clock"))?;
    strings(&table.names, out);
    let mut entries = table.entries.into_iter();
    if let Some(access_entries) = entries.next() {
        indexed_entries(&access_entries, out);
    }
    out.push(u8::from(a.trusted_clock));
    held_locks(&a.locks, out);
    write_long(a.trace_start_ns, out);
    write_long(a.trace_end_ns, out);
    unsigned("trace_events", trace_events, out)?;
    Ok(entries.next().unwrap_or_default())
}

/// The names `clocks` use, sorted, and each clock's entries as (index into them, counter): the
/// same table as `clocks::record_table`, without the value tree.
pub(crate) struct Table<'a> {
    pub(crate) names: Vec<&'a str>,
    pub(crate) entries: Vec<Vec<(i32, i64)>>,
}

pub(crate) fn record_table<'a>(clocks: &[&'a CompactClock]) -> Result<Table<'a>, SchemaError> {
    let mut names: Vec<&str> = clocks
        .iter()
        .flat_map(|c| c.iter().map(|(n, _)| n))
        .collect();
    // One clock's names are already sorted and distinct; several need merging.
    if clocks.len() > 1 {
        names.sort_unstable();
        names.dedup();
    }
    let mut all = Vec::with_capacity(clocks.len());
    for clock in clocks {
        let mut entries = Vec::with_capacity(clock.len());
        let mut next = 0;
        for (i, (name, counter)) in clock.iter().enumerate() {
            // Both sorted: the name is at or after the previous one's place.
            next += names[next..].iter().position(|n| *n == name).unwrap_or(0);
            let counter = i64::try_from(counter).map_err(|_| {
                SchemaError::field("counter", format!("{counter} does not fit an Avro long"))
                    .within(&format!("[{i}]"))
            })?;
            let index = i32::try_from(next)
                .map_err(|_| SchemaError::field("clock_components", "more than 2^31 components"))?;
            entries.push((index, counter));
        }
        all.push(entries);
    }
    Ok(Table {
        names,
        entries: all,
    })
}

/// An array of `raceway.ClockCounter` (`{component: int, counter: long}`).
fn indexed_entries(entries: &[(i32, i64)], out: &mut Vec<u8>) {
    array(entries, out, |&(index, counter), out| {
        write_long(i64::from(index), out);
        write_long(counter, out);
    });
}

/// An array of `raceway.ClockEntry` (`{component: string, counter: long}`).
fn pairs_clock(entries: &[(String, u64)], out: &mut Vec<u8>) -> Result<(), SchemaError> {
    if !entries.is_empty() {
        write_long(entries.len() as i64, out);
        for (i, (component, counter)) in entries.iter().enumerate() {
            write_str(component, out);
            unsigned("counter", *counter, out).map_err(|e| e.within(&format!("[{i}]")))?;
        }
    }
    write_long(0, out);
    Ok(())
}

fn acquisition(a: &LockAcquisition, out: &mut Vec<u8>) -> Result<(), SchemaError> {
    write_uuid(a.event_id, out);
    write_str(&a.lock_id, out);
    write_long(lock_mode_index(a.mode), out);
    write_str(&a.location, out);
    write_long(a.timestamp_ns, out);
    pairs_clock(&a.clock, out).map_err(|e| e.within("clock"))?;
    write_str(&a.lock_type, out);
    Ok(())
}

fn actor(actor: &ActorId, out: &mut Vec<u8>) {
    write_str(&actor.service, out);
    write_str(&actor.instance, out);
    write_str(&actor.thread, out);
}

fn held_locks(locks: &[HeldLock], out: &mut Vec<u8>) {
    array(locks, out, |lock, out| {
        write_str(&lock.lock_id, out);
        write_long(lock_mode_index(lock.mode), out);
    });
}

fn strings(items: &[&str], out: &mut Vec<u8>) {
    array(items, out, |s, out| write_str(s, out));
}

/// An array: one block of every item (none when empty), then the empty block, as `binary.rs`
/// writes it.
fn array<T>(items: &[T], out: &mut Vec<u8>, mut write: impl FnMut(&T, &mut Vec<u8>)) {
    if !items.is_empty() {
        write_long(items.len() as i64, out);
        for item in items {
            write(item, out);
        }
    }
    write_long(0, out);
}

fn write_uuid(u: Uuid, out: &mut Vec<u8>) {
    write_str(u.hyphenated().encode_lower(&mut Uuid::encode_buffer()), out);
}

/// The symbol's index in `raceway.AccessType` (the order of [`AccessType::ALL`]).
fn access_type_index(access_type: AccessType) -> i64 {
    AccessType::ALL
        .iter()
        .position(|t| *t == access_type)
        .unwrap_or(0) as i64
}

/// The symbol's index in `raceway.LockMode`.
fn lock_mode_index(mode: LockMode) -> i64 {
    match mode {
        LockMode::Exclusive => 0,
        LockMode::Shared => 1,
    }
}

/// An unsigned model value as an Avro long; above `i64::MAX` it cannot be represented.
fn unsigned(name: &str, n: u64, out: &mut Vec<u8>) -> Result<(), SchemaError> {
    let n = i64::try_from(n)
        .map_err(|_| SchemaError::field(name, format!("{n} does not fit an Avro long")))?;
    write_long(n, out);
    Ok(())
}

//! `raceway.Access` and `raceway.UpdateSpan` (the versions with indexed clocks) read straight
//! into [`Access`] and [`UpdateSpan`]: field by field in the order of `access.avsc` and
//! `update_span.avsc`, strings borrowed from the record until the model takes them.
//!
//! These are nearly every record of topic `raceway.accesses`. Going through the generic
//! [`apache_avro::types::Value`] tree first cost a tree node and a field-name string per field
//! and per clock entry (a 16-component clock is 16 records of two named fields), then a search
//! by name to take each field out again, and a fresh string per component name even when the
//! record lists the same names as the one before. The rules are the schema-driven codec's (the
//! tests hold this reader to it on valid, truncated and corrupt records): every length is
//! checked against the bytes left, trailing bytes are an error, structural errors carry the byte
//! offset and values the model cannot hold name the field (`write.clock[2].counter`).
//!
//! Records of the first versions (clocks as name and counter pairs) and lock-order edges, a
//! small share of the topic, still go through the value tree (`access.rs`, `race_inputs.rs`).
//! A field added to either schema must be added here, in schema order; otherwise every record
//! is refused as malformed (the round-trip tests catch it).

use super::clocks::{clock_over, component_index, NamesCache};
use super::event_read::{lock_mode, unsigned};
use super::wire::Reader;
use crate::access::{Access, HeldLock};
use crate::compact_clock::{CompactClock, ComponentIndex, ComponentNames};
use crate::error::SchemaError;
use crate::model::{AccessType, ActorId};
use crate::update::{UpdateRead, UpdateSpan};

/// Decodes one `raceway.Access` datum (after the frame header) and its `trace_events`; clock
/// tables equal to the previous record's are shared through `names`.
pub(crate) fn access(datum: &[u8], names: &mut NamesCache) -> Result<(Access, u64), SchemaError> {
    let mut r = Reader::new(datum, "raceway.Access");
    let read = access_fields(&mut r, names)?;
    r.finish()?;
    Ok(read)
}

/// Decodes one `raceway.UpdateSpan` datum and its `trace_events`.
pub(crate) fn update_span(
    datum: &[u8],
    names: &mut NamesCache,
) -> Result<(UpdateSpan, u64), SchemaError> {
    let mut r = Reader::new(datum, "raceway.UpdateSpan");
    let (write, _) = access_fields(&mut r, names).map_err(|e| e.within("write"))?;
    let read = update_read(&mut r, write.clock.names()).map_err(|e| e.within("read"))?;
    let held_throughout = held_locks(&mut r, "held_throughout")?;
    let trace_events = unsigned(&mut r, "trace_events")?;
    r.finish()?;
    let span = UpdateSpan {
        read,
        write,
        held_throughout,
    };
    Ok((span, trace_events))
}

/// The fields of a `raceway.Access`, read in schema order (a struct literal evaluates its fields
/// in the order written).
fn access_fields(r: &mut Reader, names: &mut NamesCache) -> Result<(Access, u64), SchemaError> {
    let access = Access {
        event_id: r.uuid()?,
        trace_id: r.uuid()?,
        timestamp_ns: r.long()?,
        environment: r.string()?,
        variable: r.string()?,
        access_type: AccessType::ALL[r.enum_index(&"raceway.AccessType", AccessType::ALL.len())?],
        location: r.string()?,
        value: r.string()?,
        old_value: r.optional(Reader::string)?,
        actor: ActorId {
            service: r.string()?,
            instance: r.string()?,
            thread: r.string()?,
        },
        clock: {
            let mut listed: Vec<&str> = Vec::new();
            r.blocks(|r| r.str().map(|name| listed.push(name)))?;
            clock(r, "clock", names.table(&listed))?
        },
        trusted_clock: r.boolean()?,
        locks: held_locks(r, "locks")?,
        trace_start_ns: r.long()?,
        trace_end_ns: r.long()?,
    };
    Ok((access, unsigned(r, "trace_events")?))
}

fn update_read(r: &mut Reader, names: &ComponentNames) -> Result<UpdateRead, SchemaError> {
    Ok(UpdateRead {
        event_id: r.uuid()?,
        timestamp_ns: r.long()?,
        location: r.string()?,
        value: r.string()?,
        clock: clock(r, "clock", ComponentNames::clone(names))?,
    })
}

/// The `{component: int, counter}` array field `name`, indices into `names`.
fn clock(r: &mut Reader, name: &str, names: ComponentNames) -> Result<CompactClock, SchemaError> {
    let mut entries: Vec<(ComponentIndex, u64)> = Vec::with_capacity(names.len());
    r.blocks(|r| {
        let at = |e: SchemaError| e.within(&format!("{name}[{}]", entries.len()));
        let index = component_index(r.int()?).map_err(at)?;
        let counter = unsigned(r, "counter").map_err(at)?;
        entries.push((index, counter));
        Ok(())
    })?;
    clock_over(names, entries, name)
}

/// The array-of-`raceway.HeldLock` field `name`.
fn held_locks(r: &mut Reader, name: &str) -> Result<Vec<HeldLock>, SchemaError> {
    let mut locks = Vec::new();
    r.blocks(|r| {
        let lock_id = r.string()?;
        let mode = lock_mode(r)?;
        locks.push(HeldLock { lock_id, mode });
        Ok(())
    })
    .map_err(|e| e.within(name))?;
    Ok(locks)
}

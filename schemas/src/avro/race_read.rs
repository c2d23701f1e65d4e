//! `raceway.Access` and `raceway.UpdateSpan` (the versions with indexed clocks) read straight
//! into [`Access`] and [`UpdateSpan`]: field by field in the order of `access.avsc` and
//! `update_span.avsc`, strings borrowed from the record until the model takes them. An access's
//! environment, variable, location, actor and lock set are looked up in the decoder's
//! [`SharedNames`](crate::SharedNames) from the borrowed text, so a name the decoder has seen
//! costs no allocation (see `crate::names`).
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
//! `raceway.RaceInputBatch` records (what the trace stage writes now: one per partition per
//! completion batch) are read here too, member by member, lock-order edges included; so are the
//! single records of the current versions. Records of the first versions (clocks as name and
//! counter pairs) and single lock-order edges, written before batches, still go through the
//! value tree (`access.rs`, `race_inputs.rs`). A field added to any of the three schemas must be
//! added here, in schema order; otherwise every record is refused as malformed (the round-trip
//! tests catch it).

use smallvec::SmallVec;

use super::clocks::{clock_over, component_index, NamesCache};
use super::event_read::{lock_mode, unsigned};
use super::wire::Reader;
use super::{RaceInput, RaceRecord};
use crate::access::{Access, HeldLock};
use crate::compact_clock::{CompactClock, ComponentIndex, ComponentNames};
use crate::error::SchemaError;
use crate::lock_order::{LockAcquisition, LockOrderEdge};
use crate::model::{AccessType, ActorId, LockMode};
use crate::update::{UpdateRead, UpdateSpan};

/// The schema name that labels errors in a `raceway.RaceInputBatch` datum.
pub(crate) const BATCH_SCHEMA: &str = "raceway.RaceInputBatch";

/// Decodes one `raceway.RaceInputBatch` datum: its members in order, each with its
/// `trace_events`. One bad member refuses the whole record (its members were written together).
pub(crate) fn batch(datum: &[u8], names: &mut NamesCache) -> Result<Vec<RaceRecord>, SchemaError> {
    let mut r = Reader::new(datum, BATCH_SCHEMA);
    let mut members = Vec::new();
    r.blocks(|r| {
        let at = |e: SchemaError| e.within(&format!("members[{}]", members.len()));
        let (input, trace_events) = match r.union_index(3)? {
            0 => access_fields(r, names).map(|(a, n)| (RaceInput::Access(a), n)),
            1 => update_span_fields(r, names).map(|(s, n)| (RaceInput::Update(s), n)),
            _ => lock_order_edge_fields(r).map(|(e, n)| (RaceInput::LockEdge(e), n)),
        }
        .map_err(at)?;
        members.push(RaceRecord {
            input,
            trace_events,
        });
        Ok(())
    })?;
    r.finish()?;
    Ok(members)
}

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
    let read = update_span_fields(&mut r, names)?;
    r.finish()?;
    Ok(read)
}

/// The fields of a `raceway.UpdateSpan`, in schema order.
fn update_span_fields(
    r: &mut Reader,
    names: &mut NamesCache,
) -> Result<(UpdateSpan, u64), SchemaError> {
    let (write, _) = access_fields(r, names).map_err(|e| e.within("write"))?;
    let read = update_read(r, write.clock.names()).map_err(|e| e.within("read"))?;
    let held_throughout = held_locks(r, "held_throughout")?;
    let trace_events = unsigned(r, "trace_events")?;
    let span = UpdateSpan {
        read,
        write,
        held_throughout,
    };
    Ok((span, trace_events))
}

/// The fields of a `raceway.LockOrderEdge` (the current version, with lock types), in schema
/// order.
fn lock_order_edge_fields(r: &mut Reader) -> Result<(LockOrderEdge, u64), SchemaError> {
    let edge = LockOrderEdge {
        trace_id: r.uuid()?,
        environment: r.string()?,
        actor: ActorId {
            service: r.string()?,
            instance: r.string()?,
            thread: r.string()?,
        },
        held: acquisition(r).map_err(|e| e.within("held"))?,
        acquired: acquisition(r).map_err(|e| e.within("acquired"))?,
        start_clock: named_clock(r, "start_clock")?,
        guards: held_locks(r, "guards")?,
        trusted_clock: r.boolean()?,
        trace_start_ns: r.long()?,
        trace_end_ns: r.long()?,
    };
    Ok((edge, unsigned(r, "trace_events")?))
}

fn acquisition(r: &mut Reader) -> Result<LockAcquisition, SchemaError> {
    Ok(LockAcquisition {
        event_id: r.uuid()?,
        lock_id: r.string()?,
        mode: lock_mode(r)?,
        location: r.string()?,
        timestamp_ns: r.long()?,
        clock: named_clock(r, "clock")?,
        lock_type: r.string()?,
    })
}

/// The `{component: string, counter}` array field `name`.
fn named_clock(r: &mut Reader, name: &str) -> Result<Vec<(String, u64)>, SchemaError> {
    let mut entries = Vec::new();
    r.blocks(|r| {
        let at = |e: SchemaError| e.within(&format!("{name}[{}]", entries.len()));
        let component = r.string()?;
        let counter = unsigned(r, "counter").map_err(at)?;
        entries.push((component, counter));
        Ok(())
    })?;
    Ok(entries)
}

/// The fields of a `raceway.Access`, read in schema order (a struct literal evaluates its fields
/// in the order written).
fn access_fields(r: &mut Reader, names: &mut NamesCache) -> Result<(Access, u64), SchemaError> {
    let access = Access {
        event_id: r.uuid()?,
        trace_id: r.uuid()?,
        timestamp_ns: r.long()?,
        environment: names.shared.name(r.str()?),
        variable: names.shared.name(r.str()?),
        access_type: AccessType::ALL[r.enum_index(&"raceway.AccessType", AccessType::ALL.len())?],
        location: names.shared.name(r.str()?),
        value: r.string()?,
        old_value: r.optional(Reader::string)?,
        actor: {
            let (service, instance, thread) = (r.str()?, r.str()?, r.str()?);
            names.shared.actor(service, instance, thread)
        },
        clock: {
            let mut listed: Vec<&str> = Vec::new();
            r.blocks(|r| r.str().map(|name| listed.push(name)))?;
            clock(r, "clock", names.table(&listed))?
        },
        trusted_clock: r.boolean()?,
        locks: {
            let mut held: SmallVec<[(&str, LockMode); 4]> = SmallVec::new();
            r.blocks(|r| {
                let lock_id = r.str()?;
                held.push((lock_id, lock_mode(r)?));
                Ok(())
            })
            .map_err(|e| e.within("locks"))?;
            names.shared.lock_set(&held)
        },
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

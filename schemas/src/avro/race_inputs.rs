//! `raceway.UpdateSpan` and `raceway.LockOrderEdge` <-> model: the race-stage inputs that
//! travel next to the accesses.

use apache_avro::types::Value;

#[cfg(test)]
use super::access::{
    access_and_read_to_value, actor_to_value, held_lock_to_value, lock_mode_to_value,
};
use super::access::{access_from_value, actor, held_locks, lock_mode};
use super::clocks::{ClockVersion, NamesCache};
use super::value::Fields;
#[cfg(test)]
use super::value::{clock, field, nested, string, unsigned};
use crate::error::SchemaError;
use crate::lock_order::{LockAcquisition, LockOrderEdge};
use crate::update::{UpdateRead, UpdateSpan};

#[cfg(test)]
pub(crate) fn update_span_to_value(
    span: &UpdateSpan,
    trace_events: u64,
) -> Result<Value, SchemaError> {
    let read = &span.read;
    let (write, read_clock) =
        access_and_read_to_value(&span.write, trace_events, Some(&read.clock))
            .map_err(|e| e.within("write"))?;
    Ok(Value::Record(vec![
        field("write", write),
        field(
            "read",
            Value::Record(vec![
                field("event_id", Value::Uuid(read.event_id)),
                field("timestamp_ns", Value::Long(read.timestamp_ns)),
                field("location", string(&read.location)),
                field("value", string(&read.value)),
                field("clock", read_clock),
            ]),
        ),
        field(
            "held_throughout",
            Value::Array(
                span.held_throughout
                    .iter()
                    .map(held_lock_to_value)
                    .collect(),
            ),
        ),
        field("trace_events", unsigned("trace_events", trace_events)?),
    ]))
}

/// The span and its `trace_events`, from a record of schema `version` (see
/// [`access_from_value`]).
pub(crate) fn update_span_from_value(
    value: Value,
    version: ClockVersion,
    names: &mut NamesCache,
) -> Result<(UpdateSpan, u64), SchemaError> {
    let mut f = Fields::of(value)?;
    let (write, _) =
        access_from_value(f.take("write")?, version, names).map_err(|e| e.within("write"))?;
    let mut r = f.record("read")?;
    let read = (|| {
        Ok::<_, SchemaError>(UpdateRead {
            event_id: r.uuid("event_id")?,
            timestamp_ns: r.long("timestamp_ns")?,
            location: r.string("location")?,
            value: r.string("value")?,
            clock: NamesCache::read_clock(&mut r, version, &write.clock)?,
        })
    })()
    .map_err(|e| e.within("read"))?;
    let span = UpdateSpan {
        read,
        write,
        held_throughout: held_locks(&mut f, "held_throughout")?,
    };
    Ok((span, f.unsigned("trace_events")?))
}

#[cfg(test)]
fn acquisition_to_value(a: &LockAcquisition) -> Result<Value, SchemaError> {
    Ok(Value::Record(vec![
        field("event_id", Value::Uuid(a.event_id)),
        field("lock_id", string(&a.lock_id)),
        field("mode", lock_mode_to_value(a.mode)),
        field("location", string(&a.location)),
        field("timestamp_ns", Value::Long(a.timestamp_ns)),
        nested("clock", clock(&a.clock))?,
        field("lock_type", string(&a.lock_type)),
    ]))
}

fn acquisition(f: &mut Fields, name: &str) -> Result<LockAcquisition, SchemaError> {
    let mut a = f.record(name)?;
    (|| {
        Ok(LockAcquisition {
            event_id: a.uuid("event_id")?,
            lock_id: a.string("lock_id")?,
            mode: lock_mode(&mut a, "mode")?,
            location: a.string("location")?,
            timestamp_ns: a.long("timestamp_ns")?,
            clock: a.clock("clock")?,
            // Absent from records of the first schema version.
            lock_type: if a.has("lock_type") {
                a.string("lock_type")?
            } else {
                String::new()
            },
        })
    })()
    .map_err(|e: SchemaError| e.within(name))
}

#[cfg(test)]
pub(crate) fn lock_order_edge_to_value(
    edge: &LockOrderEdge,
    trace_events: u64,
) -> Result<Value, SchemaError> {
    Ok(Value::Record(vec![
        field("trace_id", Value::Uuid(edge.trace_id)),
        field("environment", string(&edge.environment)),
        field("actor", actor_to_value(&edge.actor)),
        nested("held", acquisition_to_value(&edge.held))?,
        nested("acquired", acquisition_to_value(&edge.acquired))?,
        nested("start_clock", clock(&edge.start_clock))?,
        field(
            "guards",
            Value::Array(edge.guards.iter().map(held_lock_to_value).collect()),
        ),
        field("trusted_clock", Value::Boolean(edge.trusted_clock)),
        field("trace_start_ns", Value::Long(edge.trace_start_ns)),
        field("trace_end_ns", Value::Long(edge.trace_end_ns)),
        field("trace_events", unsigned("trace_events", trace_events)?),
    ]))
}

/// The edge and its `trace_events`.
pub(crate) fn lock_order_edge_from_value(
    value: Value,
) -> Result<(LockOrderEdge, u64), SchemaError> {
    let mut f = Fields::of(value)?;
    let edge = LockOrderEdge {
        trace_id: f.uuid("trace_id")?,
        environment: f.string("environment")?,
        actor: actor(&mut f, "actor")?,
        held: acquisition(&mut f, "held")?,
        acquired: acquisition(&mut f, "acquired")?,
        start_clock: f.clock("start_clock")?,
        guards: held_locks(&mut f, "guards")?,
        trusted_clock: f.boolean("trusted_clock")?,
        trace_start_ns: f.long("trace_start_ns")?,
        trace_end_ns: f.long("trace_end_ns")?,
    };
    Ok((edge, f.unsigned("trace_events")?))
}

//! `raceway.Access` <-> model.

use apache_avro::types::Value;

#[cfg(test)]
use super::clocks::record_table;
use super::clocks::{ClockVersion, NamesCache};
use super::value::{access_type_from_symbol, Fields};
#[cfg(test)]
use super::value::{field, optional_string, string, unsigned};
use crate::access::{Access, HeldLock};
#[cfg(test)]
use crate::compact_clock::CompactClock;
use crate::error::SchemaError;
#[cfg(test)]
use crate::model::AccessType;
use crate::model::{ActorId, LockMode};

#[cfg(test)]
pub(crate) fn access_to_value(a: &Access, trace_events: u64) -> Result<Value, SchemaError> {
    access_and_read_to_value(a, trace_events, None).map(|(value, _)| value)
}

#[cfg(test)]
/// The access as a `raceway.Access` value, and when `read` is given (an update span's read
/// clock) that clock's entries over the same record table.
pub(crate) fn access_and_read_to_value(
    a: &Access,
    trace_events: u64,
    read: Option<&CompactClock>,
) -> Result<(Value, Value), SchemaError> {
    let clocks: Vec<&CompactClock> = std::iter::once(&a.clock).chain(read).collect();
    let table = record_table(&clocks).map_err(|e| e.within("clock"))?;
    let access_index = AccessType::ALL
        .iter()
        .position(|t| *t == a.access_type)
        .unwrap_or(0);
    let locks = a.locks.iter().map(held_lock_to_value).collect();
    let value = Value::Record(vec![
        field("event_id", Value::Uuid(a.event_id)),
        field("trace_id", Value::Uuid(a.trace_id)),
        field("timestamp_ns", Value::Long(a.timestamp_ns)),
        field("environment", string(&a.environment)),
        field("variable", string(&a.variable)),
        field(
            "access_type",
            Value::Enum(access_index as u32, a.access_type.as_str().to_string()),
        ),
        field("location", string(&a.location)),
        field("value", string(&a.value)),
        field("old_value", optional_string(a.old_value.as_ref())),
        field("actor", actor_to_value(&a.actor)),
        field("clock_components", table.names),
        field("clock", table.clocks[0].clone()),
        field("trusted_clock", Value::Boolean(a.trusted_clock)),
        field("locks", Value::Array(locks)),
        field("trace_start_ns", Value::Long(a.trace_start_ns)),
        field("trace_end_ns", Value::Long(a.trace_end_ns)),
        field("trace_events", unsigned("trace_events", trace_events)?),
    ]);
    let read = table
        .clocks
        .get(1)
        .cloned()
        .unwrap_or(Value::Array(Vec::new()));
    Ok((value, read))
}

#[cfg(test)]
/// `raceway.LockMode`.
pub(crate) fn lock_mode_to_value(mode: LockMode) -> Value {
    match mode {
        LockMode::Exclusive => Value::Enum(0, "Exclusive".to_string()),
        LockMode::Shared => Value::Enum(1, "Shared".to_string()),
    }
}

/// The `raceway.LockMode` field `name`.
pub(crate) fn lock_mode(f: &mut Fields, name: &str) -> Result<LockMode, SchemaError> {
    match f.symbol(name)?.as_str() {
        "Exclusive" => Ok(LockMode::Exclusive),
        "Shared" => Ok(LockMode::Shared),
        other => Err(SchemaError::field(
            name,
            format!("unknown lock mode {other:?}"),
        )),
    }
}

#[cfg(test)]
/// `raceway.HeldLock`.
pub(crate) fn held_lock_to_value(l: &HeldLock) -> Value {
    Value::Record(vec![
        field("lock_id", string(&l.lock_id)),
        field("mode", lock_mode_to_value(l.mode)),
    ])
}

/// The array-of-`raceway.HeldLock` field `name`.
pub(crate) fn held_locks(f: &mut Fields, name: &str) -> Result<Vec<HeldLock>, SchemaError> {
    fn held_lock(v: Value) -> Result<HeldLock, SchemaError> {
        let mut l = Fields::of(v)?;
        let lock_id = l.string("lock_id")?;
        let mode = lock_mode(&mut l, "mode")?;
        Ok(HeldLock { lock_id, mode })
    }
    f.array(name)?
        .into_iter()
        .enumerate()
        .map(|(i, v)| held_lock(v).map_err(|e| e.within(&format!("{name}[{i}]"))))
        .collect()
}

#[cfg(test)]
/// `raceway.ActorId`.
pub(crate) fn actor_to_value(actor: &ActorId) -> Value {
    Value::Record(vec![
        field("service", string(&actor.service)),
        field("instance", string(&actor.instance)),
        field("thread", string(&actor.thread)),
    ])
}

/// The `raceway.ActorId` field `name`.
pub(crate) fn actor(f: &mut Fields, name: &str) -> Result<ActorId, SchemaError> {
    let mut actor = f.record(name)?;
    Ok(ActorId {
        service: actor.string("service").map_err(|e| e.within(name))?,
        instance: actor.string("instance").map_err(|e| e.within(name))?,
        thread: actor.string("thread").map_err(|e| e.within(name))?,
    })
}

/// The access and its `trace_events`, from a record of schema `version`; clock tables equal to
/// the previous record's are shared through `names`.
pub(crate) fn access_from_value(
    value: Value,
    version: ClockVersion,
    names: &mut NamesCache,
) -> Result<(Access, u64), SchemaError> {
    let mut f = Fields::of(value)?;
    let event_id = f.uuid("event_id")?;
    let trace_id = f.uuid("trace_id")?;
    let timestamp_ns = f.long("timestamp_ns")?;
    let environment = names.shared.name(&f.string("environment")?);
    let variable = names.shared.name(&f.string("variable")?);
    let access_type = access_type_from_symbol("access_type", &f.symbol("access_type")?)?;
    let location = names.shared.name(&f.string("location")?);
    let value = f.string("value")?;
    let old_value = f.optional_string("old_value")?;
    let actor = names.shared.actor_of(&actor(&mut f, "actor")?);
    let clock = names.clock(&mut f, version)?;
    let trusted_clock = f.boolean("trusted_clock")?;
    let locks = names.shared.held_locks(&held_locks(&mut f, "locks")?);
    let access = Access {
        event_id,
        trace_id,
        timestamp_ns,
        environment,
        variable,
        access_type,
        location,
        value,
        old_value,
        actor,
        clock,
        trusted_clock,
        locks,
        trace_start_ns: f.long("trace_start_ns")?,
        trace_end_ns: f.long("trace_end_ns")?,
    };
    Ok((access, f.unsigned("trace_events")?))
}

//! `raceway.Access` <-> model.

use apache_avro::types::Value;

use super::event::access_type_from_symbol;
use super::value::{clock, field, optional_string, string, Fields};
use crate::access::{Access, HeldLock};
use crate::error::SchemaError;
use crate::model::{AccessType, ActorId, LockMode};

pub(crate) fn access_to_value(a: &Access) -> Result<Value, SchemaError> {
    let access_index = AccessType::ALL
        .iter()
        .position(|t| *t == a.access_type)
        .unwrap_or(0);
    let locks = a
        .locks
        .iter()
        .map(|l| {
            let mode = match l.mode {
                LockMode::Exclusive => Value::Enum(0, "Exclusive".to_string()),
                LockMode::Shared => Value::Enum(1, "Shared".to_string()),
            };
            Value::Record(vec![
                field("lock_id", string(&l.lock_id)),
                field("mode", mode),
            ])
        })
        .collect();
    Ok(Value::Record(vec![
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
        field(
            "actor",
            Value::Record(vec![
                field("service", string(&a.actor.service)),
                field("instance", string(&a.actor.instance)),
                field("thread", string(&a.actor.thread)),
            ]),
        ),
        field("clock", clock(&a.clock).map_err(|e| e.within("clock"))?),
        field("trusted_clock", Value::Boolean(a.trusted_clock)),
        field("locks", Value::Array(locks)),
        field("trace_start_ns", Value::Long(a.trace_start_ns)),
        field("trace_end_ns", Value::Long(a.trace_end_ns)),
    ]))
}

pub(crate) fn access_from_value(value: Value) -> Result<Access, SchemaError> {
    fn held_lock(v: Value) -> Result<HeldLock, SchemaError> {
        let mut l = Fields::of(v)?;
        let lock_id = l.string("lock_id")?;
        let mode = match l.symbol("mode")?.as_str() {
            "Exclusive" => LockMode::Exclusive,
            "Shared" => LockMode::Shared,
            other => {
                return Err(SchemaError::field(
                    "mode",
                    format!("unknown lock mode {other:?}"),
                ))
            }
        };
        Ok(HeldLock { lock_id, mode })
    }

    let mut f = Fields::of(value)?;
    let event_id = f.uuid("event_id")?;
    let trace_id = f.uuid("trace_id")?;
    let timestamp_ns = f.long("timestamp_ns")?;
    let environment = f.string("environment")?;
    let variable = f.string("variable")?;
    let access_type = access_type_from_symbol("access_type", &f.symbol("access_type")?)?;
    let location = f.string("location")?;
    let value = f.string("value")?;
    let old_value = f.optional_string("old_value")?;
    let mut actor = f.record("actor")?;
    let actor = ActorId {
        service: actor.string("service").map_err(|e| e.within("actor"))?,
        instance: actor.string("instance").map_err(|e| e.within("actor"))?,
        thread: actor.string("thread").map_err(|e| e.within("actor"))?,
    };
    let clock = f.clock("clock")?;
    let trusted_clock = f.boolean("trusted_clock")?;
    let locks = f
        .array("locks")?
        .into_iter()
        .enumerate()
        .map(|(i, v)| held_lock(v).map_err(|e| e.within(&format!("locks[{i}]"))))
        .collect::<Result<_, _>>()?;
    Ok(Access {
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
    })
}

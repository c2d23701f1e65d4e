//! Avro encoding of [`EventBatch`] records (topic `raceway.events`) and of the race-stage inputs
//! [`Access`], [`UpdateSpan`] and [`LockOrderEdge`] (all three on topic `raceway.accesses`, alone
//! or as members of a `raceway.RaceInputBatch` record, told apart by their schema id: see
//! [`RaceInputDecoder::decode_all`]), Confluent-framed.
//!
//! The `.avsc` files under `schemas/avro/` are the source of truth; they are compiled into the
//! crate and parsed once. `kind` is a true Avro union of one record per [`crate::EventKind`]
//! variant, which apache-avro's serde mapping of enums does not produce, so the model is converted
//! by hand. Event batches, the bulk of the traffic, are read and written straight from the model
//! (`event_read.rs`, `event_write.rs`), and so are the race-stage inputs (`race_read.rs`,
//! `race_write.rs`). The schema-driven strict codec in `binary.rs`, over
//! [`apache_avro::types::Value`] (`access.rs`, `race_inputs.rs`), decodes the older schema
//! versions and is the reference the tests hold the direct codecs to (`event.rs`, the same
//! conversion of events through values, and the race inputs' value encoders are kept for tests
//! only). Both read and write through the primitives of `wire.rs`.
//!
//! Encoding conventions: UUIDs are strings with `logicalType: uuid`, timestamps are longs in
//! nanoseconds since the epoch, unsigned model fields are Avro longs (a value above `i64::MAX`
//! is an encode error, a negative one a decode error), values of arbitrary JSON are strings
//! holding JSON text.

mod access;
mod binary;
mod clocks;
#[cfg(test)]
mod event;
mod event_read;
mod event_write;
mod race_batch;
mod race_inputs;
mod race_read;
mod race_write;
mod split;
mod value;
mod wire;

use std::sync::LazyLock;

use apache_avro::schema::ResolvedSchema;
use apache_avro::Schema;

use crate::access::Access;
use crate::error::SchemaError;
use crate::framing::{
    frame, unframe, unframe_expecting, ACCESS_SCHEMA_ID, ACCESS_V1_SCHEMA_ID,
    EVENT_BATCH_SCHEMA_ID, LOCK_ORDER_EDGE_SCHEMA_ID, LOCK_ORDER_EDGE_V1_SCHEMA_ID,
    RACE_INPUT_BATCH_SCHEMA_ID, UPDATE_SPAN_SCHEMA_ID, UPDATE_SPAN_V1_SCHEMA_ID,
};
use crate::lock_order::LockOrderEdge;
use crate::model::EventBatch;
use crate::update::UpdateSpan;
use binary::Names;
use clocks::{ClockVersion, NamesCache};
pub use race_batch::{
    encode_race_input_batches, encode_race_member, EncodedRaceMember, RaceInputRef,
};
pub use split::{encode_event_batch_split, encode_partition_batch_split, SplitError};

/// Text of `avro/event.avsc`: the record `raceway.Event`.
pub const EVENT_AVSC: &str = include_str!("../../avro/event.avsc");
/// Text of `avro/event_batch.avsc`: the record `raceway.EventBatch`, which refers to
/// `raceway.Event` by name (see [`event_batch_schema`] for the self-contained form).
pub const EVENT_BATCH_AVSC: &str = include_str!("../../avro/event_batch.avsc");
/// Text of `avro/access.avsc`: the record `raceway.Access` (self-contained).
pub const ACCESS_AVSC: &str = include_str!("../../avro/access.avsc");
/// Text of `avro/access.v1.avsc`: the first version of `raceway.Access` (schema id
/// [`ACCESS_V1_SCHEMA_ID`], clocks as name and counter pairs), decoded but no longer written.
pub const ACCESS_V1_AVSC: &str = include_str!("../../avro/access.v1.avsc");
/// Text of `avro/update_span.avsc`: the record `raceway.UpdateSpan`, which refers to
/// `raceway.Access` by name (see [`update_span_schema`] for the self-contained form).
pub const UPDATE_SPAN_AVSC: &str = include_str!("../../avro/update_span.avsc");
/// Text of `avro/update_span.v1.avsc`: the first version of `raceway.UpdateSpan` (schema id
/// [`UPDATE_SPAN_V1_SCHEMA_ID`], over the first `raceway.Access`), decoded, no longer written.
pub const UPDATE_SPAN_V1_AVSC: &str = include_str!("../../avro/update_span.v1.avsc");
/// Text of `avro/lock_order_edge.avsc`: the record `raceway.LockOrderEdge` (self-contained).
pub const LOCK_ORDER_EDGE_AVSC: &str = include_str!("../../avro/lock_order_edge.avsc");
/// Text of `avro/lock_order_edge.v1.avsc`: the first version of `raceway.LockOrderEdge`
/// (schema id [`LOCK_ORDER_EDGE_V1_SCHEMA_ID`]), decoded but no longer written.
pub const LOCK_ORDER_EDGE_V1_AVSC: &str = include_str!("../../avro/lock_order_edge.v1.avsc");
/// Text of `avro/race_input_batch.avsc`: the record `raceway.RaceInputBatch`, which refers to
/// `raceway.Access`, `raceway.UpdateSpan` and `raceway.LockOrderEdge` by name (see
/// [`race_input_batch_schema`] for the self-contained form).
pub const RACE_INPUT_BATCH_AVSC: &str = include_str!("../../avro/race_input_batch.avsc");

/// A parsed schema with its named types, leaked once so that both live for the whole process.
struct Loaded {
    schema: &'static Schema,
    names: Names,
}

impl Loaded {
    /// Parses a schema from JSON. Our own `.avsc` files are compiled in and covered by tests, so
    /// a failure here is a build defect, not bad input: panicking at first use is right.
    fn parse(json: &serde_json::Value, what: &str) -> Loaded {
        let schema =
            Schema::parse(json).unwrap_or_else(|e| panic!("{what} is not valid Avro: {e}"));
        let schema: &'static Schema = Box::leak(Box::new(schema));
        let names = ResolvedSchema::try_from(schema)
            .unwrap_or_else(|e| panic!("{what} has unresolved names: {e}"))
            .get_names()
            .clone();
        Loaded { schema, names }
    }
}

/// An `.avsc` file: its name (for messages) and its text.
type Avsc = (&'static str, &'static str);

const EVENT_FILE: Avsc = ("event.avsc", EVENT_AVSC);
const EVENT_BATCH_FILE: Avsc = ("event_batch.avsc", EVENT_BATCH_AVSC);
const ACCESS_FILE: Avsc = ("access.avsc", ACCESS_AVSC);
const UPDATE_SPAN_FILE: Avsc = ("update_span.avsc", UPDATE_SPAN_AVSC);
const ACCESS_V1_FILE: Avsc = ("access.v1.avsc", ACCESS_V1_AVSC);
const UPDATE_SPAN_V1_FILE: Avsc = ("update_span.v1.avsc", UPDATE_SPAN_V1_AVSC);
const LOCK_ORDER_EDGE_FILE: Avsc = ("lock_order_edge.avsc", LOCK_ORDER_EDGE_AVSC);
const LOCK_ORDER_EDGE_V1_FILE: Avsc = ("lock_order_edge.v1.avsc", LOCK_ORDER_EDGE_V1_AVSC);
const RACE_INPUT_BATCH_FILE: Avsc = ("race_input_batch.avsc", RACE_INPUT_BATCH_AVSC);

impl Loaded {
    /// A self-contained schema file.
    fn file((name, text): Avsc) -> Loaded {
        Loaded::parse(&avsc_json(text, name), name)
    }

    /// Schema file `outer` with the named type `type_name`, defined in file `inner`, inlined
    /// where `outer` refers to it: complete on its own, what a schema registry would store and
    /// what other tools can be handed.
    fn inlining(outer: Avsc, inner: Avsc, type_name: &str) -> Loaded {
        let mut schema = avsc_json(outer.1, outer.0);
        let mut inlined = Some(avsc_json(inner.1, inner.0));
        inline_named_type(&mut schema, type_name, &mut inlined);
        assert!(
            inlined.is_none(),
            "{} does not refer to {type_name}",
            outer.0
        );
        Loaded::parse(&schema, &format!("{} + {}", outer.0, inner.0))
    }

    /// Schema file `outer` with each `(file, type name)` of `inner` inlined in turn where `outer`
    /// refers to it; a named type an earlier file already defined (the three race inputs each
    /// define `raceway.ActorId`, for one) becomes a reference to that definition.
    fn inlining_all(outer: Avsc, inner: &[(Avsc, &str)]) -> Loaded {
        let mut schema = avsc_json(outer.1, outer.0);
        let mut defined = Vec::new();
        for (file, type_name) in inner {
            let mut definition = avsc_json(file.1, file.0);
            refer_to_defined(&mut definition, &mut defined);
            let mut inlined = Some(definition);
            inline_named_type(&mut schema, type_name, &mut inlined);
            assert!(
                inlined.is_none(),
                "{} does not refer to {type_name}",
                outer.0
            );
        }
        Loaded::parse(&schema, outer.0)
    }
}

/// Replaces each definition of a named type listed in `defined` by a reference to it, and adds
/// the names this schema defines to `defined` (all our types are in namespace `raceway`).
fn refer_to_defined(json: &mut serde_json::Value, defined: &mut Vec<String>) {
    match json {
        serde_json::Value::Array(items) => {
            for item in items {
                refer_to_defined(item, defined);
            }
        }
        serde_json::Value::Object(map) => {
            let is_named = matches!(map.get("type"), Some(serde_json::Value::String(t))
                if t == "record" || t == "enum");
            if let (true, Some(serde_json::Value::String(name))) = (is_named, map.get("name")) {
                let full = if name.contains('.') {
                    name.clone()
                } else {
                    format!("raceway.{name}")
                };
                if defined.contains(&full) {
                    *json = serde_json::Value::String(full);
                    return;
                }
                defined.push(full);
            }
            for key in ["type", "items", "values", "fields"] {
                if let Some(v) = map.get_mut(key) {
                    refer_to_defined(v, defined);
                }
            }
        }
        _ => {}
    }
}

fn avsc_json(text: &str, what: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{what} is not JSON: {e}"))
}

static EVENT: LazyLock<Loaded> = LazyLock::new(|| Loaded::file(EVENT_FILE));
/// `raceway.EventBatch` with `raceway.Event` inlined.
static EVENT_BATCH: LazyLock<Loaded> =
    LazyLock::new(|| Loaded::inlining(EVENT_BATCH_FILE, EVENT_FILE, "raceway.Event"));
static ACCESS: LazyLock<Loaded> = LazyLock::new(|| Loaded::file(ACCESS_FILE));
/// `raceway.UpdateSpan` with `raceway.Access` inlined.
static UPDATE_SPAN: LazyLock<Loaded> =
    LazyLock::new(|| Loaded::inlining(UPDATE_SPAN_FILE, ACCESS_FILE, "raceway.Access"));
static ACCESS_V1: LazyLock<Loaded> = LazyLock::new(|| Loaded::file(ACCESS_V1_FILE));
static UPDATE_SPAN_V1: LazyLock<Loaded> =
    LazyLock::new(|| Loaded::inlining(UPDATE_SPAN_V1_FILE, ACCESS_V1_FILE, "raceway.Access"));
static LOCK_ORDER_EDGE: LazyLock<Loaded> = LazyLock::new(|| Loaded::file(LOCK_ORDER_EDGE_FILE));
static LOCK_ORDER_EDGE_V1: LazyLock<Loaded> =
    LazyLock::new(|| Loaded::file(LOCK_ORDER_EDGE_V1_FILE));
/// `raceway.RaceInputBatch` with its three member records inlined.
static RACE_INPUT_BATCH: LazyLock<Loaded> = LazyLock::new(|| {
    Loaded::inlining_all(
        RACE_INPUT_BATCH_FILE,
        &[
            (ACCESS_FILE, "raceway.Access"),
            (UPDATE_SPAN_FILE, "raceway.UpdateSpan"),
            (LOCK_ORDER_EDGE_FILE, "raceway.LockOrderEdge"),
        ],
    )
});

/// Replaces the first reference to `name` by its definition (a named type is defined once, then
/// referred to by name).
fn inline_named_type(
    json: &mut serde_json::Value,
    name: &str,
    definition: &mut Option<serde_json::Value>,
) {
    match json {
        serde_json::Value::String(s) if s == name => {
            if let Some(def) = definition.take() {
                *json = def;
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                inline_named_type(item, name, definition);
            }
        }
        serde_json::Value::Object(map) => {
            // Only type positions can refer to a type; `name`, `doc` etc. are strings too.
            for key in ["type", "items", "values", "fields"] {
                if let Some(v) = map.get_mut(key) {
                    inline_named_type(v, name, definition);
                }
            }
        }
        _ => {}
    }
}

/// The parsed `raceway.Event` schema.
pub fn event_schema() -> &'static Schema {
    EVENT.schema
}

/// The parsed `raceway.EventBatch` schema, complete (with `raceway.Event` inlined).
pub fn event_batch_schema() -> &'static Schema {
    EVENT_BATCH.schema
}

/// The parsed `raceway.Access` schema.
pub fn access_schema() -> &'static Schema {
    ACCESS.schema
}

/// Encodes a batch as a Confluent-framed `raceway.EventBatch` record (schema id
/// [`EVENT_BATCH_SCHEMA_ID`]), ready to produce to `raceway.events` with key = trace id.
///
/// Fails when an event belongs to another trace than the batch (a batch is one trace's events,
/// keyed by its trace id) or when an unsigned value exceeds an Avro long.
pub fn encode_event_batch(batch: &EventBatch) -> Result<Vec<u8>, SchemaError> {
    for (i, e) in batch.events.iter().enumerate() {
        if e.trace_id != batch.trace_id {
            return Err(SchemaError::field(
                format!("events[{i}].trace_id"),
                format!(
                    "event belongs to trace {}, but the batch is for trace {}",
                    e.trace_id, batch.trace_id
                ),
            ));
        }
    }
    encode_partition_batch(batch)
}

/// Encodes a batch whose events may belong to several traces, all placed in the partition of
/// the batch's `trace_id` (the record's key): the gateway's record of one request's traces of
/// one partition. Readers take each event's own trace id; every event of a trace must still
/// travel under keys of that trace's partition, or the trace would be read in two places.
pub fn encode_partition_batch(batch: &EventBatch) -> Result<Vec<u8>, SchemaError> {
    let mut out = frame(EVENT_BATCH_SCHEMA_ID, &[]);
    event_write::batch(batch, &mut out)?;
    Ok(out)
}

/// Decodes a Confluent-framed `raceway.EventBatch` record; the frame must carry
/// [`EVENT_BATCH_SCHEMA_ID`]. Never panics on bad input: it returns an error naming the byte
/// offset or field that is wrong.
pub fn decode_event_batch(bytes: &[u8]) -> Result<EventBatch, SchemaError> {
    event_read::batch(unframe_expecting(bytes, EVENT_BATCH_SCHEMA_ID)?)
}

/// Encodes an access as a Confluent-framed `raceway.Access` record (schema id
/// [`ACCESS_SCHEMA_ID`]), for topic `raceway.accesses` with key [`Access::partition_key`].
/// `trace_events` is how many events its trace had when the access was derived (see
/// [`RaceRecord::trace_events`]).
pub fn encode_access(access: &Access, trace_events: u64) -> Result<Vec<u8>, SchemaError> {
    let mut out = frame(ACCESS_SCHEMA_ID, &[]);
    race_write::access(access, trace_events, &mut out)?;
    Ok(out)
}

/// Decodes a Confluent-framed `raceway.Access` record of either version ([`ACCESS_SCHEMA_ID`]
/// or [`ACCESS_V1_SCHEMA_ID`]); any other schema id is an error naming the current one.
pub fn decode_access(bytes: &[u8]) -> Result<Access, SchemaError> {
    let (id, datum) = unframe(bytes)?;
    let (loaded, version) = match id {
        ACCESS_V1_SCHEMA_ID => (&*ACCESS_V1, ClockVersion::Pairs),
        _ => (&*ACCESS, ClockVersion::Indexed),
    };
    unframe_expecting(
        bytes,
        if id == ACCESS_V1_SCHEMA_ID {
            id
        } else {
            ACCESS_SCHEMA_ID
        },
    )?;
    let value = binary::decode(datum, loaded.schema, &loaded.names, "raceway.Access")?;
    access::access_from_value(value, version, &mut NamesCache::default()).map(|(a, _)| a)
}

/// The parsed `raceway.UpdateSpan` schema, complete (with `raceway.Access` inlined).
pub fn update_span_schema() -> &'static Schema {
    UPDATE_SPAN.schema
}

/// The parsed `raceway.LockOrderEdge` schema.
pub fn lock_order_edge_schema() -> &'static Schema {
    LOCK_ORDER_EDGE.schema
}

/// The parsed `raceway.RaceInputBatch` schema, complete (its member records inlined).
pub fn race_input_batch_schema() -> &'static Schema {
    RACE_INPUT_BATCH.schema
}

/// Encodes an update span as a Confluent-framed `raceway.UpdateSpan` record (schema id
/// [`UPDATE_SPAN_SCHEMA_ID`]), for topic `raceway.accesses` with key
/// [`UpdateSpan::partition_key`] (the same as its write's access). `trace_events` as for
/// [`encode_access`].
pub fn encode_update_span(span: &UpdateSpan, trace_events: u64) -> Result<Vec<u8>, SchemaError> {
    let mut out = frame(UPDATE_SPAN_SCHEMA_ID, &[]);
    race_write::update_span(span, trace_events, &mut out)?;
    Ok(out)
}

/// Encodes a lock-order edge as a Confluent-framed `raceway.LockOrderEdge` record (schema id
/// [`LOCK_ORDER_EDGE_SCHEMA_ID`]), for topic `raceway.accesses` with key
/// [`LockOrderEdge::partition_key`]. `trace_events` as for [`encode_access`].
pub fn encode_lock_order_edge(
    edge: &LockOrderEdge,
    trace_events: u64,
) -> Result<Vec<u8>, SchemaError> {
    let mut out = frame(LOCK_ORDER_EDGE_SCHEMA_ID, &[]);
    race_write::lock_order_edge(edge, trace_events, &mut out)?;
    Ok(out)
}

/// One record of topic `raceway.accesses`: what the trace stage forwards to the race stage.
#[derive(Debug, Clone, PartialEq)]
pub enum RaceInput {
    /// A shared-state access (schema id [`ACCESS_SCHEMA_ID`]).
    Access(Access),
    /// A read-modify-write (schema id [`UPDATE_SPAN_SCHEMA_ID`]).
    Update(UpdateSpan),
    /// A nested lock acquisition (schema id [`LOCK_ORDER_EDGE_SCHEMA_ID`]).
    LockEdge(LockOrderEdge),
}

/// A decoded record of topic `raceway.accesses`.
#[derive(Debug, Clone, PartialEq)]
pub struct RaceRecord {
    /// The input.
    pub input: RaceInput,
    /// How many events the input's trace had when the trace stage derived the input. Events are
    /// only ever added to a trace, so a higher count means a re-analysis after late events, whose
    /// inputs replace the trace's older ones; 0 when unknown.
    pub trace_events: u64,
}

/// Decodes any record of topic `raceway.accesses`, dispatching on the frame's schema id; an
/// unknown id is an error naming it. Shares no clock tables between calls: a consumer decoding
/// many records uses one [`RaceInputDecoder`].
pub fn decode_race_input(bytes: &[u8]) -> Result<RaceRecord, SchemaError> {
    RaceInputDecoder::default().decode(bytes)
}

/// Decodes records of topic `raceway.accesses` one after another, sharing the clock component
/// tables of successive records that list the same names (see [`crate::compact_clock`]) and
/// one copy of every environment, variable, location, actor and lock set it has decoded (see
/// [`crate::names`]). Keep one for as long as the consumer runs: its tables are bounded.
#[derive(Debug, Default)]
pub struct RaceInputDecoder {
    names: NamesCache,
}

impl RaceInputDecoder {
    /// Decodes one record of any schema id of the topic into the inputs it holds: the members of
    /// a `raceway.RaceInputBatch` ([`RACE_INPUT_BATCH_SCHEMA_ID`], what the trace stage writes),
    /// in order, or the one input of a single record (written before batches).
    pub fn decode_all(&mut self, bytes: &[u8]) -> Result<Vec<RaceRecord>, SchemaError> {
        match unframe(bytes)? {
            (RACE_INPUT_BATCH_SCHEMA_ID, datum) => race_read::batch(datum, &mut self.names),
            _ => self.decode(bytes).map(|record| vec![record]),
        }
    }

    /// Decodes one record holding one input, as [`decode_race_input`] does; a batch record
    /// must hold exactly one member.
    pub fn decode(&mut self, bytes: &[u8]) -> Result<RaceRecord, SchemaError> {
        let (id, datum) = unframe(bytes)?;
        let names = &mut self.names;
        // The current accesses and spans, nearly every record, are read straight into the model
        // (`race_read.rs`); the first versions and lock-order edges through the value tree.
        let (input, trace_events) = match id {
            ACCESS_SCHEMA_ID => {
                let (access, n) = race_read::access(datum, names)?;
                (RaceInput::Access(access), n)
            }
            UPDATE_SPAN_SCHEMA_ID => {
                let (span, n) = race_read::update_span(datum, names)?;
                (RaceInput::Update(span), n)
            }
            ACCESS_V1_SCHEMA_ID => {
                let value =
                    binary::decode(datum, ACCESS_V1.schema, &ACCESS_V1.names, "raceway.Access")?;
                let (access, n) = access::access_from_value(value, ClockVersion::Pairs, names)?;
                (RaceInput::Access(access), n)
            }
            UPDATE_SPAN_V1_SCHEMA_ID => {
                let loaded = &*UPDATE_SPAN_V1;
                let value =
                    binary::decode(datum, loaded.schema, &loaded.names, "raceway.UpdateSpan")?;
                let (span, n) =
                    race_inputs::update_span_from_value(value, ClockVersion::Pairs, names)?;
                (RaceInput::Update(span), n)
            }
            LOCK_ORDER_EDGE_SCHEMA_ID | LOCK_ORDER_EDGE_V1_SCHEMA_ID => {
                let loaded = if id == LOCK_ORDER_EDGE_SCHEMA_ID {
                    &*LOCK_ORDER_EDGE
                } else {
                    &*LOCK_ORDER_EDGE_V1
                };
                let value =
                    binary::decode(datum, loaded.schema, &loaded.names, "raceway.LockOrderEdge")?;
                let (edge, n) = race_inputs::lock_order_edge_from_value(value)?;
                (RaceInput::LockEdge(edge), n)
            }
            RACE_INPUT_BATCH_SCHEMA_ID => {
                let mut members = race_read::batch(datum, names)?;
                let count = members.len();
                return match members.pop() {
                    Some(record) if count == 1 => Ok(record),
                    _ => Err(SchemaError::field(
                        "members",
                        format!("{count} inputs where one was expected"),
                    )),
                };
            }
            found => return Err(SchemaError::NotARaceInput { found }),
        };
        Ok(RaceRecord {
            input,
            trace_events,
        })
    }
}

#[cfg(test)]
#[path = "../../tests/common/mod.rs"]
mod common;
#[cfg(test)]
mod event_codec_tests;
#[cfg(test)]
mod race_codec_tests;
#[cfg(test)]
mod race_write_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod verdicts;

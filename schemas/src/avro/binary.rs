//! A strict Avro binary codec for [`apache_avro::types::Value`], used instead of apache-avro's
//! own `to_avro_datum` / `from_avro_datum`.
//!
//! Why not apache-avro's (0.21) binary codec:
//! - its decoder turns end-of-input inside a string, boolean or union index into `Null` instead
//!   of an error, so some truncated records decode "successfully";
//! - it reserves room for an array's announced item count before reading the items, so one
//!   corrupt length (up to 512 Mi items by default) can abort the process on allocation failure;
//! - it writes maps in `HashMap` order, so the same event encodes to different bytes each run;
//! - its encoder's validation reports only "value does not match schema", without saying where.
//!
//! Here every length and count is checked against the bytes actually left, trailing bytes are
//! an error, maps are written sorted by key, and errors carry a byte offset or a field path.
//! Only what the Raceway schemas use is supported (no bytes, fixed, float, double, or logical
//! types other than `uuid`). Compatibility with other Avro implementations is checked by tests
//! against apache-avro's decoder and against Python's fastavro.

use std::collections::HashMap;

use super::wire::Reader;
#[cfg(test)]
use super::wire::{write_long, write_str};
use crate::error::SchemaError;
use apache_avro::schema::{Name, Namespace, RecordSchema, Schema};
use apache_avro::types::Value;

/// Named types of a schema by full name, to resolve `Schema::Ref`.
pub(crate) type Names = HashMap<Name, &'static Schema>;

/// The namespace that names inside a record are resolved in.
fn record_namespace(record: &RecordSchema, enclosing: &Namespace) -> Namespace {
    record.name.fully_qualified_name(enclosing).namespace
}

fn resolve<'a>(name: &Name, names: &'a Names, ns: &Namespace) -> Option<(&'a Schema, Namespace)> {
    let full = name.fully_qualified_name(ns);
    names.get(&full).map(|schema| (*schema, full.namespace))
}

#[cfg(test)]
/// Appends the Avro binary encoding of `value` (which must follow `schema`) to `out`.
///
/// A mismatch between value and schema is a bug in the model conversion, reported as a
/// [`SchemaError::Field`] naming the field.
pub(crate) fn encode(
    value: &Value,
    schema: &Schema,
    names: &Names,
    ns: &Namespace,
    out: &mut Vec<u8>,
) -> Result<(), SchemaError> {
    match (schema, value) {
        (Schema::Null, Value::Null) => {}
        (Schema::Boolean, Value::Boolean(b)) => out.push(u8::from(*b)),
        (Schema::Int, Value::Int(i)) => write_long(i64::from(*i), out),
        (Schema::Long, Value::Long(i)) => write_long(*i, out),
        (Schema::String, Value::String(s)) => write_str(s, out),
        (Schema::Uuid, Value::Uuid(u)) => write_str(&u.hyphenated().to_string(), out),
        (Schema::Enum(e), Value::Enum(index, symbol)) => {
            if e.symbols.get(*index as usize) != Some(symbol) {
                return Err(mismatch(
                    format!("enum symbol {symbol} at index {index}"),
                    schema,
                ));
            }
            write_long(i64::from(*index), out);
        }
        (Schema::Union(u), Value::Union(index, inner)) => {
            let Some(variant) = u.variants().get(*index as usize) else {
                return Err(mismatch(format!("union index {index}"), schema));
            };
            write_long(i64::from(*index), out);
            encode(inner, variant, names, ns, out)?;
        }
        (Schema::Array(a), Value::Array(items)) => {
            if !items.is_empty() {
                write_long(items.len() as i64, out);
                for (i, item) in items.iter().enumerate() {
                    encode(item, &a.items, names, ns, out)
                        .map_err(|e| e.within(&format!("[{i}]")))?;
                }
            }
            write_long(0, out);
        }
        (Schema::Map(m), Value::Map(entries)) => {
            // Sorted, so that equal maps always encode to equal bytes.
            let mut sorted: Vec<_> = entries.iter().collect();
            sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
            if !sorted.is_empty() {
                write_long(sorted.len() as i64, out);
                for (key, item) in sorted {
                    write_str(key, out);
                    encode(item, &m.types, names, ns, out).map_err(|e| e.within(key))?;
                }
            }
            write_long(0, out);
        }
        (Schema::Record(r), Value::Record(fields)) => {
            let inner_ns = record_namespace(r, ns);
            for (i, field) in r.fields.iter().enumerate() {
                // Our converters emit fields in schema order; fall back to a search by name.
                let found = match fields.get(i) {
                    Some((name, v)) if *name == field.name => Some(v),
                    _ => fields
                        .iter()
                        .find(|(name, _)| *name == field.name)
                        .map(|(_, v)| v),
                };
                let Some(v) = found else {
                    return Err(SchemaError::field(
                        &field.name,
                        "missing in the encoded value",
                    ));
                };
                encode(v, &field.schema, names, &inner_ns, out)
                    .map_err(|e| e.within(&field.name))?;
            }
        }
        (Schema::Ref { name }, _) => {
            let Some((resolved, inner_ns)) = resolve(name, names, ns) else {
                return Err(mismatch(format!("unresolved reference {name}"), schema));
            };
            encode(value, resolved, names, &inner_ns, out)?;
        }
        _ => return Err(mismatch(format!("{value:?}"), schema)),
    }
    Ok(())
}

#[cfg(test)]
fn mismatch(what: String, schema: &Schema) -> SchemaError {
    let mut what = what;
    what.truncate(80);
    SchemaError::field(
        "",
        format!("{what} does not match schema {schema:?} (bug in raceway-schemas)"),
    )
}
/// Decodes one datum of `schema` from `data`, which must hold exactly that datum.
///
/// `schema_name` only labels errors (e.g. `raceway.EventBatch`).
pub(crate) fn decode(
    data: &[u8],
    schema: &Schema,
    names: &Names,
    schema_name: &'static str,
) -> Result<Value, SchemaError> {
    let mut reader = Reader::new(data, schema_name);
    let value = reader.value(schema, names, &None)?;
    reader.finish()?;
    Ok(value)
}

impl Reader<'_> {
    fn value(
        &mut self,
        schema: &Schema,
        names: &Names,
        ns: &Namespace,
    ) -> Result<Value, SchemaError> {
        Ok(match schema {
            Schema::Null => Value::Null,
            Schema::Boolean => Value::Boolean(self.boolean()?),
            Schema::Int => Value::Int(self.int()?),
            Schema::Long => Value::Long(self.long()?),
            Schema::String => Value::String(self.string()?),
            Schema::Uuid => Value::Uuid(self.uuid()?),
            Schema::Enum(e) => {
                let index = self.enum_index(&e.name, e.symbols.len())?;
                Value::Enum(index as u32, e.symbols[index].clone())
            }
            Schema::Union(u) => {
                let variants = u.variants();
                let index = self.union_index(variants.len())?;
                Value::Union(
                    index as u32,
                    Box::new(self.value(&variants[index], names, ns)?),
                )
            }
            Schema::Array(a) => {
                let mut items = Vec::new();
                self.blocks(|r| r.value(&a.items, names, ns).map(|v| items.push(v)))?;
                Value::Array(items)
            }
            Schema::Map(m) => {
                let mut entries = HashMap::new();
                self.blocks(|r| {
                    let key = r.string()?;
                    entries.insert(key, r.value(&m.types, names, ns)?);
                    Ok(())
                })?;
                Value::Map(entries)
            }
            Schema::Record(r) => {
                let inner_ns = record_namespace(r, ns);
                let mut fields = Vec::with_capacity(r.fields.len());
                for field in &r.fields {
                    let v = self.value(&field.schema, names, &inner_ns)?;
                    fields.push((field.name.clone(), v));
                }
                Value::Record(fields)
            }
            Schema::Ref { name } => {
                let Some((resolved, inner_ns)) = resolve(name, names, ns) else {
                    return Err(self.error(format!("unresolved schema reference {name}")));
                };
                self.value(resolved, names, &inner_ns)?
            }
            other => {
                return Err(self.error(format!("schema type {other:?} is not supported here")));
            }
        })
    }
}

//! Small helpers to build and take apart [`Value`]s, with field paths in errors.

use apache_avro::types::Value;
use uuid::Uuid;

use crate::error::SchemaError;
use crate::model::AccessType;

#[cfg(test)]
/// A record field, as [`Value::Record`] holds it.
pub(crate) fn field(name: &str, value: Value) -> (String, Value) {
    (name.to_string(), value)
}

#[cfg(test)]
/// A record field made by a fallible encoder; its error names the field (`name.inner`).
pub(crate) fn nested(
    name: &str,
    value: Result<Value, SchemaError>,
) -> Result<(String, Value), SchemaError> {
    Ok(field(name, value.map_err(|e| e.within(name))?))
}

#[cfg(test)]
/// A string value.
pub(crate) fn string(s: &str) -> Value {
    Value::String(s.to_string())
}

#[cfg(test)]
/// An optional value as the `["null", T]` union.
pub(crate) fn optional(value: Option<Value>) -> Value {
    match value {
        None => Value::Union(0, Box::new(Value::Null)),
        Some(v) => Value::Union(1, Box::new(v)),
    }
}

#[cfg(test)]
/// An optional string as the `["null", "string"]` union.
pub(crate) fn optional_string(s: Option<&String>) -> Value {
    optional(s.map(|s| string(s)))
}

#[cfg(test)]
/// An unsigned model value as an Avro long; above `i64::MAX` it cannot be represented.
pub(crate) fn unsigned(name: &str, n: u64) -> Result<Value, SchemaError> {
    i64::try_from(n)
        .map(Value::Long)
        .map_err(|_| SchemaError::field(name, format!("{n} does not fit an Avro long")))
}

/// An array of strings.
#[cfg(test)]
pub(crate) fn strings(items: &[String]) -> Value {
    Value::Array(items.iter().map(|s| string(s)).collect())
}

#[cfg(test)]
/// A vector clock as an array of `{component, counter}` records.
pub(crate) fn clock(entries: &[(String, u64)]) -> Result<Value, SchemaError> {
    let mut items = Vec::with_capacity(entries.len());
    for (i, (component, counter)) in entries.iter().enumerate() {
        items.push(Value::Record(vec![
            field("component", string(component)),
            field(
                "counter",
                unsigned("counter", *counter).map_err(|e| e.within(&format!("[{i}]")))?,
            ),
        ]));
    }
    Ok(Value::Array(items))
}

/// Short name of a value's type, for error messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Boolean(_) => "boolean",
        Value::Int(_) => "int",
        Value::Long(_) => "long",
        Value::String(_) => "string",
        Value::Uuid(_) => "uuid",
        Value::Enum(..) => "enum",
        Value::Union(..) => "union",
        Value::Array(_) => "array",
        Value::Map(_) => "map",
        Value::Record(_) => "record",
        _ => "other value",
    }
}

fn unexpected(name: &str, expected: &str, got: &Value) -> SchemaError {
    SchemaError::field(name, format!("expected {expected}, got {}", kind(got)))
}

/// The fields of a decoded record, taken out one by one by name.
///
/// The decoder produced the record from the schema, so a type mismatch here means the schema and
/// this conversion disagree; it is still an error, never a panic.
pub(crate) struct Fields(Vec<(String, Value)>);

impl Fields {
    /// The fields of `value`, which must be a record.
    pub(crate) fn of(value: Value) -> Result<Fields, SchemaError> {
        match value {
            Value::Record(fields) => Ok(Fields(fields)),
            other => Err(unexpected("", "a record", &other)),
        }
    }

    /// True when the record has field `name` (a field added in a later schema version is
    /// absent from records decoded with an earlier one).
    pub(crate) fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }

    /// Takes the value of field `name` out of the record.
    pub(crate) fn take(&mut self, name: &str) -> Result<Value, SchemaError> {
        self.0
            .iter_mut()
            .find(|(n, _)| n == name)
            .map(|(_, v)| std::mem::replace(v, Value::Null))
            .ok_or_else(|| SchemaError::field(name, "missing"))
    }

    /// An Avro long that the model holds as an unsigned integer.
    pub(crate) fn unsigned<T: TryFrom<i64>>(&mut self, name: &str) -> Result<T, SchemaError> {
        let n = self.long(name)?;
        T::try_from(n).map_err(|_| {
            SchemaError::field(
                name,
                format!("{n} is out of range for {}", std::any::type_name::<T>()),
            )
        })
    }

    pub(crate) fn uuid(&mut self, name: &str) -> Result<Uuid, SchemaError> {
        value_uuid(name, self.take(name)?)
    }

    /// The symbol of an enum field.
    pub(crate) fn symbol(&mut self, name: &str) -> Result<String, SchemaError> {
        match self.take(name)? {
            Value::Enum(_, symbol) => Ok(symbol),
            other => Err(unexpected(name, "an enum symbol", &other)),
        }
    }

    /// A `["null", T]` union field: `None` for the null branch, else the inner value.
    pub(crate) fn optional(&mut self, name: &str) -> Result<Option<Value>, SchemaError> {
        match self.take(name)? {
            Value::Union(_, inner) => match *inner {
                Value::Null => Ok(None),
                v => Ok(Some(v)),
            },
            other => Err(unexpected(name, "a union", &other)),
        }
    }

    pub(crate) fn optional_string(&mut self, name: &str) -> Result<Option<String>, SchemaError> {
        match self.optional(name)? {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(unexpected(name, "a string", &other)),
        }
    }

    pub(crate) fn strings(&mut self, name: &str) -> Result<Vec<String>, SchemaError> {
        self.array(name)?
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s),
                other => Err(unexpected(&format!("{name}[{i}]"), "a string", &other)),
            })
            .collect()
    }

    /// A vector clock: an array of `{component, counter}` records.
    pub(crate) fn clock(&mut self, name: &str) -> Result<Vec<(String, u64)>, SchemaError> {
        fn entry(v: Value) -> Result<(String, u64), SchemaError> {
            let mut entry = Fields::of(v)?;
            Ok((entry.string("component")?, entry.unsigned("counter")?))
        }
        self.array(name)?
            .into_iter()
            .enumerate()
            .map(|(i, v)| entry(v).map_err(|e| e.within(&format!("{name}[{i}]"))))
            .collect()
    }

    /// A nested record field.
    pub(crate) fn record(&mut self, name: &str) -> Result<Fields, SchemaError> {
        Fields::of(self.take(name)?).map_err(|e| e.within(name))
    }
}

/// `Fields::$name(field)`: the field's value as `$ty` when it is an Avro `$variant`, else an
/// error that names the field and says what was `$expected`.
macro_rules! typed_field {
    ($($(#[$attr:meta])* $name:ident: $variant:ident -> $ty:ty, $expected:literal;)*) => {
        impl Fields {
            $(
                $(#[$attr])*
                pub(crate) fn $name(&mut self, name: &str) -> Result<$ty, SchemaError> {
                    match self.take(name)? {
                        Value::$variant(v) => Ok(v),
                        other => Err(unexpected(name, $expected, &other)),
                    }
                }
            )*
        }
    };
}

typed_field! {
    string: String -> String, "a string";
    long: Long -> i64, "a long";
    int: Int -> i32, "an int";
    boolean: Boolean -> bool, "a boolean";
    array: Array -> Vec<Value>, "an array";
}

/// A UUID value (decoded from a `logicalType: uuid` string).
pub(crate) fn value_uuid(name: &str, value: Value) -> Result<Uuid, SchemaError> {
    match value {
        Value::Uuid(u) => Ok(u),
        Value::String(s) => Uuid::parse_str(&s)
            .map_err(|e| SchemaError::field(name, format!("invalid UUID {s:?}: {e}"))),
        other => Err(unexpected(name, "a UUID", &other)),
    }
}

/// An access type from its enum symbol.
pub(crate) fn access_type_from_symbol(name: &str, symbol: &str) -> Result<AccessType, SchemaError> {
    AccessType::parse(symbol)
        .ok_or_else(|| SchemaError::field(name, format!("unknown access type {symbol:?}")))
}

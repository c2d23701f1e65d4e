//! Lenient readers of JSON members, shared by the decoder. Each reports errors relative to the
//! object it reads; callers prefix the path on the way up.

use chrono::{DateTime, NaiveDateTime};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{canonical_json_text, FieldError};

pub(super) type Result<T> = std::result::Result<T, FieldError>;
pub(super) type Object = Map<String, Value>;

/// Short name of a JSON value's type, for messages.
pub(super) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A member that is present and not `null` (SDKs send `null` for "not set").
pub(super) fn present<'a>(obj: &'a Object, name: &str) -> Option<&'a Value> {
    obj.get(name).filter(|v| !v.is_null())
}

/// A string, leniently: numbers and booleans are taken as their text (e.g. numeric thread ids).
pub(super) fn text_of(name: &str, value: &Value) -> Result<String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(FieldError::new(
            name,
            format!("expected a string, got {}", type_name(other)),
        )),
    }
}

pub(super) fn required_text(obj: &Object, name: &str) -> Result<String> {
    match present(obj, name) {
        None => Err(FieldError::new(name, "missing (required)")),
        Some(v) => {
            let s = text_of(name, v)?;
            if s.is_empty() {
                return Err(FieldError::new(name, "must not be empty"));
            }
            Ok(s)
        }
    }
}

pub(super) fn optional_text(obj: &Object, name: &str) -> Result<Option<String>> {
    present(obj, name).map(|v| text_of(name, v)).transpose()
}

pub(super) fn text(obj: &Object, name: &str) -> Result<String> {
    Ok(optional_text(obj, name)?.unwrap_or_default())
}

/// An integer in `min..=max`, leniently: integral floats and numeric strings are accepted.
pub(super) fn integer_of(name: &str, value: &Value, min: i128, max: i128) -> Result<i128> {
    let n = match value {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 1e30)
                    .map(|f| f as i128)
            }),
        Value::String(s) => s.trim().parse::<i128>().ok(),
        _ => None,
    };
    match n {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        Some(n) => Err(FieldError::new(
            name,
            format!("{n} is out of range ({min}..={max})"),
        )),
        None => Err(FieldError::new(
            name,
            format!("expected an integer, got {}", describe(value)),
        )),
    }
}

/// A value for a message: short JSON text of scalars, the type of the rest.
pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => {
            let mut s = value.to_string();
            if s.len() > 60 {
                s.truncate(57);
                s.push_str("...");
            }
            s
        }
        other => type_name(other).to_string(),
    }
}

pub(super) fn optional_integer(
    obj: &Object,
    name: &str,
    min: i128,
    max: i128,
) -> Result<Option<i128>> {
    present(obj, name)
        .map(|v| integer_of(name, v, min, max))
        .transpose()
}

pub(super) fn unsigned<T: TryFrom<i128> + Default>(
    obj: &Object,
    name: &str,
    max: u64,
) -> Result<T> {
    Ok(optional_integer(obj, name, 0, i128::from(max))?
        .and_then(|n| T::try_from(n).ok())
        .unwrap_or_default())
}

pub(super) fn optional_u64(obj: &Object, name: &str) -> Result<Option<u64>> {
    Ok(optional_integer(obj, name, 0, i128::from(u64::MAX))?.and_then(|n| u64::try_from(n).ok()))
}

/// JSON text of an arbitrary value; `None` when missing or `null`.
pub(super) fn optional_json(obj: &Object, name: &str) -> Option<String> {
    present(obj, name).map(canonical_json_text)
}

/// JSON text of an arbitrary value; `"null"` when missing.
pub(super) fn json(obj: &Object, name: &str) -> String {
    optional_json(obj, name).unwrap_or_else(|| "null".to_string())
}

pub(super) fn uuid_of(name: &str, value: &Value) -> Result<Uuid> {
    let Value::String(s) = value else {
        return Err(FieldError::new(
            name,
            format!("expected a UUID string, got {}", describe(value)),
        ));
    };
    Uuid::parse_str(s)
        .map_err(|e| FieldError::new(name, format!("invalid UUID {}: {e}", describe(value))))
}

pub(super) fn required_uuid(obj: &Object, name: &str) -> Result<Uuid> {
    match present(obj, name) {
        None => Err(FieldError::new(name, "missing (required UUID)")),
        Some(v) => uuid_of(name, v),
    }
}

pub(super) fn optional_uuid(obj: &Object, name: &str) -> Result<Option<Uuid>> {
    match present(obj, name) {
        // Some SDKs send "" for "no parent".
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(v) => uuid_of(name, v).map(Some),
        None => Ok(None),
    }
}

/// A list of strings; `null` or missing is empty, a single string is a one-item list.
pub(super) fn text_list(obj: &Object, name: &str) -> Result<Vec<String>> {
    match present(obj, name) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| text_of(&format!("{name}[{i}]"), v))
            .collect(),
        Some(v @ Value::String(_)) => Ok(vec![text_of(name, v)?]),
        Some(other) => Err(FieldError::new(
            name,
            format!("expected an array of strings, got {}", type_name(other)),
        )),
    }
}

pub(super) fn object<'a>(name: &str, value: &'a Value) -> Result<&'a Object> {
    value.as_object().ok_or_else(|| {
        FieldError::new(
            name,
            format!("expected an object, got {}", type_name(value)),
        )
    })
}

/// Nanoseconds since the epoch from an RFC 3339 timestamp. A timestamp without offset is taken
/// as UTC, since some SDKs format local-less ISO 8601.
pub(super) fn timestamp(obj: &Object) -> Result<i64> {
    let Some(value) = present(obj, "timestamp") else {
        return Err(FieldError::new(
            "timestamp",
            "missing (required RFC 3339 timestamp)",
        ));
    };
    let bad = || {
        FieldError::new(
            "timestamp",
            format!(
                "expected an RFC 3339 timestamp such as \"2024-01-01T12:00:00.001Z\", got {}",
                describe(value)
            ),
        )
    };
    let Value::String(s) = value else {
        return Err(bad());
    };
    let utc = parse_utc(s).ok_or_else(bad)?;
    utc.timestamp_nanos_opt()
        .ok_or_else(|| FieldError::new("timestamp", format!("{s} is outside the years 1677..2262")))
}

/// An RFC 3339 timestamp, or one without offset taken as UTC.
fn parse_utc(s: &str) -> Option<DateTime<chrono::Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.to_utc())
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").map(|t| t.and_utc()))
        .ok()
}

/// Nanoseconds since the epoch of a timestamp [`timestamp`] accepts; `None` where it refuses.
pub(super) fn parse_timestamp(s: &str) -> Option<i64> {
    parse_utc(s)?.timestamp_nanos_opt()
}

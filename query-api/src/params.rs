//! Parsing of query parameters: trace ids and time bounds.

use chrono::DateTime;
use uuid::Uuid;

use crate::ApiError;

/// Parses a trace id from the path.
pub(crate) fn trace_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw)
        .map_err(|e| ApiError::bad_request(format!("`{raw}` is not a trace id (UUID): {e}")))
}

/// Parses a time bound: RFC 3339 (`2024-01-01T12:00:00Z`) or integer nanoseconds since the epoch.
pub(crate) fn time_ns(name: &str, raw: &str) -> Result<i64, ApiError> {
    if let Ok(ns) = raw.parse::<i64>() {
        return Ok(ns);
    }
    let parsed = DateTime::parse_from_rfc3339(raw).map_err(|e| {
        ApiError::bad_request(format!(
            "`{name}={raw}` is neither RFC 3339 nor nanoseconds since the epoch: {e}"
        ))
    })?;
    parsed
        .timestamp_nanos_opt()
        .ok_or_else(|| ApiError::bad_request(format!("`{name}={raw}` is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_bounds_accept_rfc3339_and_nanoseconds() {
        assert_eq!(time_ns("from", "1000").unwrap(), 1000);
        assert_eq!(
            time_ns("from", "2024-01-01T12:00:00.001Z").unwrap(),
            1_704_110_400_001_000_000
        );
        let err = time_ns("from", "yesterday").unwrap_err();
        assert!(err.message.contains("from=yesterday"), "{}", err.message);
    }

    #[test]
    fn trace_ids_must_be_uuids() {
        assert!(trace_id("aaaaaaaa-aaaa-4aaa-aaaa-aaaaaaaaaaaa").is_ok());
        assert_eq!(
            trace_id("42").unwrap_err().status,
            axum::http::StatusCode::BAD_REQUEST
        );
    }
}

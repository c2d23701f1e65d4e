//! Parsing of query parameters: trace ids, time bounds, page sizes, finding kinds and
//! severities. Each parser answers a 400 naming the parameter and the accepted values.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRef, FromRequestParts, Path, Query};
use axum::http::request::Parts;
use chrono::DateTime;
use raceway_schemas::{Event, FindingKind, Severity};
use raceway_store::{EventStore, EventsWithJson, StoreError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::tenant::Scope;
use crate::traces::{TraceIdPath, DEFAULT_PAGE, MAX_PAGE};
use crate::ApiError;

/// The `from` and `to` query parameters, as text (parsed by [`TimeRange::parse`]).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TimeRange {
    /// Lower time bound: RFC 3339 (`2024-01-01T12:00:00Z`) or ns since the epoch.
    from: Option<String>,
    /// Upper time bound: RFC 3339 or ns since the epoch.
    to: Option<String>,
}

impl TimeRange {
    /// The bounds in ns since the epoch; 400 on a bad or reversed bound.
    pub(crate) fn parse(&self) -> Result<(Option<i64>, Option<i64>), ApiError> {
        let from = opt_time_ns("from", self.from.as_deref())?;
        let to = opt_time_ns("to", self.to.as_deref())?;
        time_range(from, to)?;
        Ok((from, to))
    }
}

/// The `limit` and `offset` query parameters of the paginated lists, as text.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Page {
    /// Page size, 1 to 1000 (default 50).
    #[param(value_type = Option<u32>)]
    limit: Option<String>,
    /// Rows to skip (default 0).
    #[param(value_type = Option<u32>)]
    offset: Option<String>,
}

/// Where a page sits in its list: `total` matching rows, this page's `limit` and `offset`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PageInfo {
    /// Matching rows over all pages.
    pub total: u64,
    pub limit: u32,
    pub offset: u32,
}

impl Page {
    /// `(limit, offset)`; 400 when either is not an integer in range.
    pub(crate) fn parse(&self) -> Result<(u32, u32), ApiError> {
        Ok((
            count("limit", self.limit.as_deref(), DEFAULT_PAGE, 1, MAX_PAGE)?,
            count("offset", self.offset.as_deref(), 0, 0, u32::MAX)?,
        ))
    }
}

/// The trace named by the `{id}` path segment: a 400 naming it when it is not a UUID; for a
/// caller confined to a tenant, a 404 when the trace is outside it (read as a [`StoredTrace`]).
pub(crate) struct TraceId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for TraceId
where
    Arc<dyn EventStore>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Scope::of(parts) {
            Scope::Everything => path_trace_id(parts, state).await.map(TraceId),
            Scope::Tenant(_) => Ok(TraceId(
                StoredTrace::<Vec<Event>>::from_request_parts(parts, state)
                    .await?
                    .id,
            )),
        }
    }
}

async fn path_trace_id<S: Send + Sync>(parts: &mut Parts, state: &S) -> Result<Uuid, ApiError> {
    let Path(path) = Path::<TraceIdPath>::from_request_parts(parts, state)
        .await
        .map_err(|e| ApiError::bad_request(e.body_text()))?;
    trace_id(&path.id)
}

/// A list request: its filters `F`, its time range and its page, each parsed (a 400 names a
/// bad parameter).
pub(crate) struct Listing<F> {
    pub filters: F,
    pub from_ns: Option<i64>,
    pub to_ns: Option<i64>,
    pub limit: u32,
    pub offset: u32,
}

impl<F: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Listing<F> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let rejected = |e: QueryRejection| ApiError::bad_request(e.body_text());
        let Query(filters) = Query::<F>::try_from_uri(&parts.uri).map_err(rejected)?;
        let Query(range) = Query::<TimeRange>::try_from_uri(&parts.uri).map_err(rejected)?;
        let Query(page) = Query::<Page>::try_from_uri(&parts.uri).map_err(rejected)?;
        let (from_ns, to_ns) = range.parse()?;
        let (limit, offset) = page.parse()?;
        Ok(Listing {
            filters,
            from_ns,
            to_ns,
            limit,
            offset,
        })
    }
}

impl<F> Listing<F> {
    /// Where the answer's page sits in a list of `total` rows.
    pub(crate) fn info(&self, total: u64) -> PageInfo {
        PageInfo {
            total,
            limit: self.limit,
            offset: self.offset,
        }
    }
}

/// The stored events of the trace named by the `{id}` path segment: 400 on a bad id, 404 when
/// the store holds no event of it or the trace is outside the caller's tenant. `R` is what is
/// read of it: the events alone, or beside their stored JSON ([`EventsWithJson`]) for a route
/// that sends the stored text on.
pub(crate) struct StoredTrace<R = Vec<Event>> {
    pub id: Uuid,
    pub events: R,
}

/// A store read of one trace's events, boxed as the store's own methods return it.
type TraceReadFuture<'a, R> = Pin<Box<dyn Future<Output = Result<R, StoreError>> + Send + 'a>>;

/// What a [`StoredTrace`] reads of its trace: a store read, and the events it holds (the tenant
/// check reads their environment).
pub(crate) trait TraceRead: Sized {
    fn read(store: &dyn EventStore, id: Uuid) -> TraceReadFuture<'_, Self>;
    fn events(&self) -> &[Event];
}

impl TraceRead for Vec<Event> {
    fn read(store: &dyn EventStore, id: Uuid) -> TraceReadFuture<'_, Self> {
        store.trace_events(id)
    }
    fn events(&self) -> &[Event] {
        self
    }
}

impl TraceRead for EventsWithJson {
    fn read(store: &dyn EventStore, id: Uuid) -> TraceReadFuture<'_, Self> {
        store.trace_events_with_json(id)
    }
    fn events(&self) -> &[Event] {
        &self.events
    }
}

impl<S: Send + Sync, R: TraceRead> FromRequestParts<S> for StoredTrace<R>
where
    Arc<dyn EventStore>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let id = path_trace_id(parts, state).await?;
        let store = Arc::<dyn EventStore>::from_ref(state);
        let events = R::read(store.as_ref(), id).await?;
        Scope::of(parts).check_trace(id, events.events())?;
        Ok(StoredTrace { id, events })
    }
}

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

/// Parses an optional time bound (see [`time_ns`]).
pub(crate) fn opt_time_ns(name: &str, raw: Option<&str>) -> Result<Option<i64>, ApiError> {
    raw.map(|raw| time_ns(name, raw)).transpose()
}

/// Checks that a time range is not reversed.
pub(crate) fn time_range(from: Option<i64>, to: Option<i64>) -> Result<(), ApiError> {
    match (from, to) {
        (Some(from), Some(to)) if from > to => Err(ApiError::bad_request(format!(
            "`from` ({from} ns) is after `to` ({to} ns)"
        ))),
        _ => Ok(()),
    }
}

/// Parses an optional count parameter (`limit`, `offset`): `default` when absent, else an
/// integer in `min..=max`.
pub(crate) fn count(
    name: &str,
    raw: Option<&str>,
    default: u32,
    min: u32,
    max: u32,
) -> Result<u32, ApiError> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    match raw.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::bad_request(format!(
            "`{name}` must be an integer between {min} and {max}, got `{raw}`"
        ))),
    }
}

/// Parses an optional `limit` parameter: `default` when absent, else an integer in `1..=max`.
pub(crate) fn limit(raw: Option<&str>, default: u32, max: u32) -> Result<u32, ApiError> {
    count("limit", raw, default, 1, max)
}

/// A parser of the boolean parameter `name` (`true` or `false`).
pub(crate) fn flag(name: &str) -> impl Fn(&str) -> Result<bool, ApiError> + '_ {
    move |raw| match raw {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ApiError::bad_request(format!(
            "`{name}` must be true or false, got `{raw}`"
        ))),
    }
}

/// Parses a finding kind (`data_race`, `lost_update`, `lock_order_inversion`).
pub(crate) fn finding_kind(raw: &str) -> Result<FindingKind, ApiError> {
    FindingKind::parse(raw).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unknown kind `{raw}`: expected data_race, lost_update or lock_order_inversion"
        ))
    })
}

/// Parses a severity (`warning`, `critical`).
pub(crate) fn severity(raw: &str) -> Result<Severity, ApiError> {
    Severity::parse(raw).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unknown severity `{raw}`: expected warning or critical"
        ))
    })
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

    #[test]
    fn counts_have_defaults_and_bounds() {
        assert_eq!(count("limit", None, 50, 1, 1000).unwrap(), 50);
        assert_eq!(count("limit", Some("7"), 50, 1, 1000).unwrap(), 7);
        for bad in ["0", "1001", "-1", "ten", ""] {
            let err = count("limit", Some(bad), 50, 1, 1000).unwrap_err();
            assert!(err.message.contains("`limit`"), "{}", err.message);
        }
    }

    #[test]
    fn kinds_and_severities_name_the_accepted_values() {
        assert_eq!(
            finding_kind("lost_update").unwrap(),
            FindingKind::LostUpdate
        );
        assert!(finding_kind("race")
            .unwrap_err()
            .message
            .contains("data_race"));
        assert_eq!(severity("critical").unwrap(), Severity::Critical);
        assert!(severity("high").unwrap_err().message.contains("warning"));
    }

    #[test]
    fn reversed_ranges_are_rejected() {
        assert!(time_range(Some(2), Some(1)).is_err());
        assert!(time_range(Some(1), Some(1)).is_ok());
        assert!(time_range(None, Some(1)).is_ok());
    }
}

//! `GET /api/races`: every finding, filtered and paginated.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::Json;
use raceway_schemas::RaceFinding;
use raceway_store::{FindingQuery, Store};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::params::{self, Page, TimeRange};
use crate::{ApiError, ErrorBody};

/// Query parameters of `GET /api/races`. Read as text and parsed by [`params`], so a bad value
/// gets a JSON 400 that names it.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RaceParams {
    /// `data_race`, `lost_update` or `lock_order_inversion`.
    kind: Option<String>,
    /// Exact variable name.
    variable: Option<String>,
    /// Either side's service.
    service: Option<String>,
    /// `warning` or `critical`.
    severity: Option<String>,
    environment: Option<String>,
}

/// `GET /api/races`: one page of findings.
#[derive(Debug, Serialize, ToSchema)]
pub struct RacesPage {
    pub races: Vec<RaceFinding>,
    /// Matching findings over all pages.
    pub total: u64,
    pub limit: u32,
    pub offset: u32,
}

/// `GET /api/races?kind=&variable=&service=&severity=&environment=&from=&to=&limit=&offset=`:
/// the newest version of each matching finding, newest first (by the later of its two events).
#[utoipa::path(get, path = "/api/races", tag = "races", params(RaceParams, TimeRange, Page),
    responses((status = 200, body = RacesPage), (status = 400, body = ErrorBody),
              (status = 503, body = ErrorBody)))]
pub(crate) async fn list_races(
    State(store): State<Arc<dyn Store>>,
    Query(raw): Query<RaceParams>,
    Query(range): Query<TimeRange>,
    Query(page): Query<Page>,
) -> Result<Json<RacesPage>, ApiError> {
    let (from_ns, to_ns) = range.parse()?;
    let (limit, offset) = page.parse()?;
    let query = FindingQuery {
        kind: raw.kind.as_deref().map(params::finding_kind).transpose()?,
        environment: raw.environment,
        variable: raw.variable,
        service: raw.service,
        severity: raw.severity.as_deref().map(params::severity).transpose()?,
        from_ns,
        to_ns,
        limit,
        offset,
    };
    let page = store.list_findings(&query).await?;
    Ok(Json(RacesPage {
        races: page.findings,
        total: page.total,
        limit,
        offset,
    }))
}

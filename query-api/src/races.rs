//! `GET /api/races`: every finding, filtered and paginated.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use raceway_schemas::RaceFinding;
use raceway_store::{AccessStore, FindingQuery, FindingStore};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::coalesce::list_key;
use crate::error::ListErrors;
use crate::finding_values::with_recorded_values;
use crate::params::{self, Listing, Page, PageInfo, TimeRange};
use crate::stores::ListReads;
use crate::tenant::Scope;
use crate::ApiError;

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
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RacesPage {
    pub races: Vec<RaceFinding>,
    #[serde(flatten)]
    pub page: PageInfo,
}

/// `GET /api/races?kind=&variable=&service=&severity=&environment=&from=&to=&limit=&offset=`:
/// the newest version of each matching finding, newest first (by the later of its two events),
/// each side with its recorded values.
#[utoipa::path(get, path = "/api/races", tag = "races", params(RaceParams, TimeRange, Page),
    responses((status = 200, body = RacesPage), ListErrors))]
pub(crate) async fn list_races(
    State(store): State<Arc<dyn FindingStore>>,
    State(accesses): State<Arc<dyn AccessStore>>,
    State(lists): State<ListReads>,
    scope: Scope,
    list: Listing<RaceParams>,
) -> Result<Json<RacesPage>, ApiError> {
    let filters = &list.filters;
    let query = FindingQuery {
        environments: scope.environments(filters.environment.as_deref())?,
        kind: filters
            .kind
            .as_deref()
            .map(params::finding_kind)
            .transpose()?,
        severity: filters
            .severity
            .as_deref()
            .map(params::severity)
            .transpose()?,
        environment: filters.environment.clone(),
        variable: filters.variable.clone(),
        service: filters.service.clone(),
        from_ns: list.from_ns,
        to_ns: list.to_ns,
        limit: list.limit,
        offset: list.offset,
    };
    let (races, total) = lists
        .races
        .read(list_key(&query)?, move || async move {
            let page = store.list_findings(&query).await?;
            let races = with_recorded_values(accesses.as_ref(), page.findings).await?;
            Ok((races, page.total))
        })
        .await?;
    Ok(Json(RacesPage {
        races,
        page: list.info(total),
    }))
}

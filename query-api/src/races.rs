//! `GET /api/races`: every finding, filtered and paginated.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::Json;
use raceway_store::{FindingQuery, FindingStore};
use serde_json::{json, Value};

use crate::params;
use crate::traces::{DEFAULT_PAGE, MAX_PAGE};
use crate::ApiError;

/// `GET /api/races?kind=&variable=&service=&severity=&environment=&from=&to=&limit=&offset=`:
/// the newest version of each matching finding, newest first (by the later of its two events).
///
/// Parameters are read as text and parsed here, so a bad value gets a JSON 400 that names it.
pub(crate) async fn list_races(
    State(store): State<Arc<dyn FindingStore>>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let get = |name: &str| raw.get(name).map(String::as_str);
    let from_ns = params::opt_time_ns("from", get("from"))?;
    let to_ns = params::opt_time_ns("to", get("to"))?;
    params::time_range(from_ns, to_ns)?;
    let query = FindingQuery {
        kind: get("kind").map(params::finding_kind).transpose()?,
        environment: get("environment").map(str::to_string),
        variable: get("variable").map(str::to_string),
        service: get("service").map(str::to_string),
        severity: get("severity").map(params::severity).transpose()?,
        from_ns,
        to_ns,
        limit: params::count("limit", get("limit"), DEFAULT_PAGE, 1, MAX_PAGE)?,
        offset: params::count("offset", get("offset"), 0, 0, u32::MAX)?,
    };
    let page = store.list_findings(&query).await?;
    Ok(Json(json!({
        "races": page.findings,
        "total": page.total,
        "limit": query.limit,
        "offset": query.offset,
    })))
}

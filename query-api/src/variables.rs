//! `GET /api/variables?prefix=&limit=`: the accessed variables whose names start with a prefix,
//! sorted by name, for the variable inspector's search.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::Json;
use raceway_store::{AccessStore, VariableCount};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ListErrors;
use crate::params;
use crate::tenant::Scope;
use crate::ApiError;

/// Variables listed when `limit` is absent.
const DEFAULT_LIMIT: u32 = 100;
/// Largest `limit`.
const MAX_LIMIT: u32 = 1000;

/// Query parameters of `GET /api/variables`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct VariableParams {
    /// Only variables whose names start with this text (case-sensitive; no wildcards). Empty or
    /// absent: every variable.
    prefix: Option<String>,
    /// Most variables listed, 1 to 1000 (default 100).
    #[param(value_type = Option<u32>)]
    limit: Option<String>,
}

/// One variable and its stored accesses (distinct, any environment).
#[derive(Debug, Serialize, ToSchema)]
pub struct VariableName {
    pub name: String,
    pub access_count: u64,
}

impl From<VariableCount> for VariableName {
    fn from(v: VariableCount) -> Self {
        VariableName {
            name: v.name,
            access_count: v.access_count,
        }
    }
}

/// `GET /api/variables`: matching variables, sorted by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct VariableList {
    pub variables: Vec<VariableName>,
    pub limit: u32,
    /// True when more variables match than `limit`.
    pub truncated: bool,
}

/// `GET /api/variables?prefix=&limit=`: the variables with a stored access whose names start
/// with `prefix`.
#[utoipa::path(
    get, path = "/api/variables", tag = "variables", params(VariableParams),
    responses((status = 200, body = VariableList), ListErrors)
)]
pub(crate) async fn list_variables(
    State(store): State<Arc<dyn AccessStore>>,
    scope: Scope,
    Query(options): Query<VariableParams>,
) -> Result<Json<VariableList>, ApiError> {
    let limit = params::limit(options.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let prefix = options.prefix.as_deref().unwrap_or_default();
    // One more than asked, to tell whether the list was cut.
    let environments = scope.environments(None)?;
    let mut variables = store.variables(prefix, &environments, limit + 1).await?;
    let truncated = variables.len() > limit as usize;
    variables.truncate(limit as usize);
    Ok(Json(VariableList {
        variables: variables.into_iter().map(VariableName::from).collect(),
        limit,
        truncated,
    }))
}

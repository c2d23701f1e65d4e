//! Confining reads to a tenant's environments.
//!
//! A caller confined to a tenant (a `raceway_auth::Principal` with a tenant) must see only the
//! tenant's environments. Routes that filter by an `environment` parameter are confined by it:
//! a named environment outside the tenant gets 403, and without one the tenant's only
//! environment is filled in (a tenant of several must name one: 403 otherwise). Routes that
//! cannot filter by environment are refused to tenant callers: answering them would show other
//! tenants' data. Callers without a tenant pass untouched.

use axum::extract::{Query, Request};
use axum::http::{StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use raceway_auth::Principal;
use serde_json::json;

use crate::TenantScope;

/// Applies `scope` to the request's caller.
pub(crate) async fn confine(scope: TenantScope, mut request: Request, next: Next) -> Response {
    let Some(tenant) = request
        .extensions()
        .get::<Principal>()
        .and_then(|p| p.tenant.clone())
    else {
        return next.run(request).await;
    };
    match scope {
        TenantScope::NoData => {}
        TenantScope::Unconfined => {
            return forbidden(format!(
            "{} cannot be confined to tenant {}'s environments; use a credential without tenant",
            request.uri().path(),
            tenant.name
        ))
        }
        TenantScope::EnvironmentParameter => {
            let query = request.uri().query().unwrap_or_default().to_string();
            // Decoded, every occurrence: the handlers decode, and the last duplicate wins there.
            let Ok(Query(pairs)) = Query::<Vec<(String, String)>>::try_from_uri(request.uri())
            else {
                return forbidden("the query string cannot be decoded".into());
            };
            let named: Vec<&String> = pairs
                .iter()
                .filter(|(name, _)| name == "environment")
                .map(|(_, value)| value)
                .collect();
            if let Some(foreign) = named.iter().find(|e| !tenant.owns(e)) {
                return forbidden(format!(
                    "environment `{foreign}` is not one of tenant {}'s environments",
                    tenant.name
                ));
            }
            match (named.is_empty(), tenant.environments.as_slice()) {
                (false, _) => {}
                (true, [only]) => {
                    let only: String = only.bytes().map(|b| format!("%{b:02X}")).collect();
                    let joined = if query.is_empty() {
                        format!("environment={only}")
                    } else {
                        format!("{query}&environment={only}")
                    };
                    let uri = format!("{}?{joined}", request.uri().path());
                    match uri.parse::<Uri>() {
                        Ok(uri) => *request.uri_mut() = uri,
                        Err(_) => return forbidden("bad environment name".into()),
                    }
                }
                (true, _) => {
                    return forbidden(format!(
                        "tenant {} has several environments: name one with environment=",
                        tenant.name
                    ))
                }
            }
        }
    }
    next.run(request).await
}

fn forbidden(message: String) -> Response {
    (StatusCode::FORBIDDEN, Json(json!({ "error": message }))).into_response()
}

//! The axum middleware: browser checks, the access a route needs, authentication, the caller in
//! the request's extensions, and one access-log line per API call.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::json;

use crate::config::{AuthConfig, AuthError, Tenant};
use crate::roles::{Role, Roles};

/// Who made a request (in the request's extensions once authenticated, when credentials are
/// configured).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The key's name or the token's subject; `anonymous` without credentials configured.
    pub name: String,
    pub roles: Roles,
    /// The tenant the caller is confined to; `None`: every environment.
    pub tenant: Option<Tenant>,
}

impl Principal {
    /// Whether the caller may read or write `environment`.
    pub fn may_use_environment(&self, environment: &str) -> bool {
        self.tenant.as_ref().is_none_or(|t| t.owns(environment))
    }
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `/health`, `/ready`, the web UI's page and assets.
    Open,
    /// `/metrics`: open unless `--metrics-auth`, then `read`.
    Metrics,
    /// A credential with this role.
    Role(Role),
}

/// The access a request to `path` needs (whatever the method: a method a route does not serve
/// gets 405 from the router, after authentication).
pub fn access_for(path: &str) -> Access {
    let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
    if path == "/events" {
        Access::Role(Role::Ingest)
    } else if under("/api/admin") {
        Access::Role(Role::Admin)
    } else if under("/api") || under("/ws") {
        Access::Role(Role::Read)
    } else if path == "/metrics" {
        Access::Metrics
    } else {
        Access::Open
    }
}

/// `router` with access control in front of every route.
pub fn protect(router: Router, config: Arc<AuthConfig>) -> Router {
    router.layer(axum::middleware::from_fn_with_state(config, check))
}

async fn check(
    State(config): State<Arc<AuthConfig>>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let access = access_for(&path);
    let logged = access != Access::Open;
    let refuse = |error: AuthError, principal: Option<&Principal>| {
        let response = error_response(&error);
        if logged {
            log(principal, &method, &path, response.status(), started);
        }
        response
    };
    if let Err(reason) = config.browser.check(request.headers(), request.uri()) {
        return refuse(AuthError::Forbidden(reason), None);
    }
    let role = match access {
        Access::Open => return next.run(request).await,
        Access::Metrics if !config.metrics_auth => return next.run(request).await,
        Access::Metrics => Role::Read,
        Access::Role(role) => role,
    };
    let query_token = if path.starts_with("/ws/") {
        token_parameter(request.uri().query())
    } else {
        None
    };
    let principal = match config.authenticate(request.headers(), query_token.as_deref()) {
        Ok(principal) => principal,
        Err(error) => return refuse(error, None),
    };
    if !principal.roles.contains(role) {
        let error = AuthError::Forbidden(format!(
            "the credential `{}` lacks the `{role}` role",
            principal.name
        ));
        return refuse(error, Some(&principal));
    }
    // Without credentials configured there is no caller to tell apart (the gateway then
    // rate-limits per client address).
    if config.requires_credentials() {
        request.extensions_mut().insert(principal.clone());
    }
    let response = next.run(request).await;
    log(Some(&principal), &method, &path, response.status(), started);
    response
}

fn token_parameter(query: Option<&str>) -> Option<String> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| *name == "token")
        .map(|(_, value)| percent_decode(value))
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn error_response(error: &AuthError) -> Response {
    (error.status(), Json(json!({ "error": error.to_string() }))).into_response()
}

fn log(
    principal: Option<&Principal>,
    method: &Method,
    path: &str,
    status: StatusCode,
    started: Instant,
) {
    tracing::info!(
        target: "raceway::access",
        principal = principal.map_or("-", |p| p.name.as_str()),
        tenant = principal
            .and_then(|p| p.tenant.as_ref())
            .map_or("-", |t| t.name.as_str()),
        method = %method,
        route = path,
        status = status.as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "api call"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_need_the_documented_access() {
        assert_eq!(access_for("/events"), Access::Role(Role::Ingest));
        assert_eq!(access_for("/api/races"), Access::Role(Role::Read));
        assert_eq!(access_for("/api"), Access::Role(Role::Read));
        assert_eq!(access_for("/ws/live"), Access::Role(Role::Read));
        assert_eq!(access_for("/api/admin/prune"), Access::Role(Role::Admin));
        assert_eq!(access_for("/metrics"), Access::Metrics);
        for open in [
            "/health",
            "/ready",
            "/",
            "/traces/abc",
            "/assets/index.js",
            "/apix",
        ] {
            assert_eq!(access_for(open), Access::Open, "{open}");
        }
    }

    #[test]
    fn the_token_parameter_is_decoded() {
        assert_eq!(
            token_parameter(Some("a=1&token=s%2F3+x")).as_deref(),
            Some("s/3 x")
        );
        assert_eq!(token_parameter(Some("a=1")), None);
        assert_eq!(token_parameter(None), None);
    }
}

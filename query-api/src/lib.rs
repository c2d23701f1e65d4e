//! The query API: REST over the store.
//!
//! Routes: `GET /health`, `GET /api/traces` (paginated, filters), `GET /api/traces/{id}` (the
//! trace's events in causal order), `GET /api/traces/{id}/races`, `GET /api/races` (every
//! finding, paginated, filters), and the audit trails `GET /api/traces/{id}/audit-trail/{variable}`
//! and `GET /api/variables/{name}/audit-trail` (accesses in causal order), and the analyses of
//! one trace computed on demand from its stored events: `GET /api/traces/{id}/tree` (nested
//! nodes with durations and self times, `max_depth` to cap the nesting), `GET
//! /api/traces/{id}/critical-path`, `GET /api/traces/{id}/dependencies` (its service edges) and
//! `GET /api/traces/{id}/graph` (its causal graph); and the analyses the trace stage stored at
//! trace completion: `GET /api/traces/{id}/anomalies` (duration anomalies and model scores),
//! `GET /api/anomalies` (paginated, filters), `GET /api/dependencies` (global service edges over
//! a time range) and `GET /api/clusters` (the trace model's clusters). Errors are JSON
//! `{"error": message}` with the matching status.
//!
//! Access control (`raceway_auth`) runs in front of these routes; each route also declares how
//! its answers are confined to a tenant's environments ([`TenantScope`], applied by
//! [`tenant::confine`]).

mod analyses;
mod anomalies;
mod audit;
mod error;
mod params;
mod races;
mod stores;
mod tenant;
mod traces;

use std::sync::Arc;

use axum::middleware::from_fn;
use axum::routing::{get, MethodRouter};
use axum::Router;
use raceway_store::Store;

use crate::stores::Stores;

pub use error::ApiError;

/// How a route's answers can be confined to a tenant's environments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantScope {
    /// Nothing recorded is answered (`/health`).
    NoData,
    /// The route filters by an `environment` parameter: a tenant's request is confined to it.
    EnvironmentParameter,
    /// The route cannot filter by environment yet: refused to tenant-confined callers (403).
    Unconfined,
}

/// One route: its path, tenant scope and handler.
type Route = (&'static str, TenantScope, MethodRouter<Stores>);

/// Every route of the query API with its tenant scope. [`router`] serves exactly these, so
/// tests enumerate the routes from here and none is left out.
fn routes() -> Vec<Route> {
    use TenantScope::*;
    vec![
        ("/health", NoData, get(traces::health)),
        ("/api/traces", Unconfined, get(traces::list_traces)),
        ("/api/traces/{id}", Unconfined, get(traces::get_trace)),
        (
            "/api/traces/{id}/races",
            Unconfined,
            get(traces::trace_races),
        ),
        (
            "/api/traces/{id}/tree",
            Unconfined,
            get(analyses::trace_tree_route),
        ),
        (
            "/api/traces/{id}/critical-path",
            Unconfined,
            get(analyses::trace_critical_path),
        ),
        (
            "/api/traces/{id}/dependencies",
            Unconfined,
            get(analyses::trace_dependencies),
        ),
        (
            "/api/traces/{id}/graph",
            Unconfined,
            get(analyses::trace_graph),
        ),
        (
            "/api/traces/{id}/anomalies",
            Unconfined,
            get(anomalies::trace_anomalies),
        ),
        ("/api/anomalies", Unconfined, get(anomalies::list_anomalies)),
        (
            "/api/dependencies",
            Unconfined,
            get(anomalies::dependencies),
        ),
        ("/api/clusters", Unconfined, get(anomalies::clusters)),
        (
            "/api/traces/{id}/audit-trail/{variable}",
            Unconfined,
            get(audit::trace_audit_trail),
        ),
        ("/api/races", EnvironmentParameter, get(races::list_races)),
        (
            "/api/variables/{name}/audit-trail",
            EnvironmentParameter,
            get(audit::variable_audit_trail),
        ),
    ]
}

/// The paths of every route (axum syntax, `{param}`) with their tenant scope.
pub fn route_paths() -> Vec<(&'static str, TenantScope)> {
    routes()
        .into_iter()
        .map(|(path, scope, _)| (path, scope))
        .collect()
}

/// The query API's routes over `store`.
pub fn router(store: Arc<dyn Store>) -> Router {
    routes()
        .into_iter()
        .fold(Router::new(), |router, (path, scope, method)| {
            router.route(
                path,
                method.route_layer(from_fn(move |r, n| tenant::confine(scope, r, n))),
            )
        })
        .with_state(Stores::from(store))
}

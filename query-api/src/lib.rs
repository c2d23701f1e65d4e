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

mod analyses;
mod anomalies;
mod audit;
mod error;
mod params;
mod races;
mod stores;
mod traces;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use raceway_store::Store;

use crate::stores::Stores;

pub use error::ApiError;

/// The query API's routes over `store`.
pub fn router(store: Arc<dyn Store>) -> Router {
    Router::new()
        .route("/health", get(traces::health))
        .route("/api/traces", get(traces::list_traces))
        .route("/api/traces/{id}", get(traces::get_trace))
        .route("/api/traces/{id}/races", get(traces::trace_races))
        .route("/api/traces/{id}/tree", get(analyses::trace_tree_route))
        .route(
            "/api/traces/{id}/critical-path",
            get(analyses::trace_critical_path),
        )
        .route(
            "/api/traces/{id}/dependencies",
            get(analyses::trace_dependencies),
        )
        .route("/api/traces/{id}/graph", get(analyses::trace_graph))
        .route(
            "/api/traces/{id}/anomalies",
            get(anomalies::trace_anomalies),
        )
        .route("/api/anomalies", get(anomalies::list_anomalies))
        .route("/api/dependencies", get(anomalies::dependencies))
        .route("/api/clusters", get(anomalies::clusters))
        .route(
            "/api/traces/{id}/audit-trail/{variable}",
            get(audit::trace_audit_trail),
        )
        .route("/api/races", get(races::list_races))
        .route(
            "/api/variables/{name}/audit-trail",
            get(audit::variable_audit_trail),
        )
        .with_state(Stores::from(store))
}

//! The query API: REST over the store.
//!
//! Routes: `GET /health`, `GET /api/traces` (paginated, filters), `GET /api/traces/{id}` (the
//! trace's events in causal order), `GET /api/traces/{id}/races`, `GET /api/races` (every
//! finding, paginated, filters), and the audit trails `GET /api/traces/{id}/audit-trail/{variable}`
//! and `GET /api/variables/{name}/audit-trail` (accesses in causal order). Errors are JSON
//! `{"error": message}` with the matching status.

mod audit;
mod error;
mod params;
mod races;
mod traces;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use raceway_store::Store;

pub use error::ApiError;

/// The query API's routes over `store`.
pub fn router(store: Arc<dyn Store>) -> Router {
    Router::new()
        .route("/health", get(traces::health))
        .route("/api/traces", get(traces::list_traces))
        .route("/api/traces/{id}", get(traces::get_trace))
        .route("/api/traces/{id}/races", get(traces::trace_races))
        .route(
            "/api/traces/{id}/audit-trail/{variable}",
            get(audit::trace_audit_trail),
        )
        .route("/api/races", get(races::list_races))
        .route(
            "/api/variables/{name}/audit-trail",
            get(audit::variable_audit_trail),
        )
        .with_state(store)
}

//! The query API: REST over the store, described by an OpenAPI 3.1 document.
//!
//! Routes: `GET /health`, `GET /api/traces` (paginated, filters), `GET /api/traces/{id}` (the
//! trace's events in causal order), `GET /api/traces/{id}/races`, `GET /api/races` (every
//! finding, paginated, filters), and the audit trails `GET /api/traces/{id}/audit-trail/{variable}`
//! and `GET /api/variables/{name}/audit-trail` (accesses in causal order), `GET /api/variables`
//! (variable names by prefix), and the analyses of
//! one trace computed on demand from its stored events: `GET /api/traces/{id}/tree` (nested
//! nodes with durations and self times, `max_depth` to cap the nesting), `GET
//! /api/traces/{id}/critical-path`, `GET /api/traces/{id}/dependencies` (its service edges) and
//! `GET /api/traces/{id}/graph` (its causal graph); and the analyses the trace stage stored at
//! trace completion: `GET /api/traces/{id}/anomalies` (duration and sequence anomalies, model scores),
//! `GET /api/anomalies` (paginated, filters), `GET /api/dependencies` (global service edges over
//! a time range) and `GET /api/clusters` (the trace model's clusters); and time travel, the
//! state of a trace after any step of its causal order: `GET /api/traces/{id}/steps`, `GET
//! /api/traces/{id}/state?at=` and `GET /api/state/compare`; and service health: `GET
//! /api/services`, `GET /api/services/{name}/health`, `GET /api/services/health` and `GET
//! /api/hotspots` (module `services`). Errors are JSON
//! `{"error": message}` with the matching status.
//!
//! Every route is registered with [`utoipa_axum::routes!`], which adds the handler to the router
//! and its `#[utoipa::path]` description to the document in one step: a route cannot be served
//! without being described. [`openapi::serve_with_spec`] turns the routers of a process into one
//! router that also serves the document at `GET /api/openapi.json`.
//!
//! Access control (`raceway_auth`) runs in front of these routes and puts the caller in the
//! request's extensions; the handlers confine a tenant's caller to its environments through
//! their extractors ([`tenant`]).

mod analyses;
mod anomalies;
mod audit;
mod coalesce;
mod error;
mod finding_values;
pub mod live;
pub mod openapi;
mod params;
mod races;
mod services;
mod simulate;
mod stores;
mod tenant;
mod time_travel;
mod trace_body;
mod traces;
mod unchanged;
mod variables;

use std::sync::Arc;

use axum::Router;
use raceway_store::Store;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::{ApiError, ErrorBody};

/// The routes' answers as Rust types, for Rust clients of the API (the `raceway` query commands
/// and TUI read it through them): each serialises to the JSON the document describes and
/// deserialises from it, so a client cannot drift from the server's shapes.
pub mod responses {
    pub use crate::analyses::{CriticalPathBody, PathStep, TraceDependencies, TraceDependencyRow};
    pub use crate::anomalies::{
        AnomaliesPage, AnomalyRow, DependenciesBody, ScoresBody, TraceAnomalies,
    };
    pub use crate::audit::{AccessRow, AuditTrail, HeldLock, TraceAuditTrail, VariableAuditTrail};
    pub use crate::live::LiveMessage;
    pub use crate::params::PageInfo;
    pub use crate::races::RacesPage;
    pub use crate::services::{
        HotspotsBody, ServiceHealthBody, ServicesBody, ServicesHealthBody, WindowInfo,
    };
    pub use crate::time_travel::{
        ActorRow, ComparePoint, DifferenceRow, StateComparison, StepRow, ThreadRow, TraceStateBody,
        TraceSteps, VariableRow, WriterRow,
    };
    pub use crate::traces::{TraceRaces, TraceRow, TracesPage};
}

/// The query API's routes over `store`, with their OpenAPI description (`/health` included).
pub fn api_routes(store: Arc<dyn Store>) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(traces::health))
        .routes(routes!(traces::list_traces))
        .routes(routes!(traces::get_trace))
        .routes(routes!(traces::trace_races))
        .routes(routes!(analyses::trace_tree_route))
        .routes(routes!(analyses::trace_critical_path))
        .routes(routes!(analyses::trace_dependencies))
        .routes(routes!(analyses::trace_graph))
        .routes(routes!(simulate::simulate_trace))
        .routes(routes!(anomalies::trace_anomalies))
        .routes(routes!(anomalies::list_anomalies))
        .routes(routes!(anomalies::dependencies))
        .routes(routes!(anomalies::clusters))
        .routes(routes!(audit::trace_audit_trail))
        .routes(routes!(races::list_races))
        .routes(routes!(audit::variable_audit_trail))
        .routes(routes!(variables::list_variables))
        .routes(routes!(time_travel::steps))
        .routes(routes!(time_travel::state))
        .routes(routes!(time_travel::compare))
        .routes(routes!(services::list_services))
        .routes(routes!(services::service_health_route))
        .routes(routes!(services::services_health))
        .routes(routes!(services::hotspots))
        .with_state(stores::Stores::from(store))
}

/// The query API's routes over `store` as a plain router (without the document's route).
pub fn router(store: Arc<dyn Store>) -> Router {
    api_routes(store).split_for_parts().0
}

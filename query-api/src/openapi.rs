//! The OpenAPI 3.1 document of a process's HTTP routes, and its route `GET /api/openapi.json`.
//!
//! The document is assembled from the routers the process serves (each built with
//! `utoipa_axum::routes!`), so `raceway up` (gateway, query API, live stream, operations) and
//! `raceway query` each describe exactly what they serve. `raceway openapi` prints the document
//! of `raceway up`, which is committed as `web/openapi.json` for the web UI's typed client.

use std::sync::Arc;

use axum::{Extension, Json, Router};
use utoipa::openapi::OpenApi as Document;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The document's fixed part: title, version, tags.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Raceway",
        description = "Causal debugging for distributed software: ingest events, read traces, \
                       races, anomalies and analyses, follow new events live."
    ),
    tags(
        (name = "ingest", description = "Events in the Raceway JSON format"),
        (name = "traces", description = "Traces and their events"),
        (name = "races", description = "Findings: data races, lost updates, lock-order inversions"),
        (name = "variables", description = "Accesses to shared state"),
        (name = "analyses", description = "Trees, critical paths, dependencies, anomalies"),
        (name = "live", description = "New events and findings as they arrive"),
        (name = "operations", description = "Health, readiness, metrics, this document"),
    )
)]
struct Base;

/// An empty router carrying the document's fixed part; merge a process's routers into it.
pub fn base() -> OpenApiRouter {
    let mut doc = Base::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    OpenApiRouter::with_openapi(doc)
}

/// `GET /api/openapi.json`: this document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document of this process",
               content_type = "application/json", body = Object)))]
async fn openapi_json(Extension(doc): Extension<Arc<Document>>) -> Json<Arc<Document>> {
    Json(doc)
}

/// Adds `GET /api/openapi.json` to `routes` and splits them into the router to serve and the
/// document it serves.
pub fn serve_with_spec(routes: OpenApiRouter) -> (Router, Arc<Document>) {
    let (router, doc) = routes.routes(routes!(openapi_json)).split_for_parts();
    let doc = Arc::new(doc);
    (router.layer(Extension(doc.clone())), doc)
}

/// The document as the pretty JSON text that `web/openapi.json` holds (ending in a newline).
pub fn pretty_json(doc: &Document) -> String {
    let mut text = doc
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

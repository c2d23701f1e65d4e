//! The OpenAPI 3.1 document of a process's HTTP routes, and its route `GET /api/openapi.json`.
//!
//! The document is assembled from the routers the process serves (each built with
//! `utoipa_axum::routes!`), so `raceway up` (gateway, query API, live stream, operations) and
//! `raceway query` each describe exactly what they serve. `raceway openapi` prints the document
//! of `raceway up`, which is committed as `web/openapi.json` for the web UI's typed client.
//!
//! The document also declares the credentials (`bearer`, the `X-Raceway-Key` header, and the
//! `token` query parameter of `/ws/*`) and, on every operation, the access it needs once
//! credentials are configured: the `security` it accepts and `x-raceway-access` (`open`,
//! `metrics`, or the role), both decided by `raceway_auth::access_for`, the rule the access
//! middleware applies. So the document cannot claim other access than what is enforced.

use std::sync::Arc;

use axum::{Extension, Json, Router};
use raceway_auth::{access_for, Access};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
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
        (name = "time-travel", description = "The state of a trace after any step of its causal order"),
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
    let (router, mut doc) = routes.routes(routes!(openapi_json)).split_for_parts();
    declare_security(&mut doc);
    let doc = Arc::new(doc);
    (router.layer(Extension(doc.clone())), doc)
}

/// Adds the security schemes and each operation's access (see the module docs).
fn declare_security(doc: &mut Document) {
    let bearer = HttpBuilder::new()
        .scheme(HttpAuthScheme::Bearer)
        .description(Some("`Authorization: Bearer KEY`: an API key, or a JWT"))
        .build();
    let header = ApiKeyValue::with_description("X-Raceway-Key", "The API key in a header");
    let token = ApiKeyValue::with_description(
        "token",
        "The API key or JWT as a query parameter, on `/ws/*` only (browsers cannot set \
         WebSocket headers)",
    );
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
    components.add_security_scheme("key", SecurityScheme::ApiKey(ApiKey::Header(header)));
    components.add_security_scheme("token", SecurityScheme::ApiKey(ApiKey::Query(token)));
    for (path, item) in doc.paths.paths.iter_mut() {
        let access = access_for(path);
        let mut schemes = vec!["bearer", "key"];
        if path.starts_with("/ws/") {
            schemes.push("token");
        }
        let mut security: Vec<SecurityRequirement> = schemes
            .into_iter()
            .map(|s| SecurityRequirement::new(s, Vec::<String>::new()))
            .collect();
        let name = match access {
            Access::Open => {
                security.clear();
                security.push(SecurityRequirement::default());
                "open".to_string()
            }
            // Open unless `--metrics-auth`: the empty requirement says a credential is optional.
            Access::Metrics => {
                security.push(SecurityRequirement::default());
                "metrics".to_string()
            }
            Access::Role(role) => role.to_string(),
        };
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            operation.security = Some(security.clone());
            let extensions = operation.extensions.get_or_insert_with(Default::default);
            extensions.merge([("x-raceway-access", name.clone())].into_iter().collect());
        }
    }
}

/// The document as the pretty JSON text that `web/openapi.json` holds (ending in a newline).
pub fn pretty_json(doc: &Document) -> String {
    let mut text = doc
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

//! The web UI, embedded in the binary, served beside the API.
//!
//! The rule: a request that no API route answers is the UI's. A path naming an asset of the
//! built UI (`web/dist`) gets that file; any other path gets `index.html`, so a deep link such as
//! `/traces/{id}/graph` survives a reload (the browser-side router reads the path). Paths under
//! the API's prefixes (`/api/`, `/ws/`, `/events`, `/health`, `/ready`, `/metrics`) never fall
//! back to the page: a mistyped API call gets a JSON 404 instead of HTML it cannot parse.
//!
//! `build.rs` builds the UI and points `RACEWAY_WEB_DIST` at it; a binary built with
//! `RACEWAY_WEB=skip` embeds nothing and answers every page with how to build the UI.

use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use rust_embed::Embed;
use serde_json::json;

#[derive(Embed)]
#[folder = "$RACEWAY_WEB_DIST"]
struct Assets;

/// Path prefixes that belong to the API: never answered with the UI's page.
const API_PREFIXES: &[&str] = &["/api", "/ws", "/events", "/health", "/ready", "/metrics"];

const NOT_BUILT: &str = "<!doctype html><html><head><title>Raceway</title></head><body \
style=\"font-family:sans-serif;max-width:40em;margin:3em auto\"><h1>Raceway</h1><p>This binary \
was built without its web UI (<code>RACEWAY_WEB=skip</code>). The API answers under \
<code>/api/</code>.</p><p>To build the UI in, install Node.js 20+ with npm and run <code>cargo \
build</code> again without <code>RACEWAY_WEB=skip</code> (it runs <code>npm ci</code> and \
<code>npm run build</code> in <code>web/</code>).</p></body></html>";

/// Whether `path` belongs to the API rather than to the UI.
pub fn is_api_path(path: &str) -> bool {
    API_PREFIXES.iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// The fallback handler: an embedded asset, else the UI's page, else a JSON 404 for API paths.
pub async fn serve_ui(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if is_api_path(path) {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no route {path}")})),
        )
            .into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let name = path.trim_start_matches('/');
    if !name.is_empty() {
        if let Some(file) = Assets::get(name) {
            // Vite names assets by content hash: they never change under one name.
            let cache = if name.starts_with("assets/") {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            };
            return (
                [
                    (header::CONTENT_TYPE, file.metadata.mimetype().to_string()),
                    (header::CACHE_CONTROL, cache.to_string()),
                ],
                file.data,
            )
                .into_response();
        }
    }
    match Assets::get("index.html") {
        Some(page) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            page.data,
        )
            .into_response(),
        None => Html(NOT_BUILT).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;

    use super::*;

    async fn get(path: &str) -> (StatusCode, String, String) {
        let response = serve_ui(Method::GET, path.parse().expect("a path")).await;
        let status = response.status();
        let kind = response.headers()[header::CONTENT_TYPE]
            .to_str()
            .expect("ASCII")
            .to_string();
        let body = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        (status, kind, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn deep_links_get_the_page_and_api_paths_a_json_404() {
        let (status, kind, page) = get("/traces/aaaaaaaa-aaaa-4aaa-aaaa-aaaaaaaaaaaa/graph").await;
        assert_eq!(status, StatusCode::OK);
        assert!(kind.starts_with("text/html"), "{kind}");
        // The built UI's page, or (RACEWAY_WEB=skip) the one saying how to build it.
        assert!(page.contains("id=\"root\"") || page.contains("RACEWAY_WEB=skip"));
        let (status, kind, body) = get("/api/no-such-route").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(kind, "application/json");
        assert!(body.contains("no route /api/no-such-route"), "{body}");
    }

    #[tokio::test]
    async fn assets_are_served_with_their_type() {
        let Some(script) = Assets::iter().find(|name| name.ends_with(".js")) else {
            return; // built with RACEWAY_WEB=skip: nothing embedded
        };
        let (status, kind, _) = get(&format!("/{script}")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(kind.contains("javascript"), "{kind}");
    }

    #[test]
    fn api_paths_are_told_from_pages() {
        for path in [
            "/api/traces",
            "/ws/events/live",
            "/events",
            "/health",
            "/metrics",
            "/ready",
        ] {
            assert!(is_api_path(path), "{path}");
        }
        for path in [
            "/",
            "/traces/abc",
            "/races",
            "/live",
            "/assets/index.js",
            "/eventsx",
        ] {
            assert!(!is_api_path(path), "{path}");
        }
    }
}

//! Access control for every HTTP listener of Raceway (gateway, query API, `raceway up`).
//!
//! Rule: once any credential is configured (an API key or a JWT key), every route needs a
//! credential whose roles cover the route's [`Access`]: `POST /events` needs `ingest`, `/api/*`
//! and `/ws/*` need `read`, `/api/admin/*` needs `admin`, `/metrics` needs `read` when
//! `--metrics-auth` is set; `/health`, `/ready` and the web UI's page and assets stay open. The
//! access a route needs is decided from its method and path alone ([`access_for`]), in one
//! place, so a route added to any router is covered without touching this crate. Without
//! credentials everything is open (the embedded default for one developer on a laptop).
//!
//! Before that, every request passes the browser checks ([`browser`]): a foreign `Origin` and,
//! on a loopback listener, a `Host` that is not a loopback name get 403 (cross-site requests and
//! DNS rebinding would otherwise reach a developer's local Raceway from any web page).
//!
//! A credential is `Authorization: Bearer SECRET`, `X-Raceway-Key: SECRET`, or on `/ws/*` a
//! `token` query parameter (browsers cannot set WebSocket headers). 401 for a missing or invalid
//! credential, 403 for the wrong role; errors are JSON `{"error": ...}`. The caller
//! ([`Principal`]: key name or JWT subject, roles, tenant) is put in the request's extensions
//! for handlers (tenant checks, per-tenant rate limits), and each API call is logged once
//! (target `raceway::access`: principal, tenant, method, path, status, latency).

mod browser;
mod config;
mod jwt;
mod keys;
mod layer;
mod roles;

pub use browser::BrowserPolicy;
pub use config::{AuthConfig, AuthError, Tenant};
pub use jwt::{JwtKey, JwtVerifier};
pub use keys::{parse_key_file, ApiKey};
pub use layer::{access_for, protect, Access, Principal};
pub use roles::{Role, Roles};

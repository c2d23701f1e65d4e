//! Checks against requests a web page makes on a user's behalf.
//!
//! - `Origin`: a browser sends it on cross-site requests (and same-site POSTs and WebSockets).
//!   A request whose origin is neither the server's own (same scheme, host and port as the
//!   request's `Host`) nor listed (`--allowed-origin`) gets 403, so a page on another site
//!   cannot read or write through a developer's browser. Requests without `Origin` (the SDKs,
//!   curl, same-origin GETs) pass.
//! - `Host`: on a listener bound to a loopback address, a request whose `Host` is not a loopback
//!   name (`localhost`, `*.localhost`, 127.0.0.0/8, `::1`) nor listed (`--allowed-host`) gets
//!   403: DNS rebinding points an attacker's name at 127.0.0.1, and the browser then sends that
//!   name as `Host`.

use std::net::IpAddr;

use axum::http::{HeaderMap, Uri};

/// The browser checks of one listener.
#[derive(Debug, Clone, Default)]
pub struct BrowserPolicy {
    /// Origins accepted besides the server's own, e.g. `https://grafana.example.com`.
    pub allowed_origins: Vec<String>,
    /// Host names accepted besides loopback names on a loopback listener.
    pub allowed_hosts: Vec<String>,
    /// The listener is bound to a loopback address: check `Host`.
    pub loopback_listener: bool,
    /// The listener serves HTTPS (the server's own origin is `https://...`).
    pub tls: bool,
}

impl BrowserPolicy {
    /// Why the request is refused, if it is.
    pub fn check(&self, headers: &HeaderMap, uri: &Uri) -> Result<(), String> {
        let host = headers
            .get("host")
            .and_then(|v| v.to_str().ok())
            .or_else(|| uri.authority().map(|a| a.as_str()));
        if self.loopback_listener {
            if let Some(host) = host {
                let name = host_name(host);
                if !is_loopback_name(name) && !self.allowed_hosts.iter().any(|h| h == name) {
                    return Err(format!(
                        "host `{name}` is not served here (loopback listener; see --allowed-host)"
                    ));
                }
            }
        }
        if let Some(origin) = headers.get("origin") {
            let origin = origin.to_str().unwrap_or_default().trim_end_matches('/');
            let scheme = if self.tls { "https" } else { "http" };
            let own = host.map(|h| format!("{scheme}://{h}"));
            let allowed = own.as_deref() == Some(origin)
                || self
                    .allowed_origins
                    .iter()
                    .any(|o| o.trim_end_matches('/') == origin);
            if !allowed {
                return Err(format!(
                    "origin `{origin}` is not allowed (see --allowed-origin)"
                ));
            }
        }
        Ok(())
    }
}

/// `example.com:8080` -> `example.com`, `[::1]:80` -> `::1`.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

fn is_loopback_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == "localhost"
        || lower.ends_with(".localhost")
        || lower.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    fn check(policy: &BrowserPolicy, pairs: &[(&'static str, &'static str)]) -> bool {
        policy
            .check(&headers(pairs), &Uri::from_static("/"))
            .is_ok()
    }

    #[test]
    fn loopback_listeners_serve_loopback_names_only() {
        let policy = BrowserPolicy {
            loopback_listener: true,
            allowed_hosts: vec!["raceway.test".into()],
            ..BrowserPolicy::default()
        };
        for host in [
            "localhost:8080",
            "127.0.0.1:8080",
            "[::1]:8080",
            "app.localhost",
            "raceway.test:1",
        ] {
            let ok = policy.check(
                &{
                    let mut h = HeaderMap::new();
                    h.insert("host", host.parse().unwrap());
                    h
                },
                &Uri::from_static("/"),
            );
            assert!(ok.is_ok(), "{host}");
        }
        assert!(!check(&policy, &[("host", "evil.example:8080")]));
        let open = BrowserPolicy::default();
        assert!(
            check(&open, &[("host", "evil.example:8080")]),
            "not a loopback listener"
        );
    }

    #[test]
    fn foreign_origins_are_refused() {
        let policy = BrowserPolicy {
            allowed_origins: vec!["https://grafana.example".into()],
            ..BrowserPolicy::default()
        };
        assert!(
            check(&policy, &[("host", "localhost:8080")]),
            "no Origin: SDKs, curl"
        );
        assert!(check(
            &policy,
            &[
                ("host", "localhost:8080"),
                ("origin", "http://localhost:8080")
            ]
        ));
        assert!(check(
            &policy,
            &[
                ("host", "localhost:8080"),
                ("origin", "https://grafana.example")
            ]
        ));
        assert!(!check(
            &policy,
            &[
                ("host", "localhost:8080"),
                ("origin", "https://evil.example")
            ]
        ));
        assert!(!check(
            &policy,
            &[("host", "localhost:8080"), ("origin", "null")]
        ));
        assert!(!check(
            &policy,
            &[
                ("host", "localhost:8080"),
                ("origin", "http://localhost:9999")
            ]
        ));
    }
}

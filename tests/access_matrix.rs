//! The credential x route x tenant matrix through `raceway up`, on both stores (embedded
//! SQLite, and ClickHouse).
//!
//! The routes are every operation of the served OpenAPI document (every route is registered
//! with `routes!`, which describes it there, so a new route is in the matrix without touching
//! this file), plus what the document does not describe: the web UI's page, a deep link and a
//! static asset. For each: without a credential (401 unless open), with an unknown one (401),
//! and with each credential (allowed, or 403 for the wrong role). Two tenants hold one trace
//! each (the fixture in `test` for acme, a copy in `prod` for globex): on every route a tenant
//! reads its own trace and gets 404 for the other's, and no answer to a tenant holds the other
//! tenant's trace. The document's `x-raceway-access` must match what is enforced.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::setups::EmbeddedUp;
use common::*;
use reqwest::blocking::Client;
use reqwest::Method;
use serde_json::{json, Value};

const JWT_SECRET: &str = "jwt-test-secret";

fn send(method: &Method, url: &str, key: Option<&str>, body: Option<&[u8]>) -> (u16, String) {
    let mut request = Client::new().request(method.clone(), url);
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_vec());
    }
    let response = request.send().expect("request");
    let status = response.status().as_u16();
    (status, response.text().unwrap_or_default())
}

fn jwt(claims: Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .expect("token")
}

/// One route: its method, path template and the access it needs, as the issue states it
/// (`open`, `metrics`, or a role), never read from the code under test.
struct Route {
    method: Method,
    template: String,
    /// Its query parameters that name a trace or a step (`at`, `left`, `right`).
    query: Vec<String>,
}

impl Route {
    fn access(&self) -> &'static str {
        let path = self.template.as_str();
        if path == "/events" {
            "ingest"
        } else if path.starts_with("/api/") || path.starts_with("/ws/") {
            "read"
        } else if path == "/metrics" {
            "metrics"
        } else {
            "open"
        }
    }

    /// What a request sends: the tenant's events to `POST /events`, an empty spec (the trace as
    /// it was) to the other POST routes (what-if simulations), nothing with a GET.
    fn body<'a>(&self, events: &'a [u8]) -> Option<&'a [u8]> {
        match (&self.method, self.template.as_str()) {
            (&Method::POST, "/events") => Some(events),
            (&Method::POST, _) => Some(b"{}"),
            _ => None,
        }
    }

    /// Whether the route answers about one trace (named in its path or query).
    fn names_a_trace(&self) -> bool {
        self.template.contains("{id}") || self.query.iter().any(|q| q == "left")
    }

    /// The URL with `trace` and `variable` filled in.
    fn url(&self, base: &str, trace: &str, variable: &str) -> String {
        let path = self
            .template
            .replace("{id}", trace)
            .replace("{variable}", variable)
            .replace("{name}", variable);
        let query: Vec<String> = self
            .query
            .iter()
            .map(|name| match name.as_str() {
                "at" => "at=0".to_string(),
                other => format!("{other}={trace}@0"),
            })
            .collect();
        match query.is_empty() {
            true => format!("{base}{path}"),
            false => format!("{base}{path}?{}", query.join("&")),
        }
    }
}

/// Every operation of the served document (checking its `x-raceway-access`), then the UI.
fn every_route(base: &str, key: &str) -> Vec<Route> {
    let (status, text) = send(
        &Method::GET,
        &format!("{base}/api/openapi.json"),
        Some(key),
        None,
    );
    assert_eq!(status, 200, "{text}");
    let doc: Value = serde_json::from_str(&text).expect("document");
    let mut routes = Vec::new();
    for (template, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let query = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query")
                .filter_map(|p| p["name"].as_str())
                .filter(|name| ["at", "left", "right"].contains(name))
                .map(str::to_string)
                .collect();
            let route = Route {
                method: Method::from_bytes(method.to_uppercase().as_bytes()).expect("method"),
                template: template.clone(),
                query,
            };
            assert_eq!(
                operation["x-raceway-access"],
                route.access(),
                "{method} {template}: the document's access"
            );
            routes.push(route);
        }
    }
    // The UI: its page, a deep link, and the script its page loads.
    let (_, page) = send(&Method::GET, &format!("{base}/"), None, None);
    let asset = page
        .split('"')
        .find(|s| s.starts_with("/assets/") && s.ends_with(".js"))
        .unwrap_or_else(|| panic!("no script in the UI's page: {page}"))
        .to_string();
    for path in ["/".to_string(), format!("/traces/{FIXTURE_TRACE}"), asset] {
        routes.push(Route {
            method: Method::GET,
            template: path,
            query: Vec::new(),
        });
    }
    routes
}

/// A credential: the key, its roles, its tenant.
type Credential = (String, &'static str, Option<&'static str>);

/// Polls until `url` answers 200 to `key` with a body for which `ready` holds.
fn wait_until(url: &str, key: &str, ready: impl Fn(&Value) -> bool, up: &Raceway) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (status, text) = send(&Method::GET, url, Some(key), None);
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status == 200 && ready(&body) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{url}: {status} {text}\n{}",
            up.output()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn run_matrix(label: &str, clickhouse: Option<(&str, &str)>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut args = vec![
        "--api-key",
        "reader:read:r1",
        "--api-key",
        "writer:ingest:w1",
        "--api-key",
        "admin:admin:a1",
        "--api-key",
        "both:ingest+read:b1",
        "--api-key",
        "acme-key:read+ingest:t1:acme",
        "--api-key",
        "globex-key:read+ingest:t2:globex",
        "--tenant",
        "acme=test",
        "--tenant",
        "globex=prod,staging",
        "--jwt-hs256-secret",
        JWT_SECRET,
        "--metrics-auth",
        "--trace-idle-ms",
        "300",
    ];
    if let Some((url, database)) = clickhouse {
        args.extend(["--clickhouse", url, "--database", database]);
    }
    let (mut up, base) = EmbeddedUp::args(dir.path(), &args).start();

    // acme's trace is the fixture (environment `test`); globex's a copy in `prod`.
    let (globex_body, globex_trace) = fixture_copy("prod", '9', "ledger");
    let acme = Held::new(FIXTURE_TRACE.to_string(), "balance", fixture());
    let globex = Held::new(globex_trace, "ledger", globex_body);
    for (key, Held { trace, body, .. }) in [("t1", &acme), ("t2", &globex)] {
        let (status, text) = send(
            &Method::POST,
            &format!("{base}/events"),
            Some(key),
            Some(body),
        );
        assert_eq!(status, 200, "{label}: {text}");
        // Analysed (so every per-trace route has an answer) and its race found.
        let analysed = format!("{base}/api/traces/{trace}/anomalies");
        wait_until(&analysed, "r1", |_| true, &up);
        let races = format!("{base}/api/traces/{trace}/races");
        wait_until(&races, "r1", |b| b["races"][0].is_object(), &up);
    }

    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("now")
        .as_secs()
        + 3600;
    let credentials: Vec<Credential> = vec![
        ("r1".into(), "read", None),
        ("w1".into(), "ingest", None),
        ("a1".into(), "admin", None),
        ("b1".into(), "ingest+read", None),
        ("t1".into(), "read+ingest", Some("acme")),
        ("t2".into(), "read+ingest", Some("globex")),
        (
            jwt(json!({"sub": "jwt-reader", "roles": ["read"], "exp": exp})),
            "read",
            None,
        ),
        (
            jwt(
                json!({"sub": "jwt-acme", "roles": ["read", "ingest"], "tenant": "acme", "exp": exp}),
            ),
            "read+ingest",
            Some("acme"),
        ),
    ];
    let routes = every_route(&base, "r1");
    assert!(routes.len() >= 25, "{label}: {} routes", routes.len());
    for route in &routes {
        let (method, path) = (&route.method, &route.template);
        let url = route.url(&base, FIXTURE_TRACE, "balance");
        let body = route.body(&acme.body);
        let (status, text) = send(method, &url, None, body);
        if route.access() == "open" {
            assert!(
                status < 400,
                "{label}: {method} {path} is open: {status} {text}"
            );
            continue;
        }
        assert_eq!(
            status, 401,
            "{label}: {method} {path} without a key: {text}"
        );
        assert_eq!(
            send(method, &url, Some("wrong"), body).0,
            401,
            "{label}: {path}"
        );
        for (key, roles, tenant) in &credentials {
            let needed = if route.access() == "metrics" {
                "read"
            } else {
                route.access()
            };
            let has_role = roles.split('+').any(|r| r == needed);
            let (status, text) = send(method, &url, Some(key), body);
            let who = format!("{label}: {method} {path} as {roles} {tenant:?}");
            if !has_role {
                assert_eq!(status, 403, "{who}: {text}");
                assert!(text.contains("\"error\""), "{who}: JSON error: {text}");
                continue;
            }
            match *tenant {
                // Past access control; a plain GET of the WebSocket route is 400 (no upgrade).
                None => assert!(
                    ![401, 403].contains(&status) && status < 500,
                    "{who}: {status} {text}"
                ),
                Some("acme") => check_tenant(&base, route, key, &acme, &globex, &who),
                Some(_) => check_tenant(&base, route, key, &globex, &acme, &who),
            }
        }
    }

    // Lists: a tenant sees its own trace, a caller without tenant sees both.
    for (key, own, other) in [("t1", &acme, &globex), ("t2", &globex, &acme)] {
        for list in ["/api/traces", "/api/races"] {
            let (_, text) = send(&Method::GET, &format!("{base}{list}"), Some(key), None);
            assert!(
                text.contains(&own.trace) && !text.contains(&other.trace),
                "{key} {list}: {text}"
            );
        }
    }
    let (_, text) = send(
        &Method::GET,
        &format!("{base}/api/traces"),
        Some("r1"),
        None,
    );
    assert!(
        text.contains(&acme.trace) && text.contains(&globex.trace),
        "{text}"
    );
    // Naming another tenant's environment is forbidden; a token for an undeclared tenant too.
    let races = |key: &str, query: &str| {
        send(
            &Method::GET,
            &format!("{base}/api/races{query}"),
            Some(key),
            None,
        )
        .0
    };
    assert_eq!(races("t2", "?environment=test"), 403, "{label}");
    assert_eq!(races("t2", "?environment=prod"), 200, "{label}");
    let ghost = jwt(json!({"roles": ["read"], "tenant": "ghost", "exp": exp}));
    assert_eq!(races(&ghost, ""), 403, "{label}");
    let expired = jwt(json!({"roles": ["read"], "exp": 1000}));
    assert_eq!(races(&expired, ""), 401, "{label}");
    assert!(up.terminate().success(), "{}", up.output());
}

/// One tenant's data: its trace, the variable of its race, the body that posted it.
struct Held {
    trace: String,
    variable: &'static str,
    body: Vec<u8>,
}

impl Held {
    fn new(trace: String, variable: &'static str, body: Vec<u8>) -> Held {
        Held {
            trace,
            variable,
            body,
        }
    }

    /// Its event ids: text only an answer about its data can hold (its trace id also appears
    /// in a 404 that repeats the asked id).
    fn event_ids(&self) -> Vec<String> {
        let body: Value = serde_json::from_slice(&self.body).expect("JSON");
        body["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| e["id"].as_str().expect("id").to_string())
            .collect()
    }

    /// Panics when `text` holds any of this data's event ids, or (`with_trace`) its trace id.
    fn assert_absent(&self, text: &str, with_trace: bool, who: &str) {
        let mut markers = self.event_ids();
        if with_trace {
            markers.push(self.trace.clone());
        }
        for marker in markers {
            assert!(!text.contains(&marker), "{who}: shows {marker}: {text}");
        }
    }
}

/// What a tenant's credential gets from `route`: its own trace (2xx, for a route about one
/// trace), 404 for the other tenant's, and never an answer holding the other tenant's data. The
/// trace model spans every environment: 403. POST /events: only into its environments.
fn check_tenant(base: &str, route: &Route, key: &str, own: &Held, other: &Held, who: &str) {
    let method = &route.method;
    if route.template == "/events" {
        let url = route.url(base, "", "");
        let (status, text) = send(method, &url, Some(key), Some(&own.body));
        assert_eq!(status, 200, "{who}: own environment: {text}");
        let (status, text) = send(method, &url, Some(key), Some(&other.body));
        assert_eq!(status, 403, "{who}: another tenant's environment: {text}");
        return;
    }
    let url = route.url(base, &other.trace, other.variable);
    let (status, text) = send(method, &url, Some(key), route.body(&[]));
    if route.names_a_trace() {
        assert_eq!(status, 404, "{who}: the other tenant's trace: {text}");
    } else if route.template == "/api/clusters" {
        assert_eq!(status, 403, "{who}: {text}");
    } else {
        assert!(status < 500 && status != 401, "{who}: {status} {text}");
    }
    other.assert_absent(&text, false, who);
    let url = route.url(base, &own.trace, own.variable);
    let (status, text) = send(method, &url, Some(key), route.body(&[]));
    other.assert_absent(&text, true, who);
    if route.names_a_trace() {
        assert_eq!(status, 200, "{who}: its own trace: {text}");
    }
    if route.template == "/api/variables" {
        // Variable names are data too: its own, never the other tenant's.
        let list: Value = serde_json::from_str(&text).expect("variables JSON");
        let names: Vec<&str> = list["variables"]
            .as_array()
            .expect("variables")
            .iter()
            .filter_map(|v| v["name"].as_str())
            .collect();
        assert!(
            names.iter().any(|n| n.contains(own.variable)),
            "{who}: its own variable: {text}"
        );
        assert!(
            !names.iter().any(|n| n.contains(other.variable)),
            "{who}: the other tenant's variable: {text}"
        );
    }
}

#[test]
fn role_route_tenant_matrix_on_the_embedded_store() {
    run_matrix("embedded", None);
}

#[test]
fn role_route_tenant_matrix_on_clickhouse() {
    let url = clickhouse();
    let database = unique_name("raceway_access");
    run_matrix("clickhouse", Some((&url, &database)));
    drop_database(&url, &database);
}

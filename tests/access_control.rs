//! Access control end to end through `raceway up`: the acceptance (a reader and a
//! writer key), then a matrix of credential (none, each role, tenants, JWT) x route (every route
//! of the query API and the gateway, enumerated from their routers, plus /metrics and /ready) on
//! both stores (embedded SQLite, and ClickHouse), and the browser checks.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::setups::EmbeddedUp;
use common::*;
use raceway_query_api::TenantScope;
use reqwest::blocking::Client;
use reqwest::Method;
use serde_json::{json, Value};

const JWT_SECRET: &str = "jwt-test-secret";

/// `raceway up` on a data folder of its own (and ClickHouse when `clickhouse` is given).
fn start(
    dir: &std::path::Path,
    clickhouse: Option<(&str, &str)>,
    extra: &[&str],
) -> (Raceway, String) {
    let mut args: Vec<&str> = extra.to_vec();
    if let Some((url, database)) = clickhouse {
        args.extend(["--clickhouse", url, "--database", database]);
    }
    EmbeddedUp::args(dir, &args).start()
}

fn send(method: Method, url: &str, key: Option<&str>, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut request = Client::new().request(method.clone(), url);
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if method == Method::POST {
        request = request
            .header("content-type", "application/json")
            .body(fixture());
    }
    let response = request.send().expect("request");
    let status = response.status().as_u16();
    let body = response.json().unwrap_or(Value::Null);
    (status, body)
}

#[test]
fn a_reader_reads_and_a_writer_writes_acceptance() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (up, base) = start(
        dir.path(),
        None,
        &[
            "--api-key",
            "reader:read:r1",
            "--api-key",
            "writer:ingest:w1",
        ],
    );
    let races = format!("{base}/api/races");
    let events = format!("{base}/events");
    let (status, body) = send(Method::GET, &races, None, &[]);
    assert_eq!(status, 401, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    assert_eq!(send(Method::GET, &races, Some("w1"), &[]).0, 403);
    assert_eq!(send(Method::GET, &races, Some("r1"), &[]).0, 200);
    assert_eq!(send(Method::POST, &events, Some("r1"), &[]).0, 403);
    assert_eq!(send(Method::POST, &events, Some("w1"), &[]).0, 200);
    // The SDKs' way: X-Raceway-Key, JSON body, no Origin.
    assert_eq!(
        send(Method::POST, &events, None, &[("x-raceway-key", "w1")]).0,
        200
    );
    // Open routes stay open.
    assert_eq!(
        send(Method::GET, &format!("{base}/health"), None, &[]).0,
        200
    );
    assert_eq!(
        send(Method::GET, &format!("{base}/metrics"), None, &[]).0,
        200
    );
    // One access-log line per API call, with the key's name and never its secret.
    let log = up.output();
    assert!(
        log.lines()
            .any(|l| l.contains("api call") && l.contains("reader") && l.contains("/api/races")),
        "{log}"
    );
    assert!(!log.contains("r1\""), "a secret in the log:\n{log}");
}

fn jwt(claims: Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .expect("token")
}

/// Every route with its parameters filled for the fixture's trace and variable, the method it
/// is served on, and its tenant scope (`None` outside the query API).
fn every_route() -> Vec<(Method, String, Option<TenantScope>)> {
    let fill = |path: &str| {
        path.replace("{id}", FIXTURE_TRACE)
            .replace("{variable}", "balance")
            .replace("{name}", "balance")
    };
    let mut routes: Vec<(Method, String, Option<TenantScope>)> = raceway_query_api::route_paths()
        .into_iter()
        .map(|(path, scope)| (Method::GET, fill(path), Some(scope)))
        .collect();
    for (method, path) in raceway_gateway::route_paths() {
        if !routes.iter().any(|(_, p, _)| p == path) {
            routes.push((
                Method::from_bytes(method.as_str().as_bytes()).expect("method"),
                path.to_string(),
                None,
            ));
        }
    }
    // The process-level routes of `raceway up` (src/serve.rs).
    routes.push((Method::GET, "/metrics".into(), None));
    routes.push((Method::GET, "/ready".into(), None));
    routes
}

/// What a credential may do with a route: `Some(true)` allowed, `Some(false)` forbidden (403),
/// `None`: the route is open to anyone.
fn expected(
    role_of_key: &str,
    tenant: Option<&str>,
    method: &Method,
    path: &str,
    scope: Option<TenantScope>,
) -> Option<bool> {
    let needed = if path == "/events" {
        "ingest"
    } else if path.starts_with("/api/") || path == "/metrics" {
        "read"
    } else {
        return None;
    };
    let _ = method;
    let has_role = role_of_key.split('+').any(|r| r == needed);
    let tenant_ok = match (tenant, scope) {
        (None, _) | (_, None) | (_, Some(TenantScope::NoData)) => true,
        (Some(_), Some(TenantScope::EnvironmentParameter)) => true,
        (Some(_), Some(TenantScope::Unconfined)) => false,
    };
    // The fixture's events are in environment `test`, which only tenant `acme` owns.
    let write_ok = path != "/events" || tenant.is_none_or(|t| t == "acme");
    Some(has_role && tenant_ok && write_ok)
}

fn run_matrix(label: &str, clickhouse: Option<(&str, &str)>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut up, base) = start(
        dir.path(),
        clickhouse,
        &[
            "--api-key",
            "reader:read:r1",
            "--api-key",
            "writer:ingest:w1",
            "--api-key",
            "admin:admin:a1",
            "--api-key",
            "both:ingest+read:b1",
            "--api-key",
            "acme-reader:read+ingest:t1:acme",
            "--api-key",
            "globex-reader:read+ingest:t2:globex",
            "--tenant",
            "acme=test",
            "--tenant",
            "globex=prod",
            "--jwt-hs256-secret",
            JWT_SECRET,
            "--metrics-auth",
            "--trace-idle-ms",
            "300",
        ],
    );
    // Data to read: the fixture's race (environment `test`).
    assert_eq!(
        send(Method::POST, &format!("{base}/events"), Some("w1"), &[]).0,
        200
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (status, body) = send(Method::GET, &format!("{base}/api/races"), Some("r1"), &[]);
        if status == 200 && body["total"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{label}: no race\n{}",
            up.output()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("now")
        .as_secs()
        + 3600;
    let jwt_reader = jwt(json!({"sub": "jwt-reader", "roles": ["read"], "exp": exp}));
    let jwt_acme =
        jwt(json!({"sub": "jwt-acme", "roles": ["read", "ingest"], "tenant": "acme", "exp": exp}));
    let credentials: Vec<(&str, &str, Option<&str>)> = vec![
        ("r1", "read", None),
        ("w1", "ingest", None),
        ("a1", "admin", None),
        ("b1", "ingest+read", None),
        ("t1", "read+ingest", Some("acme")),
        ("t2", "read+ingest", Some("globex")),
        (&jwt_reader, "read", None),
        (&jwt_acme, "read+ingest", Some("acme")),
    ];
    let routes = every_route();
    assert!(routes.len() >= 18, "{label}: {} routes", routes.len());
    for (method, path, scope) in &routes {
        let url = format!("{base}{path}");
        let (status, body) = send(method.clone(), &url, None, &[]);
        let open = expected("", None, method, path, *scope).is_none();
        if open {
            assert!(
                status < 400,
                "{label}: {method} {path} is open: {status} {body}"
            );
        } else {
            assert_eq!(
                status, 401,
                "{label}: {method} {path} without a credential: {body}"
            );
            let (status, _) = send(method.clone(), &url, Some("wrong"), &[]);
            assert_eq!(status, 401, "{label}: {method} {path} with an unknown key");
        }
        for (key, roles, tenant) in &credentials {
            let (status, body) = send(method.clone(), &url, Some(key), &[]);
            match expected(roles, *tenant, method, path, *scope) {
                None => assert!(status < 400, "{label}: {method} {path}: {status}"),
                Some(true) => assert!(
                    status != 401 && status != 403 && status < 500,
                    "{label}: {method} {path} as {roles} {tenant:?}: {status} {body}"
                ),
                Some(false) => {
                    assert_eq!(
                        status, 403,
                        "{label}: {method} {path} as {roles} {tenant:?}: {body}"
                    );
                    assert!(body["error"].is_string(), "{label}: JSON error: {body}");
                }
            }
        }
    }

    // Tenants read only their environments: globex (prod) sees no race, acme (test) sees it,
    // and naming another tenant's environment is forbidden.
    let races = |key: &str, query: &str| {
        send(
            Method::GET,
            &format!("{base}/api/races{query}"),
            Some(key),
            &[],
        )
    };
    assert_eq!(races("t1", "").1["total"], 1, "{label}");
    assert_eq!(races("t2", "").1["total"], 0, "{label}");
    assert_eq!(races("t2", "?environment=test").0, 403, "{label}");
    assert_eq!(
        races("t2", "?environment=prod&environment=test").0,
        403,
        "{label}"
    );
    assert_eq!(races(&jwt_acme, "").1["total"], 1, "{label}");
    // A token for a tenant nobody declared, or expired, or badly signed.
    let ghost = jwt(json!({"roles": ["read"], "tenant": "ghost", "exp": exp}));
    assert_eq!(races(&ghost, "").0, 403, "{label}");
    let expired = jwt(json!({"roles": ["read"], "exp": 1000}));
    assert_eq!(races(&expired, "").0, 401, "{label}");

    // Browser checks: a foreign Origin, a rebinding Host.
    let url = format!("{base}/api/races");
    assert_eq!(
        send(
            Method::GET,
            &url,
            Some("r1"),
            &[("origin", "https://evil.example")]
        )
        .0,
        403
    );
    assert_eq!(
        send(Method::GET, &url, Some("r1"), &[("origin", &base)]).0,
        200
    );
    assert_eq!(
        send(Method::GET, &url, Some("r1"), &[("host", "evil.example")]).0,
        403
    );
    assert_eq!(
        send(
            Method::GET,
            &format!("{base}/health"),
            None,
            &[("host", "evil.example")]
        )
        .0,
        403
    );
    assert!(up.terminate().success(), "{}", up.output());
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

#[test]
fn an_api_keys_file_and_bad_options() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("keys");
    std::fs::write(&file, "# keys\nreader:read:r1\n").expect("write");
    let file = file.to_string_lossy().to_string();
    let (_up, base) = start(dir.path(), None, &["--api-keys-file", &file]);
    assert_eq!(
        send(Method::GET, &format!("{base}/api/races"), Some("r1"), &[]).0,
        200
    );
    assert_eq!(
        send(Method::GET, &format!("{base}/api/races"), None, &[]).0,
        401
    );

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_raceway"))
        .args(["up", "--api-key", "x:read:s:ghost"])
        .output()
        .expect("raceway");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("ghost"));
}

/// `--tls-cert`/`--tls-key`: the listener speaks HTTPS (and access control still applies).
#[test]
fn tls_serves_https_with_the_given_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let addr = free_addr();
    let data_dir = dir.path().join("data").to_string_lossy().to_string();
    let (cert_arg, key_arg) = (
        cert.to_string_lossy().to_string(),
        key.to_string_lossy().to_string(),
    );
    let up = Raceway::start(
        &[
            "up",
            "--http-addr",
            &addr,
            "--data-dir",
            &data_dir,
            "--tls-cert",
            &cert_arg,
            "--tls-key",
            &key_arg,
            "--api-key",
            "reader:read:r1",
        ],
        dir.path(),
    );
    let pem = std::fs::read(&cert).expect("cert");
    let client = Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("certificate"))
        .build()
        .expect("client");
    let base = format!(
        "https://localhost:{}",
        addr.rsplit(':').next().expect("port")
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let answer = client.get(format!("{base}/health")).send();
        if answer.as_ref().is_ok_and(|r| r.status().is_success()) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no HTTPS: {answer:?}\n{}",
            up.output()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let races = format!("{base}/api/races");
    assert_eq!(client.get(&races).send().expect("GET").status(), 401);
    let status = client
        .get(&races)
        .bearer_auth("r1")
        .send()
        .expect("GET")
        .status();
    assert_eq!(status, 200);
    assert!(
        reqwest::blocking::get(format!("http://{addr}/health")).is_err(),
        "plain HTTP is not served"
    );
}

/// `--redact-variables` / `--redact-key`: the fixture's `balance` values never reach the store,
/// the race on `balance` is still found.
#[test]
fn redacted_values_are_never_stored_and_races_are_still_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (up, base) = start(
        dir.path(),
        None,
        &[
            "--redact-variables",
            "bal*",
            "--redact-key",
            "k3y",
            "--trace-idle-ms",
            "300",
        ],
    );
    post_events(&base, fixture());
    let races = wait_for_races(&base, FIXTURE_TRACE, std::time::Duration::from_secs(60));
    assert_fixture_race(&races);
    let trace = Client::new()
        .get(format!("{base}/api/traces/{FIXTURE_TRACE}"))
        .send()
        .and_then(|r| r.text())
        .expect("trace");
    let audit = Client::new()
        .get(format!(
            "{base}/api/traces/{FIXTURE_TRACE}/audit-trail/balance"
        ))
        .send()
        .and_then(|r| r.text())
        .expect("audit trail");
    for text in [&trace, &audit] {
        assert!(text.contains("redacted:"), "{text}");
        for value in ["\"new_value\":15", "\"new_value\":20", "\"old_value\":10"] {
            assert!(
                !text.replace(' ', "").contains(value),
                "{value} stored: {text}"
            );
        }
    }
    // Equal values, equal hashes: the first write's new value (15) is the second's old value.
    let body: Value = serde_json::from_str(&audit).expect("JSON");
    let accesses = body["accesses"].as_array().expect("accesses");
    assert_eq!(accesses.len(), 2, "{body}");
    assert_eq!(accesses[0]["new_value"], accesses[1]["old_value"], "{body}");
    drop(up);
}

//! The OpenAPI document: `web/openapi.json` is what `raceway up` serves at `/api/openapi.json`,
//! every route the processes serve is in it, and real answers (the fixture's trace and the
//! banking demo's) validate against its schemas.
//!
//! Regenerate `web/openapi.json` after changing a route or a response type:
//! `RACEWAY_UPDATE_OPENAPI=1 cargo test --test openapi`.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::setups::EmbeddedUp;
use common::{fixture, post_events, repo_path, wait_for_races, FIXTURE_TRACE};
use serde_json::{json, Value};

const SPEC_FILE: &str = "web/openapi.json";

fn get(url: &str) -> (u16, String) {
    let response = reqwest::blocking::get(url).unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    (status, response.text().unwrap_or_default())
}

fn served_spec(base: &str) -> Value {
    let (status, text) = get(&format!("{base}/api/openapi.json"));
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).expect("the document is JSON")
}

/// (method, path) of every operation in `spec`, e.g. `("get", "/api/traces/{id}")`.
fn operations(spec: &Value) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            found.push((method.clone(), path.clone()));
        }
    }
    found
}

#[test]
fn the_committed_document_is_what_raceway_up_serves() {
    let dir = tempfile::tempdir().unwrap();
    let (_up, base) = EmbeddedUp::args(dir.path(), &[]).start();
    let spec = served_spec(&base);
    assert_eq!(spec["openapi"], "3.1.0");
    let text = format!("{}\n", serde_json::to_string_pretty(&spec).unwrap());
    let path = repo_path(SPEC_FILE);
    if std::env::var_os("RACEWAY_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &text).expect("write web/openapi.json");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "{SPEC_FILE} is stale: regenerate it with `RACEWAY_UPDATE_OPENAPI=1 cargo test --test \
         openapi` and commit it"
    );
}

/// Fills a path template with ids that exist (the fixture's trace and its variable).
fn concrete(path: &str) -> String {
    let url = path
        .replace("{id}", FIXTURE_TRACE)
        .replace("{variable}", "balance")
        .replace("{name}", "balance");
    // The required query parameters of the time-travel routes.
    match path {
        "/api/traces/{id}/state" => format!("{url}?at=0"),
        "/api/state/compare" => format!("{url}?left={FIXTURE_TRACE}@0&right={FIXTURE_TRACE}@3"),
        _ => url,
    }
}

#[test]
fn every_served_route_is_in_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let (_up, base) = EmbeddedUp::args(dir.path(), &[]).start();
    let spec = served_spec(&base);
    let ops = operations(&spec);
    for expected in [
        "/events",
        "/health",
        "/ready",
        "/metrics",
        "/api/openapi.json",
    ] {
        assert!(
            ops.iter().any(|(_, p)| p == expected),
            "{expected} missing from {ops:?}"
        );
    }
    // Each documented operation is routed: the router's own "no route" answer is a 404 or 405
    // with an empty body, a handler's 404 is a JSON error.
    let client = reqwest::blocking::Client::new();
    for (method, path) in &ops {
        let url = format!("{base}{}", concrete(path));
        let request = match method.as_str() {
            "get" => client.get(&url),
            "post" => client.post(&url).body("{}"),
            other => panic!("unexpected method {other} for {path}"),
        };
        let response = request.send().expect("request");
        let status = response.status().as_u16();
        let body = response.text().unwrap_or_default();
        assert!(
            status != 405 && !(status == 404 && body.is_empty()),
            "{method} {path} is documented but not routed ({status})"
        );
    }
    // Routes are only ever added with `utoipa_axum::routes!`, which documents them: a plain
    // axum `.route(` in the serving code would serve an undocumented route.
    for dir in ["src", "query-api/src", "ingest/gateway/src"] {
        for file in rust_files(&repo_path(dir)) {
            let text = std::fs::read_to_string(&file).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                assert!(
                    !code.contains(".route(") && !code.contains(".route_service("),
                    "{}:{}: routes must be added with `routes!` so they are documented",
                    file.display(),
                    n + 1
                );
            }
        }
    }
}

fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// A validator of the `status` answer of `method path`, resolving `$ref`s within `spec`.
fn validator(spec: &Value, method: &str, path: &str, status: u16) -> jsonschema::Validator {
    let pointer = format!(
        "/paths/{}/{method}/responses/{status}/content/application~1json/schema",
        path.replace('~', "~0").replace('/', "~1")
    );
    let schema = spec
        .pointer(&pointer)
        .unwrap_or_else(|| panic!("no schema for {status} of {method} {path}"));
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": spec["components"],
        "allOf": [schema],
    });
    jsonschema::validator_for(&root).expect("a valid JSON Schema")
}

fn assert_valid(spec: &Value, path: &str, url: &str, status: u16, body: &str) {
    let value: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{url}: {e}"));
    let errors: Vec<String> = validator(spec, "get", path, status)
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "GET {url} ({status}): {errors:#?}");
}

#[test]
fn answers_about_the_fixture_and_the_demo_match_the_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let (_up, base) = EmbeddedUp::args(dir.path(), &[]).start();
    post_events(&base, fixture());
    assert!(!wait_for_races(&base, FIXTURE_TRACE, Duration::from_secs(30)).is_empty());
    let demo = Command::new(env!("CARGO_BIN_EXE_raceway"))
        .args(["demo", "--url", &base])
        .output()
        .expect("raceway demo");
    assert!(
        demo.status.success(),
        "demo failed: {}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let spec = served_spec(&base);

    // Every trace (the fixture's and the demo's) through every GET route of one trace.
    let (_, traces) = get(&format!("{base}/api/traces?limit=1000"));
    let traces: Value = serde_json::from_str(&traces).unwrap();
    let ids: Vec<String> = traces["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["trace_id"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.len() > 1, "the demo's traces are listed: {traces}");
    let mut checked = 0;
    for (method, path) in operations(&spec) {
        let skip = ["/metrics", "/api/openapi.json", "/ready"];
        if method != "get" || skip.contains(&path.as_str()) || path.starts_with("/ws/") {
            continue;
        }
        let urls: Vec<String> = if path.contains("{id}") {
            ids.iter()
                .map(|id| format!("{base}{}", concrete(&path).replace(FIXTURE_TRACE, id)))
                .collect()
        } else {
            vec![format!("{base}{}", concrete(&path))]
        };
        for url in urls {
            let (status, body) = get(&url);
            // Anomalies of a trace exist once the trace stage analysed it; a 404 is documented.
            assert!(status == 200 || status == 404, "GET {url}: {status} {body}");
            assert_valid(&spec, &path, &url, status, &body);
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} answers checked");

    // Error answers too.
    let path = "/api/traces/{id}";
    let url = format!("{base}/api/traces/not-a-uuid");
    let (status, body) = get(&url);
    assert_eq!(status, 400);
    assert_valid(&spec, path, &url, status, &body);
}

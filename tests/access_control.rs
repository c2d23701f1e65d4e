//! Access control end to end through `raceway up`: the acceptance (a reader and a
//! writer key), the browser checks, a keys file, TLS and redaction. The credential x route x
//! tenant matrix is `access_matrix.rs`.

mod common;

use common::setups::EmbeddedUp;
use common::*;
use reqwest::blocking::Client;
use reqwest::Method;
use serde_json::Value;

/// `raceway up` on a data folder of its own under `dir`, with `extra` options.
fn start(dir: &std::path::Path, extra: &[&str]) -> (Raceway, String) {
    EmbeddedUp::args(dir, extra).start()
}

/// The acceptance's keys: a reader and a writer.
const READER_AND_WRITER: [&str; 4] = [
    "--api-key",
    "reader:read:r1",
    "--api-key",
    "writer:ingest:w1",
];

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
    let (up, base) = start(dir.path(), &READER_AND_WRITER);
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

    // Browser checks: a foreign Origin, a rebinding Host (open routes too).
    let foreign = [("origin", "https://evil.example")];
    assert_eq!(send(Method::GET, &races, Some("r1"), &foreign).0, 403);
    assert_eq!(
        send(Method::GET, &races, Some("r1"), &[("origin", &base)]).0,
        200
    );
    let rebound = [("host", "evil.example")];
    assert_eq!(send(Method::GET, &races, Some("r1"), &rebound).0, 403);
    assert_eq!(
        send(Method::GET, &format!("{base}/health"), None, &rebound).0,
        403
    );
}

#[test]
fn an_api_keys_file_and_bad_options() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("keys");
    std::fs::write(&file, "# keys\nreader:read:r1\n").expect("write");
    let file = file.to_string_lossy().to_string();
    let (_up, base) = start(dir.path(), &["--api-keys-file", &file]);
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
    let mut openssl = std::process::Command::new("openssl");
    openssl
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
        .arg(&cert);
    succeed(&mut openssl);
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
    let redact = ["--redact-variables", "bal*", "--redact-key", "k3y"];
    let (up, base) = start(
        dir.path(),
        &[&redact[..], &["--trace-idle-ms", "300"]].concat(),
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

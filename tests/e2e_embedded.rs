//! End to end on the embedded default: `raceway up` with nothing installed.

mod common;

use std::time::Duration;

use common::setups::EmbeddedUp;
use common::*;

#[test]
fn fixture_race_is_found_by_raceway_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut up, base) = EmbeddedUp::args(dir.path(), &[]).start();

    let answer = post_events(&base, fixture());
    assert_eq!(answer["accepted"], 3, "{answer}");
    assert_eq!(answer["rejected"].as_array().map(Vec::len), Some(0));

    let races = wait_for_races(&base, FIXTURE_TRACE, Duration::from_secs(20));
    assert_fixture_race(&races);

    let traces: serde_json::Value = reqwest::blocking::get(format!("{base}/api/traces"))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(traces["total"], 1, "{traces}");
    assert_eq!(traces["traces"][0]["trace_id"], FIXTURE_TRACE);
    assert_eq!(traces["traces"][0]["event_count"], 3);
    assert_eq!(traces["traces"][0]["race_count"], 1);

    let trace: serde_json::Value =
        reqwest::blocking::get(format!("{base}/api/traces/{FIXTURE_TRACE}"))
            .unwrap()
            .json()
            .unwrap();
    let events = trace["events"].as_array().expect("events");
    assert_eq!(events.len(), 3);
    assert_eq!(
        events[0]["id"], "bbbbbbbb-bbbb-4bbb-bbbb-bbbbbbbbbbbb",
        "the parent comes first in causal order"
    );

    // The trace stage stored the accesses before forwarding them, so with the race found the
    // audit trail is complete: both concurrent writes, in the race.
    let trail: serde_json::Value = reqwest::blocking::get(format!(
        "{base}/api/traces/{FIXTURE_TRACE}/audit-trail/balance"
    ))
    .unwrap()
    .json()
    .unwrap();
    let accesses = trail["accesses"].as_array().expect("accesses");
    assert_eq!(accesses.len(), 2, "{trail}");
    for access in accesses {
        assert_eq!(access["causally_linked_to_previous"], false, "{trail}");
        assert_eq!(
            access["in_findings"].as_array().map(Vec::len),
            Some(1),
            "{trail}"
        );
    }
    assert!(up.terminate().success(), "{}", up.output());
}

#[test]
fn accepted_events_survive_kill_9_of_raceway_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Long enough that the trace cannot complete before the kill.
    let up_args = EmbeddedUp::args(dir.path(), &["--trace-idle-ms", "3000"]);
    let (mut up, base) = up_args.start();
    let answer = post_events(&base, fixture());
    assert_eq!(answer["accepted"], 3);
    up.kill_9();

    let (_restarted, base) = up_args.start();
    let races = wait_for_races(&base, FIXTURE_TRACE, Duration::from_secs(30));
    assert_fixture_race(&races);
}

#[test]
fn bad_events_are_rejected_with_their_field_and_the_rest_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_up, base) = EmbeddedUp::args(dir.path(), &[]).start();

    let mut body: serde_json::Value = serde_json::from_slice(&fixture()).unwrap();
    body["events"][1]["trace_id"] = "not-a-uuid".into();
    let answer = post_events(&base, serde_json::to_vec(&body).unwrap());
    assert_eq!(answer["accepted"], 2, "{answer}");
    let rejected = answer["rejected"].as_array().expect("rejected");
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["index"], 1);
    assert!(
        rejected[0]["field"]
            .as_str()
            .unwrap_or_default()
            .contains("trace_id"),
        "{answer}"
    );

    let response = reqwest::blocking::Client::new()
        .post(format!("{base}/events"))
        .header("content-type", "application/json")
        .body("[1, 2, 3]")
        .send()
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: serde_json::Value = response.json().unwrap();
    assert!(error["error"].as_str().is_some_and(|m| !m.is_empty()));
}

/// `raceway demo` with no instance running: starts its own, runs the banking example (API,
/// ledger, worker) with the SDK, and prints the race across the API and the worker; `--safe`
/// finds nothing.
#[test]
fn demo_prints_the_banking_race_and_nothing_when_safe() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let racy = run_demo(&["--embedded"], tmp.path());
    assert!(
        racy.contains("lost_update on account:alice.balance"),
        "{racy}"
    );
    assert!(
        racy.contains("[critical] data_race on account:alice.balance"),
        "{racy}"
    );
    // The lost update says what it lost: the balance's values are numbers.
    assert!(
        racy.contains("applying both updates gives") && racy.contains(" lost"),
        "{racy}"
    );
    assert!(
        racy.contains("bank-api at examples/banking/src/api.rs:")
            && racy.contains("bank-worker at examples/banking/src/worker.rs:"),
        "locations point into the example's services: {racy}"
    );
    let safe = run_demo(&["--embedded", "--safe"], tmp.path());
    assert!(safe.contains("no races found"), "{safe}");
}

/// The embedded demo stops its Raceway when it ends, so it names the data folder it keeps
/// instead of a dead URL; `raceway up` on that folder serves the demo's trace and its races.
#[test]
fn the_embedded_demo_keeps_its_data_for_raceway_up() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = run_demo(&["--embedded"], tmp.path());
    assert!(
        !out.contains("details: http"),
        "no URL of a stopped server: {out}"
    );
    let kept = out
        .lines()
        .find_map(|l| l.strip_prefix("the embedded Raceway has stopped; its data is kept in "))
        .expect("the data folder is named");
    assert!(kept.starts_with(&*tmp.path().to_string_lossy()), "{kept}");
    let trace = out
        .lines()
        .find_map(|l| l.strip_prefix("trace ")?.split(':').next())
        .expect("the trace id is printed");
    assert!(
        out.contains(&format!(
            "raceway up --data-dir {kept}, then open http://127.0.0.1:8080/traces/{trace}/races"
        )),
        "{out}"
    );

    let addr = free_addr();
    let mut up = Raceway::start(
        &["up", "--http-addr", &addr, "--data-dir", kept],
        tmp.path(),
    );
    let base = format!("http://{addr}");
    up.wait_http_ok(&format!("{base}/health"));
    let races = wait_for_races(&base, trace, Duration::from_secs(20));
    assert!(
        races.iter().any(|r| r["kind"] == "lost_update"),
        "the demo's lost update is served again: {races:?}"
    );
}

/// Runs `raceway demo ARGS...` with its temporary folder under `tmp`; returns its output.
fn run_demo(args: &[&str], tmp: &std::path::Path) -> String {
    let args: Vec<&str> = std::iter::once("demo")
        .chain(args.iter().copied())
        .collect();
    run_raceway_with(&args, &[("TMPDIR", tmp.as_os_str())])
}

/// `raceway prune` drops old data from the embedded store and keeps what is newer than the
/// cutoff; the bus log has already dropped what its consumers committed past.
#[test]
fn prune_drops_old_data_and_the_bus_log_compacts_itself() {
    let dir = tempfile::tempdir().expect("tempdir");
    let up_args = EmbeddedUp::args(dir.path(), &["--trace-idle-ms", "200"]);
    let data_dir = dir.path().join("data").to_string_lossy().to_string();
    let prune = |older_than: &str| {
        run_raceway(&["prune", "--older-than", older_than, "--data-dir", &data_dir])
    };
    {
        let (mut up, base) = up_args.start();
        post_events(&base, fixture());
        assert_fixture_race(&wait_for_races(
            &base,
            FIXTURE_TRACE,
            Duration::from_secs(30),
        ));
        assert!(up.terminate().success(), "{}", up.output());
    }
    // The fixture is from 2024: a 1000-week cutoff keeps it, a 1-day cutoff drops it.
    // Bus records went as every consumer group committed past them, whatever their age: the
    // log compacted itself, and prune finds nothing left there.
    let kept = prune("1000w");
    assert!(kept.contains("events: 0 rows dropped"), "{kept}");
    let consumed = kept
        .lines()
        .find(|l| l.starts_with("bus log:"))
        .expect("bus log line");
    assert!(consumed.starts_with("bus log: 0 "), "{kept}");
    let dropped = prune("1d");
    assert!(dropped.contains("events: 3 rows dropped"), "{dropped}");
    assert!(dropped.contains("findings: 1 rows dropped"), "{dropped}");

    let (_up, base) = up_args.start();
    let traces: serde_json::Value = reqwest::blocking::get(format!("{base}/api/traces"))
        .and_then(|r| r.json())
        .expect("traces");
    assert_eq!(traces["total"], 0, "{traces}");
}

/// `body` (the fixture's events, all within 2024-01-01 12:00:00-01) moved `seconds` later, within
/// the race window (5 minutes): the race stage forgets its oldest inputs by event time.
fn seconds_later(body: &[u8], seconds: usize) -> Vec<u8> {
    let mut body: serde_json::Value = serde_json::from_slice(body).expect("JSON");
    for event in body["events"].as_array_mut().expect("events") {
        let at = event["timestamp"].as_str().expect("timestamp");
        let moved = format!("2024-01-01T12:00:{:02}", seconds);
        event["timestamp"] = serde_json::json!(at.replace("2024-01-01T12:00:00", &moved));
    }
    serde_json::to_vec(&body).expect("JSON")
}

/// The value of the unlabelled metric `name` in a Prometheus text page.
fn metric(page: &str, name: &str) -> f64 {
    page.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{page}"))
}

#[test]
fn the_race_stage_forgets_its_oldest_inputs_past_its_bound() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bound = ["--max-retained-inputs", "3", "--trace-idle-ms", "200"];
    let (_up, base) = EmbeddedUp::args(dir.path(), &bound).start();
    for (n, prefix) in ['a', 'b', 'c', 'd', 'e'].into_iter().enumerate() {
        let (body, trace) = fixture_copy(&format!("bound-{n}"), prefix, &format!("balance-{n}"));
        post_events(&base, seconds_later(&body, 2 * n));
        // One trace at a time, so that each poll of the race stage holds one trace's inputs.
        let races = wait_for_races(&base, &trace, Duration::from_secs(30));
        assert_eq!(races.len(), 1, "trace {n}: {races:#?}");
        assert_eq!(races[0]["kind"], "data_race");
        assert_eq!(races[0]["variable"], format!("balance-{n}"));
    }
    let page = reqwest::blocking::get(format!("{base}/metrics"))
        .and_then(|r| r.text())
        .expect("metrics");
    // Each trace's race is found among its own inputs; the older traces' inputs are gone.
    assert!(metric(&page, "raceway_retained_accesses") <= 3.0, "{page}");
    assert!(
        metric(&page, "raceway_race_inputs_evicted_total") >= 1.0,
        "{page}"
    );
}

#[test]
fn the_race_window_bounds_what_the_race_stage_keeps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let window = ["--race-window", "1s", "--trace-idle-ms", "200"];
    let (_up, base) = EmbeddedUp::args(dir.path(), &window).start();
    for (n, prefix) in ['a', 'b', 'c'].into_iter().enumerate() {
        let (body, trace) = fixture_copy(&format!("window-{n}"), prefix, &format!("balance-{n}"));
        // Traces 2 s apart in event time: each new one ends the window of the one before.
        post_events(&base, seconds_later(&body, 2 * n));
        let races = wait_for_races(&base, &trace, Duration::from_secs(30));
        assert_eq!(races.len(), 1, "trace {n}: {races:#?}");
    }
    let page = reqwest::blocking::get(format!("{base}/metrics"))
        .and_then(|r| r.text())
        .expect("metrics");
    // Only the last trace's two accesses are kept; the window, not the bound, dropped the rest.
    assert_eq!(metric(&page, "raceway_retained_accesses"), 2.0, "{page}");
    assert_eq!(metric(&page, "raceway_race_inputs_evicted_total"), 0.0);
}

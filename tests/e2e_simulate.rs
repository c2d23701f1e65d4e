//! End to end on the embedded default: `raceway simulate` against `raceway up`, on a call from
//! `a` to `b` recorded the way the TypeScript, Python and Go SDKs record it (no clocks, b's first
//! event carrying a's span as its upstream span, a's response a child of its request). A 500 ms
//! delay on `b` raises the critical path by exactly 500 ms and reaches `a`; the CSV lists every
//! event; a service the trace never calls is an error with status 1. It waits on `/ready`'s drained signal.

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use common::setups::EmbeddedUp;
use common::*;
use serde_json::{json, Value};
use uuid::Uuid;

fn raceway(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_raceway"))
        .args(args)
        .output()
        .expect("run raceway")
}

/// The three events of one a -> b call: a's request 0..100 ms, b's handler 10..90 ms, a's
/// response 95..100 ms.
fn a_calls_b(trace: &str) -> Vec<Value> {
    let ids: Vec<String> = (0..3).map(|_| Uuid::new_v4().to_string()).collect();
    let event = |id: &str,
                 ms: u32,
                 lasting: u64,
                 service: &str,
                 kind: Value,
                 spans: (&str, Option<&str>)| {
        json!({
            "id": id, "trace_id": trace, "parent_id": null,
            "timestamp": format!("2024-01-01T12:00:00.{ms:03}Z"), "kind": kind,
            "metadata": {"thread_id": "main", "process_id": 1, "service_name": service,
                         "environment": "test", "tags": {}, "duration_ns": lasting * 1_000_000,
                         "distributed_span_id": spans.0, "upstream_span_id": spans.1},
            "causality_vector": [], "lock_set": []
        })
    };
    let request = json!({"HttpRequest": {"method": "POST", "url": "http://b/pay", "headers": [], "body": null}});
    let handler = json!({"FunctionCall": {"function_name": "pay", "module": "b", "args": {}, "file": "b.py", "line": 3}});
    let response =
        json!({"HttpResponse": {"status": 200, "headers": [], "body": null, "duration_ms": 5}});
    let mut answer = event(&ids[2], 95, 5, "a", response, ("s-a", None));
    answer["parent_id"] = json!(ids[0]);
    vec![
        event(&ids[0], 0, 100, "a", request, ("s-a", None)),
        event(&ids[1], 10, 80, "b", handler, ("s-b", Some("s-a"))),
        answer,
    ]
}

#[test]
fn simulate_command_reports_the_delay_its_reach_and_the_csv() {
    let dir = tempfile::tempdir().expect("dir");
    let (_up, base) = EmbeddedUp::args(dir.path(), &[]).start();
    let trace = Uuid::new_v4().to_string();
    let events = a_calls_b(&trace);
    let answer = post_events(
        &base,
        serde_json::to_vec(&json!({ "events": events })).expect("body"),
    );
    assert_eq!(answer["accepted"], 3, "{answer}");
    wait_drained(&[&base], None, Duration::from_secs(60));

    let api = ["--api", base.as_str()];
    let out = raceway(
        &[
            &["simulate", &trace, "--delay", "b=+500ms", "--sla", "300ms"],
            &api[..],
        ]
        .concat(),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("Critical path: 100.0 ms -> 600.0 ms (+500.0 ms)"),
        "{text}"
    );
    assert!(text.contains("Affected services"), "{text}");
    assert!(text.contains("Over their SLA"), "{text}");

    let out = raceway(
        &[
            &["simulate", &trace, "--delay", "b=+500ms", "--json"],
            &api[..],
        ]
        .concat(),
    );
    let body: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(body["critical_path"]["delta_ms"], json!(500.0));
    assert_eq!(body["affected_services"][0]["service"], json!("a"));
    assert_eq!(body["affected_services"][0]["via"][0], events[1]["id"]);

    let out = raceway(
        &[
            &["simulate", &trace, "--fail", "b=timeout:2s", "--csv"],
            &api[..],
        ]
        .concat(),
    );
    let csv = String::from_utf8_lossy(&out.stdout);
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.starts_with("event_id,"), "{csv}");

    let out = raceway(&[&["simulate", &trace, "--delay", "z=+1s"], &api[..]].concat());
    assert_eq!(out.status.code(), Some(1));
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(error.contains("no call into service `z`"), "{error}");
}

//! The typed decoding path: it reads the SDKs' usual shape straight into the model, and must
//! agree with the lenient decoder on every event (same event, or the same error through the
//! fallback), whichever path an event takes.

mod common;

use common::*;
use raceway_schemas::json::*;
use raceway_schemas::*;
use serde_json::{json, Value};

/// What the lenient decoder makes of the `i`-th event of a body.
fn lenient(i: usize, value: &Value) -> Result<Event, FieldError> {
    decode_event(value).map_err(|e| FieldError {
        field: if e.field.is_empty() {
            format!("events[{i}]")
        } else {
            format!("events[{i}].{}", e.field)
        },
        reason: e.reason,
    })
}

/// Asserts that a body of `events` decodes as the lenient decoder decodes each of them.
fn assert_agrees(events: &[Value]) {
    let body = json!({ "events": events }).to_string();
    let decoded = decode_events_body(body.as_bytes()).unwrap();
    let expected: Vec<_> = events
        .iter()
        .enumerate()
        .map(|(i, e)| lenient(i, e))
        .collect();
    assert_eq!(decoded, expected, "body {body}");
}

/// `base` with the member at `path` (dot-separated) set to `value`.
fn with(base: &Value, path: &str, value: Value) -> Value {
    let mut out = base.clone();
    let mut at = &mut out;
    let parts: Vec<&str> = path.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        at = at
            .get_mut(*part)
            .unwrap_or_else(|| panic!("no {part} in {path}"));
    }
    at[parts[parts.len() - 1]] = value;
    out
}

#[test]
fn every_kind_in_the_sdk_shape_takes_the_typed_path() {
    for event in all_kinds_events() {
        let text = encode_event(&event).to_string();
        let typed = decode_sdk_shaped_event(&text);
        if matches!(event.kind, EventKind::Custom(_)) {
            // Its payload rules depend on which members are present: the lenient path's.
            assert_eq!(typed, None);
        } else {
            assert_eq!(typed.as_ref(), Some(&event), "{text}");
        }
    }
    let all: Vec<Value> = all_kinds_events().iter().map(encode_event).collect();
    // With a `Custom` event the body is decoded event by event; without, in one pass.
    assert_agrees(&all);
    let typed_only: Vec<Value> = all_kinds_events()
        .iter()
        .filter(|e| !matches!(e.kind, EventKind::Custom(_)))
        .map(encode_event)
        .collect();
    assert_agrees(&typed_only);
}

#[test]
fn the_sdk_fixture_takes_the_typed_path() {
    let fixture: Value = serde_json::from_str(include_str!(
        "../../tests/fixtures/raceway-events-example.json"
    ))
    .unwrap();
    let events = fixture["events"].as_array().unwrap();
    for event in events {
        let typed = decode_sdk_shaped_event(&event.to_string());
        assert_eq!(typed, Some(decode_event(event).unwrap()));
    }
    assert_agrees(events);
}

#[test]
fn other_shapes_and_invalid_events_decode_as_the_lenient_decoder_says() {
    let state = encode_event(&all_kinds_events()[3]);
    let call = encode_event(&all_kinds_events()[0]);
    let lock = with_kind(json!({"LockAcquire": {"lock_id": "m", "lock_type": "RwLock::Read"}}));
    let http = with_kind(json!({"HttpRequest": {"method": "GET", "url": "/",
        "headers": {"b": "2", "a": null, "Authorization": "x"}, "body": {"z": 1, "a": [1.50, "é\n"]}}}));
    let message = with_kind(json!({"MessageSend": {"topic": "t", "partition": 3, "offset": -4}}));
    let variants = vec![
        // Lenient-only shapes, valid.
        with(&state, "metadata.thread_id", json!(17)),
        with(&state, "metadata.process_id", json!("42")),
        with(&state, "metadata.process_id", json!(42.0)),
        with(&state, "causality_vector", json!({"a": 1, "b": 2})),
        with(
            &state,
            "causality_vector",
            json!([{"component": "a", "counter": 3}]),
        ),
        with(&state, "causality_vector", json!([["a", "3"]])),
        with(&state, "lock_set", json!("one")),
        with(&state, "metadata.tags", json!({"a": 5, "b": null})),
        with(&state, "parent_id", json!("")),
        with(&state, "parent_id", Value::Null),
        with(
            &state,
            "kind",
            json!({"StateChange": state["kind"]["StateChange"], "Other": null}),
        ),
        with(&state, "kind", json!("AsyncAwait")),
        with(&state, "kind", json!({"AsyncAwait": null})),
        with(&state, "kind", json!({"FunctionReturn": {"value": 1}})),
        with(
            &state,
            "kind",
            json!({"Custom": {"name": null, "data": [1]}}),
        ),
        with(&state, "kind", json!({"Custom": {"data": 1}})),
        with(&state, "kind.StateChange.access_type", json!("atomicrmw")),
        with(&state, "kind.StateChange.old_value", Value::Null),
        with(
            &state,
            "kind.StateChange.new_value",
            json!({"b": [1, {"d": 1, "c": 2}], "a": 1e3}),
        ),
        with(&state, "timestamp", json!("2024-01-01T12:00:00.123456789")),
        with(&state, "timestamp", json!("2024-01-01T12:00:00+02:00")),
        with(&state, "unknown_member", json!({"anything": [1, 2]})),
        with(&lock, "kind.LockAcquire.mode", json!("SHARED")),
        with(&lock, "kind.LockAcquire.mode", Value::Null),
        with(
            &http,
            "kind.HttpRequest.headers",
            json!([["b", "1"], ["a", null], ["b", "3"]]),
        ),
        with(&http, "kind.HttpRequest.body", Value::Null),
        with(&message, "kind.MessageSend.partition", json!("7")),
        with(&call, "kind.FunctionCall.line", json!(10.0)),
        with(&call, "kind.FunctionCall.args", json!("text")),
        lock.clone(),
        http.clone(),
        message.clone(),
        // Invalid: each must keep its lenient error.
        json!(5),
        json!([state.clone()]),
        with(&state, "id", json!("not-a-uuid")),
        with(&state, "id", json!(12)),
        with(&state, "trace_id", Value::Null),
        with(&state, "timestamp", json!("yesterday")),
        with(&state, "timestamp", json!("3000-01-01T00:00:00Z")),
        with(&state, "metadata", Value::Null),
        with(&state, "metadata", json!(["t1", 4, "svc"])),
        with(&state, "metadata.thread_id", json!("")),
        with(&state, "metadata.service_name", Value::Null),
        with(&state, "metadata.process_id", json!(-1)),
        with(&state, "metadata.process_id", json!(4_294_967_296_u64)),
        with(&state, "causality_vector", json!([["a", 1, 2]])),
        with(&state, "causality_vector", json!([["a", -1]])),
        with(&state, "lock_set", json!([null])),
        with(
            &state,
            "kind",
            json!({"StateChange": ["x", null, 1, "l", "Write"]}),
        ),
        with(
            &state,
            "kind",
            json!({"StateChange": null, "LockAcquire": null}),
        ),
        with(&state, "kind.StateChange.access_type", json!("Sometimes")),
        with(&state, "kind.StateChange.access_type", json!("")),
        with(&state, "kind.StateChange.variable", json!("")),
        with(&lock, "kind.LockAcquire.mode", json!("")),
        with(&lock, "kind.LockAcquire.mode", json!("both")),
        with(&lock, "kind.LockAcquire.lock_id", Value::Null),
        with(&http, "kind.HttpRequest.headers", json!("a: b")),
        with(
            &message,
            "kind.MessageSend.partition",
            json!(2_147_483_648_u64),
        ),
        with(&call, "kind.FunctionCall.line", json!(1.5)),
        with_kind(json!({"MemoryFence": {"ordering": "Sideways"}})),
        with_kind(json!({"HttpResponse": {"status": 70000}})),
    ];
    assert_agrees(&variants);
    for variant in &variants {
        assert_agrees(std::slice::from_ref(variant));
        if let Some(typed) = decode_sdk_shaped_event(&variant.to_string()) {
            assert_eq!(Ok(typed), decode_event(variant), "{variant}");
        }
    }
}

#[test]
fn members_given_twice_decode_as_the_lenient_decoder_says() {
    // Raw text: a JSON value tree keeps the last of two equal member names.
    let event = encode_event(&all_kinds_events()[3]).to_string();
    let twice = event.replacen(
        "\"thread_id\":",
        "\"thread_id\":\"first\",\"thread_id\":",
        1,
    );
    let expected = decode_event(&serde_json::from_str(&twice).unwrap());
    assert_eq!(decode_sdk_shaped_event(&twice), None);
    let body = format!("{{\"events\":[{twice}]}}");
    assert_eq!(decode_events_body(body.as_bytes()).unwrap(), vec![expected]);
    let body_twice = format!("{{\"events\":[{event}],\"events\":[{twice},{event}]}}");
    let decoded = decode_events_body(body_twice.as_bytes()).unwrap();
    assert_eq!(decoded.len(), 2, "the last `events` member counts");
}

#[test]
fn escaped_strings_decode_on_the_typed_path() {
    let event = with(
        &encode_event(&all_kinds_events()[3]),
        "metadata.thread_id",
        json!("tab\there \"quoted\" \u{e9}"),
    );
    let text = event.to_string();
    assert!(text.contains("\\t"), "{text}");
    let typed = decode_sdk_shaped_event(&text).expect("typed path");
    assert_eq!(typed.metadata.thread_id, "tab\there \"quoted\" \u{e9}");
    assert_eq!(Ok(typed), decode_event(&event));
}

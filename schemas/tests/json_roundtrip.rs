//! Raceway JSON: round trips through JSON and Avro, the encoded form, bodies, redaction.

mod common;

use common::*;
use raceway_schemas::avro::{decode_event_batch, encode_event_batch};
use raceway_schemas::json::*;
use raceway_schemas::*;
use serde_json::json;

#[test]
fn every_kind_round_trips_json_to_model_to_avro_to_model() {
    for event in all_kinds_events() {
        let json = encode_event(&event);
        let decoded =
            decode_event(&json).unwrap_or_else(|e| panic!("{}: {e}\n{json:#}", event.kind.name()));
        assert_eq!(decoded, event, "JSON round trip of {}", event.kind.name());
    }
    // The SDK path end to end: a body as an SDK sends it -> model -> Avro -> model.
    let body = json!({"events": all_kinds_events().iter().map(encode_event).collect::<Vec<_>>()});
    let events: Vec<Event> = decode_events_body(body.to_string().as_bytes())
        .unwrap()
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    let batch = EventBatch {
        trace_id: trace_id(),
        events,
    };
    assert_eq!(
        decode_event_batch(&encode_event_batch(&batch).unwrap()).unwrap(),
        batch
    );
    assert_eq!(batch.events, all_kinds_events());
}

#[test]
fn encoded_json_looks_like_what_the_sdks_send() {
    let events = all_kinds_events();
    let json = encode_event(&events[3]);
    assert_eq!(json["kind"]["StateChange"]["old_value"], json!(100));
    assert_eq!(json["kind"]["StateChange"]["access_type"], "AtomicRMW");
    assert_eq!(json["timestamp"], "2024-01-01T12:00:00.003000369Z");
    assert_eq!(json["causality_vector"], json!([]));
    let json = encode_event(&events[4]);
    assert_eq!(
        json["causality_vector"],
        json!([["bank#bank-1/worker-0", 5], ["web#web-1/main", 7]])
    );
    assert_eq!(json["kind"]["LockAcquire"]["lock_type"], "RwLock::Read");
    let request = encode_event(&events[7]);
    assert_eq!(
        request["kind"]["HttpRequest"]["headers"]["content-type"],
        "application/json"
    );
    assert_eq!(
        encode_event(&events[0])["timestamp"],
        "2024-01-01T12:00:00Z"
    );
}

#[test]
fn json_text_is_canonical_so_round_trips_are_exact() {
    let kind =
        kind_of(json!({"FunctionCall": {"args": {"b": [1, {"d": 1, "c": 2.50}], "a": "x"}}}));
    let EventKind::FunctionCall(call) = kind else {
        panic!()
    };
    assert_eq!(call.args, r#"{"a":"x","b":[1,{"c":2.5,"d":1}]}"#);
    assert_eq!(
        canonical_json_text(&json!({"z": null, "a": "é\n"})),
        r#"{"a":"é\n","z":null}"#
    );
    // Missing values: args defaults to JSON null; old_value null or missing is None.
    let EventKind::FunctionCall(call) = kind_of(json!({"FunctionCall": {}})) else {
        panic!()
    };
    assert_eq!(call.args, "null");
    let change = kind_of(
        json!({"StateChange": {"variable": "x", "old_value": null, "access_type": "Read"}}),
    );
    let EventKind::StateChange(change) = change else {
        panic!()
    };
    assert_eq!(
        (change.old_value, change.new_value.as_str()),
        (None, "null")
    );
}

#[test]
fn bodies_of_the_wrong_shape_are_rejected_and_events_decode_independently() {
    assert!(matches!(
        decode_events_body(b"{\"events\": ["),
        Err(BodyError::NotJson(_))
    ));
    assert!(matches!(
        decode_events_body(b"[]"),
        Err(BodyError::NotAnObject { found: "an array" })
    ));
    assert!(matches!(
        decode_events_body(b"{\"event\": []}"),
        Err(BodyError::MissingEvents)
    ));
    let err = decode_events_body(b"{\"events\": {}}").unwrap_err();
    assert_eq!(
        err.to_string(),
        "\"events\" must be an array of events, got an object"
    );
    assert!(decode_events_body(b"{\"events\": []}").unwrap().is_empty());

    let good = encode_event(&all_kinds_events()[0]);
    let bad = with_kind(json!({"StateChange": {"variable": "x", "access_type": "Wrte"}}));
    let body = json!({"events": [good, bad, 7, good]}).to_string();
    let results = decode_events_body(body.as_bytes()).unwrap();
    assert_eq!(results.len(), 4);
    assert!(results[0].is_ok() && results[3].is_ok());
    assert_eq!(
        results[1].as_ref().unwrap_err().field,
        "events[1].kind.StateChange.access_type"
    );
    assert_eq!(
        results[2].as_ref().unwrap_err().to_string(),
        "field `events[2]`: expected an event object, got a number"
    );
}

#[test]
fn secret_headers_are_redacted_in_any_case() {
    let kind = kind_of(
        json!({"HttpRequest": {"method": "GET", "url": "/", "headers": {
            "authorization": "Bearer t", "COOKIE": "s=1", "Set-Cookie": "a", "Proxy-Authorization": "p", "Accept": "*/*"
        }}}),
    );
    let mut event = with_kind_event(kind);
    redact_sensitive_headers(&mut event);
    let EventKind::HttpRequest(request) = &event.kind else {
        panic!()
    };
    for (name, value) in &request.headers {
        let expected = if name == "Accept" { "*/*" } else { REDACTED };
        assert_eq!(value, expected, "{name}");
    }
    let mut response = all_kinds_events()[8].clone();
    let EventKind::HttpResponse(r) = &mut response.kind else {
        panic!()
    };
    r.headers = vec![("set-cookie".into(), "id=1".into())];
    redact_sensitive_headers(&mut response);
    let EventKind::HttpResponse(r) = &response.kind else {
        panic!()
    };
    assert_eq!(r.headers[0].1, "[REDACTED]");
    // Other kinds are untouched.
    let mut other = all_kinds_events()[0].clone();
    redact_sensitive_headers(&mut other);
    assert_eq!(other, all_kinds_events()[0]);
}

fn with_kind_event(kind: EventKind) -> Event {
    Event {
        kind,
        ..all_kinds_events()[0].clone()
    }
}

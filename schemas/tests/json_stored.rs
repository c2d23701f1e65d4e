//! Stored payloads: the text the encoder wrote decodes to an event that encodes to that same
//! text (so a store can send the text as it is), and the happens-before reader of a payload
//! gives what the full decoder gives on every field it keeps.

mod common;

use common::*;
use raceway_schemas::json::{
    decode_event, decode_events_body, decode_happens_before_fields, decode_sdk_shaped_event,
    EventJson,
};
use raceway_schemas::*;

/// A stored text decoded as the stores decode payloads: the typed path, else the lenient one.
fn decode_stored(text: &str) -> Event {
    decode_sdk_shaped_event(text).unwrap_or_else(|| {
        let value: serde_json::Value = serde_json::from_str(text).expect("stored text is JSON");
        decode_event(&value).expect("stored text decodes")
    })
}

/// Every kind, then every kind with texts the encoder rewrites (not JSON, not canonical,
/// `"null"`, duplicate or unsorted headers, escapes, extreme numbers), then every scenario
/// fixture's events.
fn stored_forms() -> Vec<Event> {
    let mut events = all_kinds_events();
    let mut rewritten = all_kinds_events();
    for event in &mut rewritten {
        event.parent_id = Some(trace_id());
        event.timestamp_ns = -1_234_567_891;
        event.lock_set = vec!["m\"1".into(), "é\n\u{1}".into()];
        event.metadata.tags = [("b", "2"), ("a", "\\")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        event.metadata.duration_ns = Some(u64::MAX);
        event.metadata.instance_id = Some(String::new());
        match &mut event.kind {
            EventKind::FunctionCall(c) => c.args = r#"{ "z": 1.0e2, "a": [ 1 , -0.0 ] }"#.into(),
            EventKind::StateChange(s) => {
                s.old_value = Some("not json {".into());
                s.new_value = "  \"spaced\"  ".into();
            }
            EventKind::HttpRequest(r) => {
                r.headers = vec![
                    ("Set-Cookie".into(), "a".into()),
                    ("Set-Cookie".into(), "b".into()),
                ];
                r.body = Some("null".into());
            }
            EventKind::HttpResponse(r) => {
                r.headers = vec![("b".into(), "1".into()), ("a".into(), "2".into())];
                r.body = Some("12345678901234567890123".into());
            }
            EventKind::MessageSend(m) | EventKind::MessageReceive(m) => {
                m.partition = Some(-1);
                m.offset = Some(i64::MIN);
            }
            EventKind::Custom(c) => c.data = "[{\"b\":{},\"a\":\"\\u00e9\"}]".into(),
            _ => {}
        }
    }
    events.extend(rewritten);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(files.len() > 100, "scenario fixtures in {}", dir.display());
    for file in files {
        let body = std::fs::read(&file).unwrap();
        events.extend(
            decode_events_body(&body)
                .unwrap()
                .into_iter()
                .map(|e| e.unwrap()),
        );
    }
    events
}

#[test]
fn stored_texts_encode_again_to_themselves() {
    for event in stored_forms() {
        let stored = EventJson(&event).to_json();
        let again = EventJson(decode_stored(&stored)).to_json();
        assert_eq!(again, stored, "{}", event.kind.name());
    }
}

/// The fields of an event the happens-before analysis reads.
fn ordering_fields(e: &Event) -> impl PartialEq + std::fmt::Debug {
    let kind = match &e.kind {
        EventKind::StateChange(s) => Some((
            s.variable.clone(),
            s.access_type,
            s.old_value.clone(),
            s.new_value.clone(),
        )),
        EventKind::LockAcquire(l) | EventKind::LockRelease(l) => Some((
            l.lock_id.clone(),
            AccessType::Read,
            Some(l.lock_type.clone()),
            l.mode.as_str().to_string(),
        )),
        EventKind::MemoryFence(f) => Some((
            String::new(),
            AccessType::Read,
            None,
            f.ordering.as_str().to_string(),
        )),
        _ => None,
    };
    let m = &e.metadata;
    (
        (e.id, e.trace_id, e.parent_id, e.timestamp_ns, e.kind.name()),
        (e.actor(), m.environment.clone(), m.tags.clone()),
        (m.distributed_span_id.clone(), m.upstream_span_id.clone()),
        (e.causality_vector.clone(), e.lock_set.clone(), kind),
    )
}

#[test]
fn happens_before_fields_are_the_full_decodings() {
    for event in stored_forms() {
        let stored = EventJson(&event).to_json();
        let full = decode_stored(&stored);
        match decode_happens_before_fields(&stored) {
            Some(read) => assert_eq!(ordering_fields(&read), ordering_fields(&full)),
            None => assert_eq!(event.kind.name(), "Custom", "only Custom is left out"),
        }
    }
}

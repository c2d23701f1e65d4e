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

/// Every kind, then every kind with texts the encoder rewrites, then every scenario fixture's
/// events.
fn stored_forms() -> Vec<Event> {
    let mut events = all_kinds_events();
    events.extend(rewritten_kinds_events());
    let files = scenario_files();
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

/// The keys of every object the encoder writes, by path: `kind.<Kind>` for a kind's payload.
fn keys_by_path(value: &serde_json::Value, path: &str, out: &mut Vec<String>) {
    if let serde_json::Value::Object(map) = value {
        if path != ".kind" {
            let keys: Vec<&str> = map.keys().map(String::as_str).collect();
            out.push(format!("{path}: {}", keys.join(",")));
        }
        for (key, item) in map {
            if !matches!(key.as_str(), "tags" | "headers" | "args" | "data" | "body") {
                keys_by_path(item, &format!("{path}.{key}"), out);
            }
        }
    }
}

/// Every stored row holds every key the encoder writes, because no key was added since the first
/// store (the model's fields are those of the workspace's first commit). A key added here makes
/// the rows written before it lack it, and their stored text then differs from what encoding
/// them again writes: the one-trace route must then send the text only of rows that have it
/// (mark them), and this list changes with it.
#[test]
fn stored_payload_keys_are_those_of_every_stored_row() {
    let mut keys = Vec::new();
    for event in all_kinds_events() {
        let value: serde_json::Value = serde_json::from_str(&EventJson(&event).to_json()).unwrap();
        keys_by_path(&value, "", &mut keys);
    }
    keys.sort();
    keys.dedup();
    assert_eq!(keys, STORED_KEYS, "{keys:#?}");
}

/// The keys of every stored payload, by path (see `stored_payload_keys_are_those_of_every_stored_row`).
const STORED_KEYS: [&str; 17] = [
    ".kind.AsyncAwait: awaited_at,future_id",
    ".kind.AsyncSpawn: spawned_at,spawned_by,task_id,task_name",
    ".kind.Custom: data,name",
    ".kind.DatabaseQuery: database,duration_ms,query",
    ".kind.DatabaseResult: rows_affected",
    ".kind.Error: error_type,message,stack_trace",
    ".kind.FunctionCall: args,file,function_name,line,module",
    ".kind.HttpRequest: body,headers,method,url",
    ".kind.HttpResponse: body,duration_ms,headers,status",
    ".kind.LockAcquire: location,lock_id,lock_type,mode",
    ".kind.LockRelease: location,lock_id,lock_type,mode",
    ".kind.MemoryFence: location,ordering",
    ".kind.MessageReceive: key,location,offset,partition,topic",
    ".kind.MessageSend: key,location,offset,partition,topic",
    ".kind.StateChange: access_type,location,new_value,old_value,variable",
    ".metadata: distributed_span_id,duration_ns,environment,instance_id,process_id,service_name,tags,thread_id,upstream_span_id",
    ": causality_vector,id,kind,lock_set,metadata,parent_id,timestamp,trace_id",
];

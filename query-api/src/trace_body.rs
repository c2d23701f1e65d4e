//! The body of `GET /api/traces/{id}`, written straight from the stored events and their
//! causality.
//!
//! Rule: the bytes are exactly those of [`TraceEvents`] serialised (the type the OpenAPI
//! document describes, kept for it and for the test below), but nothing is built to get them:
//! the events are taken in causal order, each final clock is written from the clock's own
//! names, and the body is one buffer sized for the trace up front. An event whose stored
//! Raceway JSON the store handed (`EventsWithJson`) is that text with its closing brace
//! replaced by `,"final_clock":[...]}`: the text is what encoding the stored event writes (the
//! store's `event_with_json` says why that holds for every stored row), and [`TraceEvent`]
//! flattens the event's keys before `final_clock`, so the bytes are the same. Only an event
//! without a text is encoded. Reason: encoding the 500 events of a trace again was a third of
//! the route's instructions, and decoding them in full (for the causality, which reads a
//! fraction of each) another half; building [`TraceEvents`] moved every event, copied every
//! clock component's name, and grew axum's buffer from 128 bytes, copying the answer about a
//! dozen times. What breaks otherwise: a change to [`TraceEvents`] or [`TraceEvent`] that is
//! not made here too changes the document without changing the answer; the tests below,
//! which compare the body with [`TraceEvents`] serialised, fail then.

use raceway_analysis::TraceCausality;
use raceway_schemas::json::EventJson;
use raceway_schemas::{CompactClock, Event};
use serde::ser::{Serialize, Serializer};
use uuid::Uuid;

#[cfg(doc)]
use crate::traces::{TraceEvent, TraceEvents};

/// Bytes reserved per event: a 500-event trace of the large-trace bench answers ~650 bytes per
/// event (four clock components, a short location); a larger trace grows the buffer once or
/// twice, not a dozen times from empty.
const BYTES_PER_EVENT: usize = 768;

/// One event of the answer, as [`TraceEvent`] serialises, for an event without a stored text.
#[derive(serde::Serialize)]
struct OrderedEvent<'a> {
    #[serde(flatten)]
    event: EventJson<&'a Event>,
    final_clock: ClockPairs<'a>,
}

/// A clock as `[[component, counter], ...]` sorted by component, written from the clock's own
/// names (what `CompactClock::to_pairs` serialises, without copying them).
struct ClockPairs<'a>(&'a CompactClock);

impl Serialize for ClockPairs<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter())
    }
}

/// The stored JSON object `text` without its closing brace, to which more keys can be
/// appended: `None` unless it is an object with at least one key.
fn open_object(text: &str) -> Option<&str> {
    let open = text.strip_suffix('}')?;
    (open.starts_with('{') && open.len() > 1).then_some(open)
}

/// The JSON body of `GET /api/traces/{id}` for `trace_id`'s `events` and their `causality`
/// (from `trace_causality(events)`); `stored_json[i]`, when present, is the stored Raceway JSON
/// of the whole event `events[i]` stands for (`EventsWithJson`), written instead of encoding it.
pub(crate) fn trace_body(
    trace_id: Uuid,
    events: &[Event],
    stored_json: &[Option<String>],
    causality: &TraceCausality,
) -> serde_json::Result<Vec<u8>> {
    let mut body = Vec::with_capacity(events.len().saturating_mul(BYTES_PER_EVENT) + 128);
    body.extend_from_slice(b"{\"trace_id\":\"");
    let mut id = Uuid::encode_buffer();
    body.extend_from_slice(trace_id.hyphenated().encode_lower(&mut id).as_bytes());
    body.extend_from_slice(b"\",\"trusted_clocks\":");
    body.extend_from_slice(if causality.trusted { b"true" } else { b"false" });
    body.extend_from_slice(b",\"events\":[");
    let mut first = true;
    for &index in &causality.causal_order {
        let (Some(event), Some(per_event)) = (events.get(index), causality.per_event.get(index))
        else {
            continue;
        };
        if !first {
            body.push(b',');
        }
        first = false;
        let final_clock = ClockPairs(&per_event.clock);
        let stored = stored_json.get(index).and_then(Option::as_deref);
        match stored.and_then(open_object) {
            Some(open) => {
                body.extend_from_slice(open.as_bytes());
                body.extend_from_slice(b",\"final_clock\":");
                serde_json::to_writer(&mut body, &final_clock)?;
                body.push(b'}');
            }
            None => serde_json::to_writer(
                &mut body,
                &OrderedEvent {
                    event: EventJson(event),
                    final_clock,
                },
            )?,
        }
    }
    body.extend_from_slice(b"]}");
    Ok(body)
}

#[cfg(test)]
mod tests {
    use raceway_analysis::trace_causality;
    use raceway_schemas::json::{decode_event, decode_events_body, decode_happens_before_fields};
    use raceway_schemas::model::{TRUSTED_CLOCK_TAG, TRUSTED_CLOCK_VALUE};
    use serde_json::{json, Value};

    use super::*;
    use crate::traces::{TraceEvent, TraceEvents};

    const TRACE: &str = "00000000-0000-4000-8000-000000000001";

    /// An event of `TRACE` on `thread` at second `second`, with the SDK's `clock`, trusted as
    /// sent unless empty.
    fn event(n: u64, thread: &str, second: u32, kind: Value, clock: Value) -> Event {
        let mut tags = json!({"k": "v\n"});
        if clock.as_array().is_some_and(|pairs| !pairs.is_empty()) {
            tags[TRUSTED_CLOCK_TAG] = json!(TRUSTED_CLOCK_VALUE);
        }
        decode_event(&json!({
            "id": format!("00000000-0000-4000-8000-{n:012x}"), "trace_id": TRACE,
            "parent_id": null, "timestamp": format!("2024-01-01T12:00:{second:02}.5Z"),
            "kind": kind,
            "metadata": {"thread_id": thread, "process_id": 1, "service_name": "bank \"b\"",
                         "environment": "test", "tags": tags, "duration_ns": 1000},
            "causality_vector": clock, "lock_set": []
        }))
        .expect("event")
    }

    fn change(variable: &str, value: i64) -> Value {
        json!({"StateChange": {"variable": variable, "old_value": null, "new_value": value,
                               "location": "bank.rs:7", "access_type": "Write"}})
    }

    fn lock(kind: &str) -> Value {
        json!({kind: {"lock_id": "m", "lock_type": "Mutex", "location": "bank.rs:9"}})
    }

    /// The answer as the route built it before: [`TraceEvents`] with the events moved in and
    /// each clock's names copied.
    fn documented_answer(trace_id: Uuid, events: Vec<Event>) -> Vec<u8> {
        let causality = trace_causality(&events);
        let mut slots: Vec<Option<Event>> = events.into_iter().map(Some).collect();
        let ordered = causality
            .causal_order
            .iter()
            .filter_map(|&index| {
                Some(TraceEvent {
                    event: EventJson(slots.get_mut(index)?.take()?),
                    final_clock: causality.per_event[index].clock.to_pairs(),
                })
            })
            .collect();
        serde_json::to_vec(&TraceEvents {
            trace_id: trace_id.to_string(),
            trusted_clocks: causality.trusted,
            events: ordered,
        })
        .expect("answer")
    }

    /// Asserts the body of `events` is the documented answer, and that their clocks were
    /// `trusted` (as sent) or derived.
    fn assert_same_answer(events: Vec<Event>, trusted: bool) {
        let trace_id = Uuid::parse_str(TRACE).expect("id");
        let causality = trace_causality(&events);
        assert_eq!(causality.trusted, trusted);
        let body = trace_body(trace_id, &events, &[], &causality).expect("body");
        let expected = documented_answer(trace_id, events.clone());
        assert_eq!(
            String::from_utf8(body).expect("text"),
            String::from_utf8(expected.clone()).expect("text")
        );
        // As read from a store with every text, and with every other one.
        let every = vec![true; events.len()];
        let alternate: Vec<bool> = (0..events.len()).map(|i| i % 2 == 0).collect();
        for with_text in [every, alternate] {
            let body = stored_body(trace_id, &events, &with_text);
            assert_eq!(
                String::from_utf8(body).expect("text"),
                String::from_utf8(expected.clone()).expect("text")
            );
        }
    }

    /// The body of `events` as the route writes it from a store that holds the events marked
    /// in `with_text` as JSON text: those as their text and their happens-before fields, the
    /// others whole. Asserts the causality of what the store hands is that of the events.
    fn stored_body(trace_id: Uuid, events: &[Event], with_text: &[bool]) -> Vec<u8> {
        let (read, json): (Vec<Event>, Vec<Option<String>>) = events
            .iter()
            .zip(with_text)
            .map(|(event, &with_text)| {
                if !with_text {
                    return (event.clone(), None);
                }
                let text = EventJson(event).to_json();
                let read = decode_happens_before_fields(&text).unwrap_or_else(|| event.clone());
                (read, Some(text))
            })
            .unzip();
        let causality = trace_causality(&read);
        assert_eq!(
            causality,
            trace_causality(events),
            "causality of what is read"
        );
        trace_body(trace_id, &read, &json, &causality).expect("body")
    }

    #[test]
    fn body_of_stored_texts_is_the_documented_answer_on_every_scenario() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("scenarios")
            .filter_map(|entry| Some(entry.ok()?.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        files.sort();
        assert!(files.len() > 100, "scenario fixtures in {}", dir.display());
        for file in files {
            let body = std::fs::read(&file).expect("fixture");
            let events: Vec<Event> = decode_events_body(&body)
                .expect("body")
                .into_iter()
                .map(|e| e.expect("event"))
                .collect();
            let Some(trace_id) = events.first().map(|e| e.trace_id) else {
                continue;
            };
            let every = vec![true; events.len()];
            assert_eq!(
                stored_body(trace_id, &events, &every),
                documented_answer(trace_id, events),
                "{}",
                file.display()
            );
        }
    }

    #[test]
    fn body_is_the_documented_answer_with_derived_clocks() {
        // Given out of time order, so the causal order differs from the stored one.
        let none = json!([]);
        let events = vec![
            event(3, "t2", 3, lock("LockAcquire"), none.clone()),
            event(1, "t1", 1, lock("LockAcquire"), none.clone()),
            event(2, "t1", 2, lock("LockRelease"), none.clone()),
            event(4, "t2", 4, change("balance", 5), none.clone()),
            event(5, "t3", 2, change("balance", -1), none),
        ];
        assert_same_answer(events, false);
    }

    #[test]
    fn body_is_the_documented_answer_with_trusted_clocks() {
        let events = vec![
            event(2, "t2", 1, change("a", 2), json!([["t1", 1], ["t2", 1]])),
            event(1, "t1", 2, change("a", 1), json!([["t1", 1]])),
            event(3, "t1", 3, change("b", 3), json!([["t1", 2]])),
        ];
        assert_same_answer(events, true);
    }

    #[test]
    fn body_of_no_events_is_an_empty_list() {
        let trace_id = Uuid::parse_str(TRACE).expect("id");
        let causality = trace_causality(&[]);
        let body = trace_body(trace_id, &[], &[], &causality).expect("body");
        let value: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(
            value,
            json!({"trace_id": TRACE, "trusted_clocks": false, "events": []})
        );
        assert_eq!(body, documented_answer(trace_id, Vec::new()));
    }
}

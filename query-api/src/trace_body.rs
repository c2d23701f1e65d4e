//! The body of `GET /api/traces/{id}`, written straight from the stored events and their
//! causality.
//!
//! Rule: the bytes are exactly those of [`TraceEvents`] serialised (the type the OpenAPI
//! document describes, kept for it and for the test below), but nothing is built to get them:
//! the events are borrowed in causal order, each final clock is written from the clock's own
//! names, and the body is one buffer sized for the trace up front. Reason: building
//! [`TraceEvents`] moved every event into a new vector, copied every clock component's name
//! into a `String` (four per event on a four-thread trace), and axum's `Json` grew its buffer
//! from 128 bytes by doubling, copying the answer (hundreds of KB for a 500-event trace) about
//! a dozen times; those copies and allocations were a tenth of the route's CPU on ClickHouse,
//! where every request is another trace and nothing can be shared between requests. What breaks
//! otherwise: a change to [`TraceEvents`] or [`TraceEvent`] that is not made here too changes
//! the document without changing the answer; `body_is_the_documented_answer` fails then.

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

/// The answer's top level, in [`TraceEvents`]' field order.
#[derive(serde::Serialize)]
struct Body<'a> {
    trace_id: String,
    trusted_clocks: bool,
    events: InCausalOrder<'a>,
}

/// The events in causal order, each with its final clock (as [`TraceEvents::events`]).
struct InCausalOrder<'a> {
    events: &'a [Event],
    causality: &'a TraceCausality,
}

impl Serialize for InCausalOrder<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.causality.causal_order.iter().filter_map(|&index| {
            Some(OrderedEvent {
                event: EventJson(self.events.get(index)?),
                final_clock: ClockPairs(&self.causality.per_event.get(index)?.clock),
            })
        }))
    }
}

/// One event of the answer, as [`TraceEvent`] serialises.
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

/// The JSON body of `GET /api/traces/{id}` for `trace_id`'s `events` and their `causality`
/// (from `trace_causality(events)`).
pub(crate) fn trace_body(
    trace_id: Uuid,
    events: &[Event],
    causality: &TraceCausality,
) -> serde_json::Result<Vec<u8>> {
    let mut body = Vec::with_capacity(events.len().saturating_mul(BYTES_PER_EVENT) + 128);
    serde_json::to_writer(
        &mut body,
        &Body {
            trace_id: trace_id.to_string(),
            trusted_clocks: causality.trusted,
            events: InCausalOrder { events, causality },
        },
    )?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use raceway_analysis::trace_causality;
    use raceway_schemas::json::decode_event;
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
        let body = trace_body(trace_id, &events, &causality).expect("body");
        let expected = documented_answer(trace_id, events);
        assert_eq!(
            String::from_utf8(body).expect("text"),
            String::from_utf8(expected).expect("text")
        );
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
        let body = trace_body(trace_id, &[], &causality).expect("body");
        let value: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(
            value,
            json!({"trace_id": TRACE, "trusted_clocks": false, "events": []})
        );
        assert_eq!(body, documented_answer(trace_id, Vec::new()));
    }
}

//! Trace context in the headers of the application's own messages (Kafka or any queue with
//! byte-valued headers): the sender records `MessageSend` and attaches its clock, the receiver
//! continues the trace after the sender's send and records `MessageReceive`.
//!
//! Header names and values are those of HTTP (`traceparent`, `raceway-clock`), as UTF-8 bytes.

use raceway_schemas::{EventKind, MessageEvent};

use super::{TraceContext, RACEWAY_CLOCK, TRACEPARENT};
use crate::actor::{caller_location, Actor};
use crate::tracer::Tracer;

/// Message headers as (name, value bytes) pairs.
pub type MessageHeaders = Vec<(String, Vec<u8>)>;

/// Records that `actor` sends a message to `topic` (with `key`) at the caller's location, and
/// returns the headers to attach to it.
#[track_caller]
pub fn send_headers(actor: &mut Actor, topic: &str, key: Option<&str>) -> MessageHeaders {
    let location = caller_location();
    actor.record(EventKind::MessageSend(MessageEvent {
        topic: topic.to_string(),
        partition: None,
        offset: None,
        key: key.map(str::to_string),
        location,
    }));
    actor
        .outgoing_context()
        .headers()
        .into_iter()
        .map(|(name, value)| (name.to_string(), value.into_bytes()))
        .collect()
}

/// Where a received message came from, for the `MessageReceive` event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Received<'a> {
    /// The topic.
    pub topic: &'a str,
    /// The partition, when the transport has them.
    pub partition: Option<i32>,
    /// The offset, when the transport has them.
    pub offset: Option<i64>,
    /// The message key.
    pub key: Option<&'a str>,
}

/// An actor, labelled `name`, handling a received message: it continues the sender's trace
/// after the send (or starts a new trace when the message carries no context, or a malformed
/// one, which is logged) and records `MessageReceive` at the caller's location.
#[track_caller]
pub fn receive<'h>(
    tracer: &Tracer,
    name: &str,
    message: Received<'_>,
    headers: impl IntoIterator<Item = (&'h str, &'h [u8])>,
) -> Actor {
    let location = caller_location();
    let (mut traceparent, mut clock) = (None, None);
    for (header, value) in headers {
        if header.eq_ignore_ascii_case(TRACEPARENT) {
            traceparent = std::str::from_utf8(value).ok();
        } else if header.eq_ignore_ascii_case(RACEWAY_CLOCK) {
            clock = std::str::from_utf8(value).ok();
        }
    }
    let context = TraceContext::from_headers(|name| match name {
        TRACEPARENT => traceparent,
        RACEWAY_CLOCK => clock,
        _ => None,
    })
    .unwrap_or_else(|error| {
        tracing::warn!(topic = message.topic, %error, "raceway: ignoring message trace context");
        None
    });
    let mut actor = tracer.continue_trace(name, context.as_ref());
    actor.record(EventKind::MessageReceive(MessageEvent {
        topic: message.topic.to_string(),
        partition: message.partition,
        offset: message.offset,
        key: message.key.map(str::to_string),
        location,
    }));
    actor
}

/// rdkafka adapters (feature `kafka`).
#[cfg(feature = "kafka")]
pub mod kafka {
    use rdkafka::message::{Header, Headers, OwnedHeaders};

    use super::MessageHeaders;

    /// The headers as rdkafka `OwnedHeaders`, to pass to `FutureRecord::headers`.
    pub fn to_owned_headers(headers: &MessageHeaders) -> OwnedHeaders {
        headers
            .iter()
            .fold(OwnedHeaders::new(), |owned, (key, value)| {
                owned.insert(Header {
                    key,
                    value: Some(value),
                })
            })
    }

    /// The (name, value) pairs of a received message's headers, for [`super::receive`].
    pub fn header_pairs<H: Headers>(headers: Option<&H>) -> Vec<(&str, &[u8])> {
        headers
            .map(|headers| {
                headers
                    .iter()
                    .filter_map(|h| h.value.map(|value| (h.key, value)))
                    .collect()
            })
            .unwrap_or_default()
    }
}

//! Clock and trace propagation across services: the `traceparent` and `raceway-clock` headers
//! in the format of the existing Raceway TypeScript, Python and Go SDKs (DESIGN.md "Event
//! model"), for HTTP ([`server`] layer, [`client`] requests) and for the application's own
//! Kafka messages ([`messages`]).
//!
//! - `traceparent: 00-<trace id, the UUID without dashes>-<span id, 16 hex>-<flags>`; flag
//!   `01` means sampled.
//! - `raceway-clock: v1;<base64url, unpadded, of JSON {trace_id, span_id, parent_span_id,
//!   service, instance, clock: [[component, n], ...]}>`. Decoding accepts padded base64 too.

pub mod messages;

#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "server")]
pub mod server;

use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use raceway_schemas::VectorClock;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::SdkError;
use crate::tracer::Tracer;

/// Name of the W3C trace context header.
pub const TRACEPARENT: &str = "traceparent";
/// Name of the W3C vendor state header (passed through by the other SDKs; not used here).
pub const TRACESTATE: &str = "tracestate";
/// Name of Raceway's clock header.
pub const RACEWAY_CLOCK: &str = "raceway-clock";
/// Version prefix of the `raceway-clock` value.
const CLOCK_PREFIX: &str = "v1;";

/// What one service tells the next: the trace, the span the receiver works in, and the
/// sender's clock at the moment it sent.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceContext {
    /// The trace.
    pub trace_id: Uuid,
    /// The span the receiver works in (16 hex digits), created by the sender.
    pub span_id: String,
    /// The sender's own span, when known.
    pub parent_span_id: Option<String>,
    /// The sender's service, when known.
    pub service: Option<String>,
    /// The sender's instance, when known.
    pub instance: Option<String>,
    /// The sender's clock; the receiver joins it.
    pub clock: VectorClock,
    /// The `traceparent` sampled flag (true when there is no `traceparent`).
    pub sampled: bool,
}

/// The JSON inside `raceway-clock`, field for field as the other SDKs write it.
#[derive(Debug, Serialize, Deserialize)]
struct ClockPayload {
    trace_id: String,
    span_id: Option<String>,
    #[serde(default)]
    parent_span_id: Option<String>,
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    instance: Option<String>,
    #[serde(default)]
    clock: Vec<(String, serde_json::Value)>,
}

impl TraceContext {
    /// Reads the context from headers looked up by (lower-case) name. `Ok(None)` when neither
    /// header is present; an error when one is present but malformed.
    ///
    /// As in the other SDKs, `raceway-clock` wins over `traceparent` for the trace and span
    /// ids; the sampled flag only comes from `traceparent`.
    pub fn from_headers<'h>(
        header: impl Fn(&str) -> Option<&'h str>,
    ) -> Result<Option<TraceContext>, SdkError> {
        let traceparent = header(TRACEPARENT).map(parse_traceparent).transpose()?;
        let clock = header(RACEWAY_CLOCK).map(parse_raceway_clock).transpose()?;
        Ok(match (traceparent, clock) {
            (None, None) => None,
            (Some((trace_id, span_id, sampled)), None) => Some(TraceContext {
                trace_id,
                span_id,
                parent_span_id: None,
                service: None,
                instance: None,
                clock: VectorClock::new(),
                sampled,
            }),
            (parent, Some(mut context)) => {
                if let Some((trace_id, span_id, sampled)) = parent {
                    context.sampled = sampled;
                    if context.span_id.is_empty() {
                        context.span_id = span_id;
                    }
                    if context.trace_id.is_nil() {
                        context.trace_id = trace_id;
                    }
                }
                Some(context)
            }
        })
    }

    /// The `traceparent` value: `00-{trace id hex}-{span id}-{01 | 00}`.
    pub fn traceparent(&self) -> String {
        format!(
            "00-{}-{}-{}",
            self.trace_id.simple(),
            self.span_id,
            if self.sampled { "01" } else { "00" }
        )
    }

    /// The `raceway-clock` value: `v1;` + unpadded base64url of the JSON payload.
    pub fn raceway_clock(&self) -> String {
        let payload = ClockPayload {
            trace_id: self.trace_id.hyphenated().to_string(),
            span_id: Some(self.span_id.clone()),
            parent_span_id: self.parent_span_id.clone(),
            service: self.service.clone(),
            instance: self.instance.clone(),
            clock: self
                .clock
                .iter()
                .map(|(component, n)| (component.to_string(), n.into()))
                .collect(),
        };
        // Serialising plain strings and integers cannot fail.
        let json = serde_json::to_vec(&payload).unwrap_or_default();
        format!("{CLOCK_PREFIX}{}", URL_SAFE_NO_PAD.encode(json))
    }

    /// Both headers, ready to attach to a request or message.
    pub fn headers(&self) -> [(&'static str, String); 2] {
        [
            (TRACEPARENT, self.traceparent()),
            (RACEWAY_CLOCK, self.raceway_clock()),
        ]
    }
}

/// Parses `traceparent`: (trace id, span id, sampled).
pub fn parse_traceparent(value: &str) -> Result<(Uuid, String, bool), SdkError> {
    let bad = |reason: &str| SdkError::Header {
        header: TRACEPARENT,
        reason: format!("{reason} in {value:?}"),
    };
    let parts: Vec<&str> = value.trim().split('-').collect();
    let [_version, trace, span, flags] = parts[..] else {
        return Err(bad("expected 4 dash-separated fields"));
    };
    if trace.len() != 32 || !is_hex(trace) {
        return Err(bad("trace id is not 32 hex digits"));
    }
    if span.len() != 16 || !is_hex(span) {
        return Err(bad("span id is not 16 hex digits"));
    }
    let trace_id = Uuid::parse_str(trace).map_err(|_| bad("trace id is not a UUID"))?;
    let flags = u8::from_str_radix(flags, 16).map_err(|_| bad("flags are not hex"))?;
    Ok((trace_id, span.to_ascii_lowercase(), flags & 1 == 1))
}

/// Parses `raceway-clock` into a context (sampled, until a `traceparent` says otherwise).
pub fn parse_raceway_clock(value: &str) -> Result<TraceContext, SdkError> {
    let bad = |reason: String| SdkError::Header {
        header: RACEWAY_CLOCK,
        reason,
    };
    let encoded = value
        .trim()
        .strip_prefix(CLOCK_PREFIX)
        .ok_or_else(|| bad(format!("does not start with {CLOCK_PREFIX:?}")))?;
    let json = URL_SAFE_NO_PAD
        .decode(encoded.trim_end_matches('='))
        .or_else(|_| URL_SAFE.decode(encoded))
        .map_err(|e| bad(format!("not base64url: {e}")))?;
    let payload: ClockPayload =
        serde_json::from_slice(&json).map_err(|e| bad(format!("not the v1 JSON payload: {e}")))?;
    let trace_id = Uuid::parse_str(&payload.trace_id)
        .map_err(|e| bad(format!("trace_id {:?}: {e}", payload.trace_id)))?;
    // Like the other SDKs: skip entries that are not [string, number], never fail on them.
    let clock = VectorClock::from_pairs(payload.clock.into_iter().filter_map(|(c, n)| {
        let n = n
            .as_u64()
            .or_else(|| n.as_f64().map(|f| f.max(0.0) as u64))?;
        Some((c, n))
    }));
    Ok(TraceContext {
        trace_id,
        span_id: payload.span_id.unwrap_or_default(),
        parent_span_id: payload.parent_span_id,
        service: payload.service,
        instance: payload.instance,
        clock,
        sampled: true,
    })
}

fn is_hex(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A fresh 16-hex-digit span id.
pub(crate) fn new_span_id() -> String {
    let random = Uuid::new_v4().as_u128() as u64;
    format!("{random:016x}")
}

impl Actor {
    /// The context to send with an outgoing request or message: the actor's trace, a new span
    /// for the receiver, and the actor's current clock. Record the send (e.g. `HttpRequest`)
    /// first, so the receiver's events come after it.
    pub fn outgoing_context(&self) -> TraceContext {
        let config = self.tracer().config();
        TraceContext {
            trace_id: self.trace_id(),
            span_id: new_span_id(),
            parent_span_id: self.span_id().map(str::to_string),
            service: Some(config.service.clone()),
            instance: Some(config.instance.clone()),
            clock: self.clock().clone(),
            sampled: self.is_sampled(),
        }
    }
}

impl Tracer {
    /// An actor, labelled `name`, continuing the sender's trace: it joins the sender's clock
    /// and works in the span the sender created. Without a context, a new trace.
    pub fn continue_trace(&self, name: &str, context: Option<&TraceContext>) -> Actor {
        match context {
            None => self.start_trace(name),
            Some(context) => {
                let mut actor = self.actor_continuing(
                    name,
                    context.trace_id,
                    context.clock.clone(),
                    context.sampled,
                );
                let span = (!context.span_id.is_empty()).then(|| context.span_id.clone());
                actor.set_spans(span, context.parent_span_id.clone());
                actor
            }
        }
    }
}

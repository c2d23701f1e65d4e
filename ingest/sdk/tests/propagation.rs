//! Propagation headers: interop with the other Raceway SDKs, the tower layer and the reqwest
//! client end to end, and message headers.
#![cfg(all(feature = "server", feature = "client"))]

mod common;

use axum::routing::post;
use axum::Router;
use base64::Engine;
use common::{clock, memory_tracer};
use raceway_schemas::{EventKind, VectorClock};
use raceway_sdk::propagation::messages::{receive, send_headers, Received};
use raceway_sdk::propagation::{
    parse_raceway_clock, parse_traceparent, RACEWAY_CLOCK, TRACEPARENT,
};
use raceway_sdk::{with_current, RacewayLayer, TraceContext, TracedRequest};

/// `traceparent` as the TypeScript, Python and Go SDKs send it.
const THEIR_TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
/// `raceway-clock` as the TypeScript SDK (`Buffer.toString('base64url')`, unpadded) and the
/// Python SDK (`urlsafe_b64encode(...).rstrip("=")`) send it: compact JSON, ids as they write
/// them, components `service#instance`.
const THEIR_CLOCK: &str = "v1;eyJ0cmFjZV9pZCI6IjBhZjc2NTE5LTE2Y2QtNDNkZC04NDQ4LWViMjExYzgwMzE5YyIsInNwYW5faWQiOiJiN2FkNmI3MTY5MjAzMzMxIiwicGFyZW50X3NwYW5faWQiOiJhMWIyYzNkNGU1ZjYwNzE4Iiwic2VydmljZSI6ImNoZWNrb3V0IiwiaW5zdGFuY2UiOiJjaGVja291dC0xIiwiY2xvY2siOltbImNoZWNrb3V0I2NoZWNrb3V0LTEiLDVdLFsicGF5bWVudHMjcGF5bWVudHMtMSIsM11dfQ";
/// The same with base64 padding and a null parent span (a padded encoder, a root caller).
const THEIR_PADDED_CLOCK: &str = "v1;eyJ0cmFjZV9pZCI6IjBhZjc2NTE5LTE2Y2QtNDNkZC04NDQ4LWViMjExYzgwMzE5YyIsInNwYW5faWQiOiJiN2FkNmI3MTY5MjAzMzMxIiwicGFyZW50X3NwYW5faWQiOm51bGwsInNlcnZpY2UiOiJjaGVja291dCIsImluc3RhbmNlIjoiY2hlY2tvdXQtMSIsImNsb2NrIjpbWyJnby1zdmMjZ28tMSIsMl1dfQ==";

#[test]
fn headers_of_the_other_sdks_are_accepted() {
    let (trace_id, span, sampled) = parse_traceparent(THEIR_TRACEPARENT).unwrap();
    assert_eq!(trace_id.to_string(), "0af76519-16cd-43dd-8448-eb211c80319c");
    assert_eq!((span.as_str(), sampled), ("b7ad6b7169203331", true));

    let context = TraceContext::from_headers(|name| match name {
        TRACEPARENT => Some(THEIR_TRACEPARENT),
        RACEWAY_CLOCK => Some(THEIR_CLOCK),
        _ => None,
    })
    .unwrap()
    .unwrap();
    assert_eq!(context.trace_id, trace_id);
    assert_eq!(context.span_id, "b7ad6b7169203331");
    assert_eq!(context.parent_span_id.as_deref(), Some("a1b2c3d4e5f60718"));
    assert_eq!(context.service.as_deref(), Some("checkout"));
    assert_eq!(
        context.clock,
        VectorClock::from_pairs([("checkout#checkout-1", 5), ("payments#payments-1", 3)])
    );

    let padded = parse_raceway_clock(THEIR_PADDED_CLOCK).unwrap();
    assert_eq!(padded.parent_span_id, None);
    assert_eq!(padded.clock, VectorClock::from_pairs([("go-svc#go-1", 2)]));

    // A receiving actor continues their trace after their clock.
    let (tracer, _sink) = memory_tracer();
    let actor = tracer.continue_trace("handler", Some(&context));
    assert_eq!(actor.trace_id(), trace_id);
    assert!(context.clock.le(actor.clock()));

    for bad in [
        "00-xyz-b7ad6b7169203331-01",
        "garbage",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad-01",
    ] {
        assert!(parse_traceparent(bad).is_err(), "{bad}");
    }
    for bad in ["v2;abc", "v1;%%%", "v1;e30"] {
        assert!(parse_raceway_clock(bad).is_err(), "{bad}");
    }
}

#[test]
fn our_headers_parse_the_way_the_other_sdks_parse_them() {
    let (tracer, _sink) = memory_tracer();
    let mut actor = tracer.start_trace("caller");
    actor.write("x", &0, &1);
    let context = actor.outgoing_context();

    // traceparent: 4 fields, version 00, 32 + 16 lower-case hex digits, flags 01.
    let traceparent = context.traceparent();
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4);
    assert_eq!(parts[0], "00");
    assert_eq!(parts[1], actor.trace_id().simple().to_string());
    assert!(parts[2].len() == 16 && parts[2].bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(parts[3], "01");

    // raceway-clock: their decoders strip "v1;", re-pad, base64url-decode and read JSON.
    let value = context.raceway_clock();
    let encoded = value.strip_prefix("v1;").expect("v1 prefix");
    let padded = format!("{encoded}{}", "=".repeat((4 - encoded.len() % 4) % 4));
    let json = base64::engine::general_purpose::URL_SAFE
        .decode(padded)
        .unwrap();
    let payload: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(payload["trace_id"], actor.trace_id().to_string());
    assert_eq!(payload["span_id"], parts[2]);
    assert_eq!(payload["service"], "bank");
    let entries = payload["clock"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0][0], actor.component());
    assert_eq!(entries[0][1], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_through_the_layer_orders_caller_handler_and_response() {
    let (server_tracer, server_sink) = memory_tracer();
    let app = Router::new()
        .route(
            "/debit",
            post(|| async {
                with_current(|actor| actor.write("ledger.balance", &100, &70));
                "ok"
            }),
        )
        .layer(RacewayLayer::new(server_tracer.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let (client_tracer, client_sink) = memory_tracer();
    let mut caller = client_tracer.start_trace("caller");
    caller.write("before", &0, &1);
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/debit"))
        .send_with(&mut caller)
        .await
        .unwrap();
    assert!(
        response.headers().contains_key(RACEWAY_CLOCK),
        "server returns its clock"
    );
    caller.write("after", &0, &1);
    let trace_id = caller.trace_id();
    drop(caller);
    server_tracer.shutdown().await.unwrap();
    client_tracer.shutdown().await.unwrap();

    let (server, client) = (server_sink.events(), client_sink.events());
    let write = server
        .iter()
        .find(|e| e.state_change().is_some())
        .expect("handler write recorded");
    assert_eq!(
        write.trace_id, trace_id,
        "the server continues the caller's trace"
    );
    assert!(write.metadata.distributed_span_id.is_some());
    assert!(matches!(server[0].kind, EventKind::HttpRequest(_)));
    let access = |name: &str| {
        client
            .iter()
            .find(|e| e.state_change().is_some_and(|c| c.variable.ends_with(name)))
            .unwrap()
    };
    assert!(clock(access("::before")).happens_before(&clock(write)));
    assert!(clock(write).happens_before(&clock(access("::after"))));
}

#[test]
fn message_headers_carry_the_trace_and_clock_to_the_consumer() {
    let (tracer, sink) = memory_tracer();
    let mut producer = tracer.start_trace("producer");
    producer.write("outbox", &0, &1);
    let headers = send_headers(&mut producer, "transfers", Some("alice"));
    let pairs: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_slice()))
        .collect();
    let mut consumer = receive(
        &tracer,
        "worker",
        Received {
            topic: "transfers",
            partition: Some(0),
            offset: Some(7),
            key: Some("alice"),
        },
        pairs,
    );
    consumer.write("inbox", &0, &1);
    assert_eq!(consumer.trace_id(), producer.trace_id());
    drop((producer, consumer));
    tracer.shutdown_blocking().unwrap();
    let events = sink.events();
    let send = events
        .iter()
        .find(|e| matches!(e.kind, EventKind::MessageSend(_)))
        .unwrap();
    let received = events
        .iter()
        .find(|e| matches!(&e.kind, EventKind::MessageReceive(m) if m.offset == Some(7)))
        .unwrap();
    assert!(clock(send).happens_before(&clock(received)));

    #[cfg(feature = "kafka")]
    {
        use raceway_sdk::propagation::messages::kafka::{header_pairs, to_owned_headers};
        let owned = to_owned_headers(&headers);
        let back = header_pairs(Some(&owned));
        assert_eq!(back.len(), 2);
        assert_eq!(back[0], (headers[0].0.as_str(), headers[0].1.as_slice()));
    }
}

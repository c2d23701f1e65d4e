//! HttpSink against a real HTTP server on 127.0.0.1: the Raceway JSON format, retries, give-up.
#![cfg(feature = "http")]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use raceway_schemas::json::decode_event;
use raceway_schemas::{Event, EventBatch};
use raceway_sdk::{
    HttpSink, MemorySink, RetryPolicy, SdkError, Sink, Tracer, TracerConfig, TrackedMutex,
};
use serde_json::Value;

/// A gateway stand-in: answers `fail_status` to the first `fail_first` requests, then 202.
#[derive(Clone)]
struct Gateway {
    bodies: Arc<Mutex<Vec<Value>>>,
    requests: Arc<AtomicUsize>,
    fail_first: usize,
    fail_status: StatusCode,
}

impl Gateway {
    fn failing(fail_first: usize, fail_status: StatusCode) -> Gateway {
        Gateway {
            bodies: Arc::default(),
            requests: Arc::default(),
            fail_first,
            fail_status,
        }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }
}

async fn post_events(State(gateway): State<Gateway>, Json(body): Json<Value>) -> StatusCode {
    let n = gateway.requests.fetch_add(1, Ordering::SeqCst);
    if n < gateway.fail_first {
        return gateway.fail_status;
    }
    gateway.bodies.lock().unwrap().push(body);
    StatusCode::ACCEPTED
}

/// Serves `gateway` on an ephemeral port and returns its base URL.
async fn serve(gateway: Gateway) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/events", post(post_events))
        .with_state(gateway);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}/")
}

/// Delivers to HTTP and keeps a copy of what it was asked to deliver.
struct Tee {
    http: HttpSink,
    copy: MemorySink,
}

#[async_trait]
impl Sink for Tee {
    async fn deliver(&self, batch: EventBatch) -> Result<(), SdkError> {
        self.copy.deliver(batch.clone()).await?;
        self.http.deliver(batch).await
    }
}

fn fast_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
    }
}

/// Records two traces (a lock, an access, a spawn and a join) and shuts down.
/// A tracer delivering to `gateway` with `attempts` fast retries, after two recorded traces.
async fn two_traces_through(gateway: &Gateway, attempts: u32) -> Tracer {
    let url = serve(gateway.clone()).await;
    let sink = HttpSink::new(&url)
        .unwrap()
        .with_retry(fast_retry(attempts));
    let tracer = Tracer::new(TracerConfig::new("bank"), sink).unwrap();
    record_two_traces(&tracer).await;
    tracer
}

async fn record_two_traces(tracer: &Tracer) {
    let mutex = TrackedMutex::new("m", 0);
    for label in ["first", "second"] {
        let mut actor = tracer.start_trace(label);
        let child = actor.spawn_child("child");
        *mutex.lock(&mut actor).unwrap() += 1;
        actor.write("x", &serde_json::json!({"n": 1}), &"two");
        actor.join(child);
    }
    tracer.shutdown().await.unwrap();
}

fn sorted(mut events: Vec<Event>) -> Vec<Event> {
    events.sort_by_key(|e| e.id);
    events
}

#[tokio::test]
async fn posted_batches_decode_back_to_the_recorded_events_after_retries() {
    let gateway = Gateway::failing(2, StatusCode::SERVICE_UNAVAILABLE);
    let url = serve(gateway.clone()).await;
    let http = HttpSink::new(&url).unwrap().with_retry(fast_retry(5));
    assert_eq!(http.endpoint(), format!("{url}events"));
    let copy = MemorySink::new();
    let tracer = Tracer::new(
        TracerConfig::new("bank"),
        Tee {
            http,
            copy: copy.clone(),
        },
    )
    .unwrap();
    record_two_traces(&tracer).await;

    let bodies = gateway.bodies();
    assert_eq!(bodies.len(), 2, "one batch per trace");
    assert_eq!(
        gateway.requests(),
        bodies.len() + 2,
        "two 503s were retried"
    );
    let mut received = Vec::new();
    for body in &bodies {
        let events = body["events"].as_array().expect("{\"events\": [...]}");
        for event in events {
            received.push(decode_event(event).expect("decodes"));
        }
    }
    let sent = sorted(copy.events());
    assert_eq!(sent.len(), 10);
    assert_eq!(sorted(received), sent);
    let stats = tracer.stats();
    assert_eq!(stats.delivered_events, 10);
    assert_eq!(tracer.dropped_events(), 0);
}

#[tokio::test]
async fn a_gateway_that_stays_unavailable_gets_bounded_retries_then_drops() {
    let gateway = Gateway::failing(usize::MAX, StatusCode::SERVICE_UNAVAILABLE);
    let tracer = two_traces_through(&gateway, 3).await;
    assert_eq!(gateway.requests(), 2 * 3);
    assert_eq!(tracer.stats().dropped_undeliverable, 10);
    assert_eq!(tracer.dropped_events(), 10);
}

#[tokio::test]
async fn a_rejected_batch_is_not_retried() {
    let gateway = Gateway::failing(usize::MAX, StatusCode::BAD_REQUEST);
    let tracer = two_traces_through(&gateway, 5).await;
    assert_eq!(gateway.requests(), 2);
    assert_eq!(tracer.dropped_events(), 10);
}

#[tokio::test]
async fn connection_errors_are_retried_then_dropped() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener); // nothing listens there any more
    let sink = HttpSink::new(&url).unwrap().with_retry(fast_retry(2));
    let batch = EventBatch {
        trace_id: uuid::Uuid::new_v4(),
        events: Vec::new(),
    };
    match sink.deliver(batch).await {
        Err(SdkError::GaveUp { attempts: 2, last }) => assert!(last.is_retryable(), "{last}"),
        other => panic!("expected a give-up after 2 attempts, got {other:?}"),
    }
}

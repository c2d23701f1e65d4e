//! The gateway's limits over a real embedded bus: body size, events per request, and the
//! per-client rate limit. Rates are tiny (one event per 1,000 s) so that no refill can happen
//! while a test runs: no assertion depends on timing.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use common::{assert_split, big_batch, fixture, harness, harness_with_keys, Answer};
use raceway_gateway::{RateLimit, DEFAULT_MAX_RECORD_BYTES};

const REJECTED: &str = "raceway_gateway_requests_rejected_total";

/// One event per 1,000 s after a burst of `burst`: nothing refills during a test.
fn tiny_rate(burst: u64) -> Option<RateLimit> {
    Some(RateLimit::new(0.001, Some(burst)).unwrap())
}

fn body() -> Vec<u8> {
    fixture().to_string().into_bytes()
}

fn peer(raw: &str) -> Option<SocketAddr> {
    Some(raw.parse().unwrap())
}

fn retry_after(answer: &Answer) -> u64 {
    answer.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn the_defaults_take_a_10000_event_batch_split_into_broker_sized_records() {
    let h = harness(|_| {}).await;
    let (batch, ids) = big_batch(10_000);
    let (status, answer) = h.post(batch.to_string().into_bytes(), &[]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["accepted"], 10_000);

    assert_split(&h.records().await, &ids, DEFAULT_MAX_RECORD_BYTES);
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413_and_nothing_is_produced() {
    let limit = body().len() - 1;
    let h = harness(|c| c.max_body_bytes = limit).await;
    let content_length = body().len().to_string();
    let answer = h
        .send(body(), &[("content-length", content_length.as_str())], None)
        .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.body["success"], false);
    let message = answer.body["error"].as_str().unwrap();
    assert!(message.contains(&format!("{limit} bytes")), "{message}");
    assert!(message.contains("several"), "{message}");
    // Without Content-Length the limit holds while reading.
    let answer = h.send(body(), &[], None).await;
    assert_eq!(
        answer.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        answer.body
    );

    assert_eq!(h.produced_events().await, 0);
    assert_eq!(h.metric(REJECTED, "too_large"), 2.0);
    // A body of exactly the limit is fine.
    let h = harness(|c| c.max_body_bytes = body().len()).await;
    assert_eq!(h.post(body(), &[]).await.0, StatusCode::OK);
}

#[tokio::test]
async fn an_endless_body_is_cut_off_at_the_limit_not_buffered() {
    const LIMIT: usize = 1 << 20;
    const CHUNK: usize = 64 * 1024;
    let h = harness(|c| c.max_body_bytes = LIMIT).await;
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    // JSON whitespace forever: only a limit enforced while reading ends this request.
    let endless = futures::stream::repeat_with(move || {
        counter.fetch_add(CHUNK, Ordering::Relaxed);
        Ok::<_, std::io::Error>(Bytes::from(vec![b' '; CHUNK]))
    });
    let answer = tokio::time::timeout(
        Duration::from_secs(60),
        h.send(Body::from_stream(endless), &[], None),
    )
    .await
    .expect("the gateway kept reading past its limit");
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    let read = sent.load(Ordering::Relaxed);
    assert!(
        read <= LIMIT + 2 * CHUNK,
        "{read} bytes pulled for a {LIMIT}-byte limit"
    );
    assert_eq!(h.produced_events().await, 0);
}

#[tokio::test]
async fn more_events_than_the_batch_limit_is_a_413() {
    let h = harness(|c| c.max_events_per_batch = 2).await;
    let (status, answer) = h.post(body(), &[]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let message = answer["error"].as_str().unwrap();
    assert!(message.contains("3 events"), "{message}");
    assert!(message.contains("limit of 2"), "{message}");
    assert_eq!(h.produced_events().await, 0);
    assert_eq!(h.metric(REJECTED, "too_large"), 1.0);

    let h = harness(|c| c.max_events_per_batch = 3).await;
    assert_eq!(h.post(body(), &[]).await.0, StatusCode::OK);
}

#[tokio::test]
async fn without_a_configured_rate_limit_nobody_is_limited() {
    let h = harness(|_| {}).await;
    for _ in 0..20 {
        assert_eq!(h.post(body(), &[]).await.0, StatusCode::OK);
    }
    assert_eq!(h.metric(REJECTED, "rate_limited"), 0.0);
}

#[tokio::test]
async fn each_api_key_has_its_own_bucket_and_a_limited_one_gets_429_with_retry_after() {
    let h = harness_with_keys(&["one:ingest:k1", "two:ingest:k2"], |c| {
        c.rate_limit = tiny_rate(3);
    })
    .await;
    let k1 = [("x-raceway-key", "k1")];
    assert_eq!(h.send(body(), &k1, None).await.status, StatusCode::OK);

    // Same key, other transport header and address: still the same bucket, now empty.
    let limited = h
        .send(
            body(),
            &[("authorization", "Bearer k1")],
            peer("10.0.0.7:1"),
        )
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.body["success"], false);
    let message = limited.body["error"].as_str().unwrap();
    assert!(message.contains("rate limit"), "{message}");
    assert!(!message.contains("k1"), "the key is echoed: {message}");
    // One token at 0.001/s: 1,000 s, give or take the test's own run time.
    let wait = retry_after(&limited);
    assert!((900..=1000).contains(&wait), "Retry-After: {wait}");

    assert_eq!(
        h.send(body(), &[("x-raceway-key", "k2")], None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(h.produced_events().await, 6);
    assert_eq!(h.metric(REJECTED, "rate_limited"), 1.0);
    assert_eq!(h.metric("raceway_gateway_requests_total", "429"), 1.0);
    assert_eq!(h.metric("raceway_gateway_rate_limit_clients", ""), 2.0);
}

#[tokio::test]
async fn without_keys_each_client_ip_has_its_own_bucket() {
    let h = harness(|c| c.rate_limit = tiny_rate(3)).await;
    let a = peer("192.0.2.1:5000");
    assert_eq!(h.send(body(), &[], a).await.status, StatusCode::OK);
    // Another connection from the same host shares the bucket.
    let again = h.send(body(), &[], peer("192.0.2.1:5001")).await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(again.headers.contains_key("retry-after"));
    // X-Forwarded-For is not trusted by default: it cannot buy a fresh bucket.
    let spoofed = h
        .send(body(), &[("x-forwarded-for", "203.0.113.9")], a)
        .await;
    assert_eq!(spoofed.status, StatusCode::TOO_MANY_REQUESTS);

    let b = peer("192.0.2.2:5000");
    assert_eq!(h.send(body(), &[], b).await.status, StatusCode::OK);
    assert_eq!(h.produced_events().await, 6);
    assert_eq!(h.metric(REJECTED, "rate_limited"), 2.0);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_the_client() {
    let h = harness(|c| {
        c.rate_limit = tiny_rate(3);
        c.trust_forwarded_for = true;
    })
    .await;
    let proxy = peer("10.0.0.1:40000");
    let from = |client: &'static str| [("x-forwarded-for", client)];
    let first = "198.51.100.1";
    let second = "6.6.6.6, 198.51.100.2";
    assert_eq!(
        h.send(body(), &from(first), proxy).await.status,
        StatusCode::OK
    );
    assert_eq!(
        h.send(body(), &from(second), proxy).await.status,
        StatusCode::OK
    );
    assert_eq!(
        h.send(body(), &from(first), proxy).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The client-supplied first entry is ignored: 198.51.100.2's bucket is empty too.
    assert_eq!(
        h.send(body(), &from("198.51.100.9, 198.51.100.2"), proxy)
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_batch_bigger_than_the_burst_passes_on_a_full_bucket_then_waits_for_its_debt() {
    let h = harness(|c| c.rate_limit = tiny_rate(2)).await;
    let a = peer("192.0.2.1:5000");
    // Three events, burst of two: admitted once, leaving one event of debt.
    assert_eq!(h.send(body(), &[], a).await.status, StatusCode::OK);
    let limited = h.send(body(), &[], a).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    // The debt (1) plus one token, at 0.001/s.
    let wait = retry_after(&limited);
    assert!((1900..=2000).contains(&wait), "Retry-After: {wait}");
    assert_eq!(h.produced_events().await, 3);
}

#[tokio::test]
async fn events_that_were_not_accepted_cost_nothing() {
    // Nothing can be produced (no such topic): a client retrying must not end up rate limited.
    let h = harness(|c| {
        c.events_topic = "missing-topic".into();
        c.rate_limit = tiny_rate(3);
    })
    .await;
    let a = peer("192.0.2.1:5000");
    for _ in 0..3 {
        let answer = h.send(body(), &[], a).await;
        assert_eq!(
            answer.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{}",
            answer.body
        );
    }
    assert_eq!(h.metric(REJECTED, "rate_limited"), 0.0);
}

/// Posts `body` over a real connection; the status code and the raw response.
async fn post_over_tcp(addr: SocketAddr, body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /events HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    (status, text)
}

#[tokio::test]
async fn served_with_connect_info_the_peer_address_is_rate_limited() {
    let h = harness(|c| c.rate_limit = tiny_rate(3)).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = h
        .router
        .clone()
        .into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move { axum::serve(listener, service).await });

    let (status, response) = post_over_tcp(addr, &body()).await;
    assert_eq!(status, 200, "{response}");
    let (status, response) = post_over_tcp(addr, &body()).await;
    assert_eq!(status, 429, "{response}");
    assert!(
        response.to_ascii_lowercase().contains("retry-after:"),
        "{response}"
    );
    assert!(response.contains("client 127.0.0.1"), "{response}");
    server.abort();
}

//! The live stream `GET /ws/events/live`: a client receives the fixture's events (and the
//! finding and completion that follow) on `raceway up` and on separate `ingest`, `process` and
//! `query` processes over Kafka and ClickHouse; a client that stops reading loses messages and
//! is told, without holding up the others; connections beyond `--max-live-clients` get 503.

mod common;

use std::time::Duration;

use common::setups::{EmbeddedUp, KafkaClickHouse};
use common::{
    as_refs, clickhouse, fixture, fixture_copy, free_addr, post_events_as, Raceway, FIXTURE_TRACE,
};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connects to the live stream at `base` (`http://HOST:PORT`) with `query`, and waits for its
/// `subscribed` message: from then on, everything produced reaches the client.
async fn subscribe(base: &str, query: &str) -> Socket {
    let url = format!("{}/ws/events/live{query}", base.replace("http://", "ws://"));
    let (mut socket, _) = connect_async(&url).await.expect("WebSocket handshake");
    let first = next_json(&mut socket, Duration::from_secs(60)).await;
    assert_eq!(first["type"], "subscribed", "{first}");
    socket
}

/// The next JSON message, within `wait`.
async fn next_json(socket: &mut Socket, wait: Duration) -> Value {
    loop {
        let frame = timeout(wait, socket.next())
            .await
            .expect("a live message in time")
            .expect("the stream is open")
            .expect("a frame");
        match frame {
            Message::Text(text) => return serde_json::from_str(&text).expect("JSON message"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// Reads until a message matches `wanted`, all within `wait`; returns it.
async fn wait_for(
    socket: &mut Socket,
    wait: Duration,
    mut wanted: impl FnMut(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let message = next_json(socket, left).await;
        eprintln!("live: {message}");
        assert!(
            message["type"] != "lagged",
            "a fast client lagged: {message}"
        );
        if wanted(&message) {
            return message;
        }
    }
}

async fn post(base: &str, body: Vec<u8>) -> Value {
    post_as(base, body, None).await
}

async fn post_as(base: &str, body: Vec<u8>, key: Option<&'static str>) -> Value {
    let base = base.to_string();
    tokio::task::spawn_blocking(move || post_events_as(&base, body, key))
        .await
        .expect("POST worker")
}

/// Runs the async part of a test; setup and teardown (blocking HTTP) stay outside it.
fn block_on<T>(work: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(work)
}

/// Posts the fixture to `ingest` and checks what a client of `query` receives: its events
/// within 5 s, then its finding and the trace's completion.
async fn the_fixture_streams_live(ingest: &str, query: &str) {
    let mut all = subscribe(query, "").await;
    let mut writes = subscribe(
        query,
        &format!("?trace_id={FIXTURE_TRACE}&kind=StateChange"),
    )
    .await;
    let mut other = subscribe(query, "?service=not-a-service").await;
    post(ingest, fixture()).await;

    let event = wait_for(&mut all, Duration::from_secs(5), |m| m["type"] == "event").await;
    assert_eq!(event["trace_id"], FIXTURE_TRACE, "{event}");
    assert_eq!(event["event"]["trace_id"], FIXTURE_TRACE, "{event}");
    let write = wait_for(&mut writes, Duration::from_secs(5), |_| true).await;
    assert_eq!(write["type"], "event", "{write}");
    assert_eq!(write["kind"], "StateChange", "{write}");

    // The trace stage completes the trace, then the race stage reports its race.
    let (mut finding, mut completed) = (Value::Null, Value::Null);
    wait_for(&mut all, Duration::from_secs(60), |m| {
        match m["type"].as_str() {
            Some("finding") => finding = m.clone(),
            Some("trace_completed") => completed = m.clone(),
            _ => {}
        }
        !finding.is_null() && !completed.is_null()
    })
    .await;
    assert_eq!(finding["trace_id"], FIXTURE_TRACE, "{finding}");
    assert_eq!(finding["finding"]["variable"], "balance", "{finding}");
    assert_eq!(completed["trace_id"], FIXTURE_TRACE, "{completed}");
    assert_eq!(completed["event_count"], 3, "{completed}");

    // The filtered-out client got nothing of all that.
    other.send(Message::Close(None)).await.ok();
    while let Ok(Some(Ok(frame))) = timeout(Duration::from_millis(100), other.next()).await {
        assert!(
            !matches!(frame, Message::Text(_)),
            "a client filtering another service received {frame:?}"
        );
    }
}

#[test]
fn raceway_up_streams_new_events_findings_and_completions() {
    let dir = tempfile::tempdir().unwrap();
    let (_up, base) = EmbeddedUp::args(dir.path(), &[]).start();
    block_on(the_fixture_streams_live(&base, &base));
}

/// With credentials, the stream needs a read credential (here the `token` parameter, as a
/// browser sends it), and a tenant's client receives only its environments' messages. One ring
/// feeds every client in order, so once acme's client sees the completion of a trace posted
/// after globex's completed, it has passed every message of globex's trace.
#[test]
fn a_tenants_client_receives_only_its_environments() {
    let dir = tempfile::tempdir().unwrap();
    let keys = [
        "--api-key",
        "writer:ingest:w1",
        "--api-key",
        "acme:read:t1:acme",
        "--api-key",
        "globex:read:t2:globex",
        "--tenant",
        "acme=test",
        "--tenant",
        "globex=prod",
        "--trace-idle-ms",
        "300",
    ];
    let (_up, base) = EmbeddedUp::args(dir.path(), &keys).start();
    let (globex_body, globex_trace) = fixture_copy("prod", '9', "ledger");
    let (acme_later, acme_later_trace) = fixture_copy("test", '8', "balance");
    block_on(async {
        let url = format!("{}/ws/events/live", base.replace("http://", "ws://"));
        match connect_async(&url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(answer)) => {
                assert_eq!(answer.status(), 401)
            }
            other => panic!("a keyless handshake was not refused with 401: {other:?}"),
        }
        let mut acme = subscribe(&base, "?token=t1").await;
        let mut globex = subscribe(&base, "?token=t2").await;
        let completed = |trace: &str| {
            let trace = trace.to_string();
            move |m: &Value| m["type"] == "trace_completed" && m["trace_id"] == trace.as_str()
        };
        let only = |client: &'static str, trace: String| {
            move |m: &Value| {
                if let Some(id) = m["trace_id"].as_str() {
                    assert_eq!(id, trace, "{client} received another tenant's message: {m}");
                }
            }
        };
        let wait = Duration::from_secs(60);
        post_as(&base, fixture(), Some("w1")).await;
        let seen = only("acme", FIXTURE_TRACE.to_string());
        let done = completed(FIXTURE_TRACE);
        let message = wait_for(&mut acme, wait, |m| {
            seen(m);
            done(m)
        })
        .await;
        assert_eq!(message["environments"], json!(["test"]), "{message}");
        post_as(&base, globex_body, Some("w1")).await;
        let seen = only("globex", globex_trace.clone());
        let done = completed(&globex_trace);
        wait_for(&mut globex, wait, |m| {
            seen(m);
            done(m)
        })
        .await;
        // acme's client has passed globex's messages once its next trace completes.
        post_as(&base, acme_later, Some("w1")).await;
        let done = completed(&acme_later_trace);
        wait_for(&mut acme, wait, |m| {
            let id = m["trace_id"].as_str().unwrap_or(FIXTURE_TRACE);
            assert_ne!(id, globex_trace, "acme received globex's message: {m}");
            done(m)
        })
        .await;
    });
}

#[test]
fn separate_processes_on_kafka_and_clickhouse_stream_live() {
    let backend = KafkaClickHouse::new("live", &clickhouse(), 4);
    let dir = tempfile::tempdir().unwrap();
    backend.migrate();
    let ingest_addr = free_addr();
    let query_addr = free_addr();
    let metrics_addr = free_addr();
    let ingest_args = backend.with(&["ingest", "--http-addr", &ingest_addr]);
    let process_args = backend.with(&["process", "--metrics-addr", &metrics_addr]);
    let query_args = backend.with(&["query", "--http-addr", &query_addr]);
    let mut ingest = Raceway::start(&as_refs(&ingest_args), dir.path());
    let mut process = Raceway::start(&as_refs(&process_args), dir.path());
    let mut query = Raceway::start(&as_refs(&query_args), dir.path());
    let (ingest_base, base) = (
        format!("http://{ingest_addr}"),
        format!("http://{query_addr}"),
    );
    ingest.wait_http_ok(&format!("{ingest_base}/health"));
    process.wait_http_ok(&format!("http://{metrics_addr}/ready"));
    query.wait_http_ok(&format!("{base}/health"));
    block_on(the_fixture_streams_live(&ingest_base, &base));
    // The query process serves /metrics, live stream included.
    let text = reqwest::blocking::get(format!("{base}/metrics"))
        .and_then(|r| r.text())
        .unwrap();
    let read: u64 = text
        .lines()
        .find_map(|line| line.strip_prefix("raceway_live_messages_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        read >= 5,
        "3 events, a finding and a completion were read: {text}"
    );
}

/// One trace of `n` writes, each carrying `padding` bytes, as a POST /events body.
fn big_trace(n: usize, padding: usize) -> (String, Vec<u8>) {
    let trace = uuid::Uuid::new_v4().to_string();
    let pad = "x".repeat(padding);
    let events: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "id": uuid::Uuid::new_v4().to_string(),
                "trace_id": trace,
                "parent_id": null,
                "timestamp": format!("2024-01-01T12:00:00.{:06}Z", i),
                "kind": {"StateChange": {"variable": "bulk", "old_value": null,
                          "new_value": pad, "location": format!("bulk.rs:{i}"),
                          "access_type": "Write"}},
                "metadata": {"thread_id": "t", "process_id": 1, "service_name": "bulk",
                             "environment": "test", "tags": {}, "duration_ns": 1},
                "causality_vector": [], "lock_set": []
            })
        })
        .collect();
    (trace, json!({ "events": events }).to_string().into_bytes())
}

async fn dropped_total(base: &str) -> u64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("raceway_live_dropped_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_stalled_client_loses_messages_and_is_told_while_others_keep_up() {
    let dir = tempfile::tempdir().unwrap();
    let (_up, base) = EmbeddedUp::args(
        dir.path(),
        &["--max-live-clients", "2", "--live-buffer", "300"],
    )
    .start();
    block_on(stall_one_client(&base));
}

async fn stall_one_client(base: &str) {
    let base = base.to_string();
    let mut stalled = subscribe(&base, "?service=bulk").await;
    let mut fast = subscribe(&base, "?service=bulk").await;

    // A third client is over the limit.
    let url = format!("{}/ws/events/live", base.replace("http://", "ws://"));
    match connect_async(&url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503)
        }
        other => panic!("a third client was not refused: {other:?}"),
    }

    // Batches of 200 events of 8 KiB: the stalled client's socket buffers fill up, then its
    // place in the ring is overtaken; the fast client gets every batch's last event.
    let mut batches = 0;
    while dropped_total(&base).await == 0 {
        batches += 1;
        assert!(batches <= 40, "nothing was dropped after {batches} batches");
        let (trace, body) = big_trace(200, 8 * 1024);
        post(&base, body).await;
        let mut seen = 0;
        wait_for(&mut fast, Duration::from_secs(30), |m| {
            if m["type"] == "event" && m["trace_id"] == trace.as_str() {
                seen += 1;
            }
            seen == 200
        })
        .await;
    }
    // The stalled client, reading again, is told what it lost.
    let lagged = wait_for_lagged(&mut stalled).await;
    assert!(lagged["dropped"].as_u64().unwrap() > 0, "{lagged}");
}

async fn wait_for_lagged(socket: &mut Socket) -> Value {
    loop {
        let message = next_json(socket, Duration::from_secs(30)).await;
        if message["type"] == "lagged" {
            return message;
        }
    }
}

/// Messages go into the shared ring only when some client's filter admits them, so a client that
/// asks for less is not crowded out by what nobody asked for. Both clients here want no events;
/// one does not read until the other has seen the trace complete. Were the trace's 200 events in
/// a ring of 16, the idle client would have lost its completion with them.
#[test]
fn events_no_client_wants_do_not_crowd_out_the_messages_it_wants() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--live-buffer", "16", "--trace-idle-ms", "300"];
    let (_up, base) = EmbeddedUp::args(dir.path(), &args).start();
    block_on(async {
        let no_events = "?kind=NoEventHasThisKind";
        let mut idle = subscribe(&base, no_events).await;
        let mut watching = subscribe(&base, no_events).await;
        let (trace, body) = big_trace(200, 16);
        post(&base, body).await;
        let completed = wait_for(&mut watching, Duration::from_secs(60), |m| {
            m["type"] == "trace_completed" && m["trace_id"] == trace.as_str()
        })
        .await;
        assert_eq!(completed["event_count"], 200, "{completed}");
        let first = next_json(&mut idle, Duration::from_secs(5)).await;
        assert_eq!(first["type"], "trace_completed", "{first}");
        assert_eq!(first["trace_id"], trace.as_str(), "{first}");
        assert_eq!(dropped_total(&base).await, 0);
    });
}

//! A gateway over a real embedded bus (SQLite log), and helpers to post to it and read what it
//! produced.

#![allow(dead_code)] // each test binary uses its own subset

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use raceway_auth::{ApiKey, AuthConfig};
use raceway_bus::{Bus, ConsumedRecord, EmbeddedBus};
use raceway_gateway::{GatewayConfig, GatewayMetrics, GatewayState};
use raceway_schemas::avro::decode_event_batch;
use raceway_schemas::EventBatch;
use serde_json::{json, Value};
use tower::ServiceExt;

/// The events topic of every harness.
pub const TOPIC: &str = "raceway.events";

/// One gateway (one router, so one set of rate-limit buckets) over a fresh embedded bus.
pub struct Harness {
    pub bus: Arc<dyn Bus>,
    pub topic: String,
    pub router: Router,
    pub registry: prometheus::Registry,
    _dir: Option<tempfile::TempDir>,
}

/// What the gateway answered.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

/// A gateway over a fresh embedded bus, with the default configuration changed by `configure`.
pub async fn harness(configure: impl FnOnce(&mut GatewayConfig)) -> Harness {
    harness_with_keys(&[], configure).await
}

/// The same behind access control with these `--api-key` values (none: open).
pub async fn harness_with_keys(
    keys: &[&str],
    configure: impl FnOnce(&mut GatewayConfig),
) -> Harness {
    let auth = AuthConfig {
        keys: keys.iter().map(|k| ApiKey::parse(k).unwrap()).collect(),
        ..AuthConfig::default()
    };
    harness_with_auth(auth, configure).await
}

/// The same behind access control configured by `auth`.
pub async fn harness_with_auth(
    auth: AuthConfig,
    configure: impl FnOnce(&mut GatewayConfig),
) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let bus: Arc<dyn Bus> = Arc::new(EmbeddedBus::open(&dir.path().join("bus.sqlite"), 4).unwrap());
    let mut harness = harness_on(bus, TOPIC, configure).await;
    harness.router = raceway_auth::protect(harness.router, Arc::new(auth));
    harness._dir = Some(dir);
    harness
}

/// A gateway producing to `topic` (created here) on `bus`.
pub async fn harness_on(
    bus: Arc<dyn Bus>,
    topic: &str,
    configure: impl FnOnce(&mut GatewayConfig),
) -> Harness {
    bus.create_topics(&[topic.to_string()], 4).await.unwrap();
    let mut config = GatewayConfig::new(topic);
    configure(&mut config);
    let registry = prometheus::Registry::new();
    let metrics = GatewayMetrics::register(&registry).unwrap();
    let router = raceway_gateway::router(GatewayState::new(config, bus.clone(), metrics))
        .split_for_parts()
        .0;
    Harness {
        bus,
        topic: topic.to_string(),
        router,
        registry,
        _dir: None,
    }
}

impl Harness {
    /// Posts `body` with `headers`; the status and the JSON answer.
    pub async fn post(&self, body: Vec<u8>, headers: &[(&str, &str)]) -> (StatusCode, Value) {
        let answer = self.send(body, headers, None).await;
        (answer.status, answer.body)
    }

    /// Posts `body` with `headers`, as if from `peer` when given (what `axum::serve` with connect
    /// info would record).
    pub async fn send(
        &self,
        body: impl Into<Body>,
        headers: &[(&str, &str)],
        peer: Option<SocketAddr>,
    ) -> Answer {
        let mut request = Request::post("/events").header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut request = request.body(body.into()).unwrap();
        if let Some(peer) = peer {
            request.extensions_mut().insert(ConnectInfo(peer));
        }
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        Answer {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap(),
        }
    }

    /// Every record on the topic so far.
    pub async fn records(&self) -> Vec<ConsumedRecord> {
        self.records_until(|_| false, Duration::ZERO).await
    }

    /// Records of the topic: until `enough` says so, failing after `within`; then until a poll
    /// comes back empty.
    pub async fn records_until(
        &self,
        enough: impl Fn(&[ConsumedRecord]) -> bool,
        within: Duration,
    ) -> Vec<ConsumedRecord> {
        let group = format!("check-{}", uuid::Uuid::new_v4());
        let mut consumer = self
            .bus
            .subscribe(&group, std::slice::from_ref(&self.topic))
            .await
            .unwrap();
        let deadline = Instant::now() + within;
        let mut records = Vec::new();
        loop {
            let polled = consumer
                .poll(1000, Duration::from_millis(200))
                .await
                .unwrap();
            if polled.is_empty() && (enough(&records) || Instant::now() >= deadline) {
                return records;
            }
            records.extend(polled);
        }
    }

    /// Every batch on the topic so far.
    pub async fn produced(&self) -> Vec<EventBatch> {
        self.records()
            .await
            .iter()
            .map(|record| decode_event_batch(&record.value).unwrap())
            .collect()
    }

    /// Events on the topic so far.
    pub async fn produced_events(&self) -> usize {
        self.produced().await.iter().map(|b| b.events.len()).sum()
    }

    /// The value of metric `name` on the series whose labels include `label_value`, 0 when the
    /// series does not exist yet.
    pub fn metric(&self, name: &str, label_value: &str) -> f64 {
        use prometheus::Encoder;
        let mut text = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&self.registry.gather(), &mut text)
            .unwrap();
        let text = String::from_utf8(text).unwrap();
        let quoted = format!("\"{label_value}\"");
        text.lines()
            .filter(|line| line.starts_with(name) && !line.starts_with('#'))
            .filter(|line| line[name.len()..].starts_with(['{', ' ']))
            .filter(|line| label_value.is_empty() || line.contains(&quoted))
            .map(|line| line.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum()
    }
}

/// The example body of the existing SDKs: three events of one trace.
pub fn fixture() -> Value {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/raceway-events-example.json"
    ))
    .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// `count` copies of the fixture's second event (a write with a vector clock) with fresh ids, all
/// in one trace so that the whole batch has to be split; and the ids.
pub fn big_batch(count: usize) -> (Value, HashSet<String>) {
    let template = fixture()["events"][1].clone();
    let mut ids = HashSet::new();
    let events: Vec<Value> = (0..count)
        .map(|_| {
            let mut event = template.clone();
            let id = uuid::Uuid::new_v4().to_string();
            event["id"] = json!(id);
            ids.insert(id);
            event
        })
        .collect();
    (json!({ "events": events }), ids)
}

/// Events in `records`.
pub fn event_count(records: &[ConsumedRecord]) -> usize {
    records
        .iter()
        .map(|record| decode_event_batch(&record.value).unwrap().events.len())
        .sum()
}

/// `records` are several, each at most `max_bytes` and keyed by its trace, and hold the events
/// `ids` exactly once.
pub fn assert_split(records: &[ConsumedRecord], ids: &HashSet<String>, max_bytes: usize) {
    assert!(
        records.len() > 1,
        "one trace of {} events in one record",
        ids.len()
    );
    let mut produced = Vec::new();
    for record in records {
        assert!(
            record.value.len() <= max_bytes,
            "a {}-byte record",
            record.value.len()
        );
        let batch = decode_event_batch(&record.value).unwrap();
        assert_eq!(
            record.key.as_deref(),
            Some(batch.trace_id.to_string().as_bytes())
        );
        produced.extend(batch.events.iter().map(|e| e.id.to_string()));
    }
    assert_eq!(produced.len(), ids.len(), "events produced more than once");
    assert_eq!(&produced.into_iter().collect::<HashSet<_>>(), ids);
}

/// `traces` traces of `per_trace` copies of the fixture's second event each (fresh ids, one
/// trace after the other); and each trace's event ids in the order posted.
pub fn many_traces(traces: usize, per_trace: usize) -> (Value, Vec<(String, Vec<String>)>) {
    let template = fixture()["events"][1].clone();
    let mut expected = Vec::new();
    let mut events = Vec::new();
    for _ in 0..traces {
        let trace = uuid::Uuid::new_v4().to_string();
        let mut ids = Vec::new();
        for _ in 0..per_trace {
            let mut event = template.clone();
            let id = uuid::Uuid::new_v4().to_string();
            event["id"] = json!(id);
            event["trace_id"] = json!(trace);
            ids.push(id);
            events.push(event);
        }
        expected.push((trace, ids));
    }
    (json!({ "events": events }), expected)
}

/// `records` hold one record per partition at most (topics of [`harness_on`] have 4), every
/// event in the partition of its own trace (where the record's key puts it), and each trace's
/// events exactly once, in the order posted.
pub fn assert_grouped_per_partition(
    records: &[ConsumedRecord],
    expected: &[(String, Vec<String>)],
) {
    assert!(
        records.len() <= 4,
        "{} records for 4 partitions",
        records.len()
    );
    let mut seen: std::collections::HashMap<String, Vec<String>> = Default::default();
    for record in records {
        let key = record.key.as_deref().expect("keyed");
        assert_eq!(record.partition, raceway_bus::partition_for(key, 4));
        let batch = decode_event_batch(&record.value).unwrap();
        assert_eq!(key, batch.trace_id.to_string().as_bytes());
        for event in batch.events {
            let trace = event.trace_id.to_string();
            assert_eq!(
                raceway_bus::partition_for(trace.as_bytes(), 4),
                record.partition,
                "trace {trace} in another partition than its own"
            );
            seen.entry(trace).or_default().push(event.id.to_string());
        }
    }
    assert_eq!(seen.len(), expected.len(), "traces produced");
    for (trace, ids) in expected {
        assert_eq!(seen.get(trace), Some(ids), "events of trace {trace}");
    }
}

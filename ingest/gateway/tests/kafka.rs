//! The gateway in front of the real broker at `RACEWAY_TEST_KAFKA` (default 127.0.0.1:9092): the
//! records it splits a big batch into are ones the broker takes. Fails, never skips, when the
//! broker is down: start it with `deploy/services.sh up`.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use common::{
    assert_grouped_per_partition, assert_split, big_batch, event_count, harness_on, many_traces,
    Harness,
};
use raceway_bus::KafkaBus;
use raceway_gateway::DEFAULT_MAX_RECORD_BYTES;

/// A gateway on the broker, producing to a topic of its own.
async fn kafka_harness() -> Harness {
    let addr = std::env::var("RACEWAY_TEST_KAFKA").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let bus = KafkaBus::new(&addr).expect("create Kafka clients");
    if let Err(e) = bus.ping(Duration::from_secs(10)).await {
        panic!("{e}\nthis test needs the broker at {addr}: start it with `deploy/services.sh up`");
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let topic = format!("test-gateway-{}-{nanos}.events", std::process::id());
    harness_on(Arc::new(bus), &topic, |_| {}).await
}

#[tokio::test]
async fn a_10000_event_batch_goes_through_the_broker_in_records_it_accepts() {
    let h = kafka_harness().await;

    let (batch, ids) = big_batch(10_000);
    let (status, answer) = h.post(batch.to_string().into_bytes(), &[]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["accepted"], 10_000);

    let records = h
        .records_until(
            |records| event_count(records) >= ids.len(),
            Duration::from_secs(60),
        )
        .await;
    assert_split(&records, &ids, DEFAULT_MAX_RECORD_BYTES);
}

#[tokio::test]
async fn many_traces_reach_the_broker_one_record_per_partition_each_trace_in_its_own() {
    let h = kafka_harness().await;

    let (body, expected) = many_traces(200, 7);
    let (status, answer) = h.post(body.to_string().into_bytes(), &[]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["accepted"], 1400);
    let records = h
        .records_until(
            |records| event_count(records) >= 1400,
            Duration::from_secs(60),
        )
        .await;
    assert_grouped_per_partition(&records, &expected);
}

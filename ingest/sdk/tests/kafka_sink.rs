//! `KafkaSink` against the running broker: the gateway's records, and a broker that is down.
#![cfg(feature = "kafka")]

mod common;

use std::time::{Duration, Instant};

use raceway_bus::{partition_for, Bus, KafkaBus};
use raceway_schemas::avro::decode_event_batch;
use raceway_sdk::{KafkaSink, KafkaSinkConfig, MemorySink, Tracer, TracerConfig};

fn broker() -> String {
    std::env::var("RACEWAY_TEST_KAFKA").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_arrive_as_avro_event_batches_keyed_by_trace_id() {
    let bus = KafkaBus::new(&broker()).unwrap();
    let topic = format!("sdk-sink-{}.raceway.events", uuid::Uuid::new_v4().simple());
    bus.create_topics(std::slice::from_ref(&topic), 3)
        .await
        .unwrap();

    let sink = KafkaSink::with_config(KafkaSinkConfig::new(broker()).topic(&topic)).unwrap();
    let tracer = Tracer::new(TracerConfig::new("bank").instance("i-1"), sink).unwrap();
    let mut traces = Vec::new();
    for _ in 0..3 {
        let mut actor = tracer.start_trace("request");
        actor.write("balance", &100, &70);
        actor.read("balance", &70);
        traces.push(actor.trace_id());
    }
    tracer.shutdown().await.unwrap();
    assert_eq!(tracer.stats().delivered_events, 6, "{:?}", tracer.stats());

    let mut consumer = bus
        .subscribe(&format!("{topic}-check"), std::slice::from_ref(&topic))
        .await
        .unwrap();
    let mut records = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while records.len() < 3 && Instant::now() < deadline {
        records.extend(
            consumer
                .poll(100, Duration::from_millis(500))
                .await
                .unwrap(),
        );
    }
    assert_eq!(records.len(), 3, "one record per trace");
    for record in records {
        let batch = decode_event_batch(&record.value).unwrap();
        let key = record.key.expect("keyed");
        assert_eq!(
            key,
            batch.trace_id.to_string().into_bytes(),
            "key = trace id"
        );
        assert_eq!(
            record.partition,
            partition_for(&key, 3),
            "murmur2 partitioner"
        );
        assert!(traces.contains(&batch.trace_id));
        assert_eq!(batch.events.len(), 2);
    }
}

/// Records `events` events as fast as possible and returns the time it took.
fn record_burst(tracer: &Tracer, events: usize) -> Duration {
    let mut actor = tracer.start_trace("request");
    let started = Instant::now();
    for i in 0..events {
        actor.write("counter", &i, &(i + 1));
    }
    started.elapsed()
}

#[test]
fn a_broker_that_is_down_costs_the_application_nothing_and_drops_are_counted() {
    const EVENTS: usize = 50_000;
    let small_buffer = |service: &str| TracerConfig::new(service).buffer_capacity(2_048);

    let memory = Tracer::new(small_buffer("baseline"), MemorySink::new()).unwrap();
    let baseline = record_burst(&memory, EVENTS);
    memory.shutdown_blocking().unwrap();

    // Port 1 refuses connections.
    let sink = KafkaSink::with_config(
        KafkaSinkConfig::new("127.0.0.1:1")
            .delivery_timeout(Duration::from_millis(500))
            .retry_after_failure(Duration::from_secs(30)),
    )
    .unwrap();
    let tracer = Tracer::new(small_buffer("offline"), sink).unwrap();
    let offline = record_burst(&tracer, EVENTS);
    // Give the sink time to find the broker down.
    std::thread::sleep(Duration::from_millis(1_500));
    record_burst(&tracer, 1_000);
    let shutdown_started = Instant::now();
    tracer.shutdown_blocking().unwrap();
    let shutdown = shutdown_started.elapsed();

    let stats = tracer.stats();
    assert!(
        offline < baseline * 3 + Duration::from_millis(50),
        "recording with the broker down took {offline:?}, with memory delivery {baseline:?}"
    );
    assert_eq!(stats.delivered_events, 0);
    assert_eq!(
        tracer.dropped_events(),
        (EVENTS + 1_000) as u64,
        "every event is dropped and counted: {stats:?}"
    );
    assert!(
        shutdown < Duration::from_secs(2),
        "shutdown does not wait for a dead broker: {shutdown:?}"
    );
}

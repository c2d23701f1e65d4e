//! The Kafka bus against the real broker (tansu) at `RACEWAY_TEST_KAFKA` (default
//! 127.0.0.1:9092). These tests fail, never skip, when the broker is down: start it with
//! `deploy/services.sh up`. Every test uses its own topic prefix.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use raceway_bus::Topics;
use raceway_bus::{partition_for, Bus, BusError, ConsumedRecord, KafkaBus, Record};

use common::{poll_n, subscribe};

const PARTS: i32 = 4;

fn bootstrap() -> String {
    std::env::var("RACEWAY_TEST_KAFKA").unwrap_or_else(|_| "127.0.0.1:9092".to_string())
}

async fn bus() -> KafkaBus {
    let addr = bootstrap();
    let bus = KafkaBus::new(&addr).expect("create Kafka clients");
    if let Err(e) = bus.ping(Duration::from_secs(10)).await {
        panic!(
            "{e}\nThe Kafka bus tests need the broker at {addr} (set RACEWAY_TEST_KAFKA to use \
             another): start it with `deploy/services.sh up`"
        );
    }
    bus
}

fn unique_prefix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("test-{}-{nanos}-", std::process::id())
}

/// The records of a partition in order must carry strictly increasing offsets, and the values
/// of each key must come in production order.
fn check_order(records: &[ConsumedRecord]) {
    let mut last: HashMap<(String, i32), i64> = HashMap::new();
    let mut last_value: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    for r in records {
        if let Some(prev) = last.insert((r.topic.clone(), r.partition), r.offset) {
            assert!(
                r.offset > prev,
                "offsets out of order in {}/{}",
                r.topic,
                r.partition
            );
        }
        let key = r.key.clone().expect("key kept");
        if let Some(prev) = last_value.insert(key, r.value.clone()) {
            assert!(r.value > prev, "values of one key out of production order");
        }
    }
}

#[tokio::test]
async fn kafka_produce_consume_commit_and_resume_in_group() {
    let bus = bus().await;
    let topics = Topics::with_prefix(&unique_prefix());
    bus.create_topics(&topics.all(), PARTS).await.unwrap();
    bus.create_topics(&topics.all(), PARTS)
        .await
        .expect("create_topics is idempotent");

    let records: Vec<Record> = (0..60)
        .map(|i| Record::new(format!("trace-{}", i % 10), format!("{i:03}")))
        .collect();
    bus.produce(&topics.events, records).await.unwrap();

    let group = format!("{}trace-processor", topics.events);
    let joined = Instant::now();
    let mut first = subscribe(&bus, &group, &topics.events).await;
    let got = poll_n(first.as_mut(), 60, Duration::from_secs(60)).await;
    eprintln!(
        "first consumer: join + 60 records in {:?}",
        joined.elapsed()
    );
    check_order(&got);
    for r in &got {
        let key = r.key.as_deref().unwrap();
        assert_eq!(r.topic, topics.events);
        assert_eq!(
            r.partition,
            partition_for(key, PARTS),
            "partition of key {key:?}"
        );
    }

    // Commit about half of every partition.
    let mut per_partition: HashMap<i32, Vec<i64>> = HashMap::new();
    for r in &got {
        per_partition.entry(r.partition).or_default().push(r.offset);
    }
    let mut commits = Vec::new();
    let mut expected_rest = BTreeSet::new();
    for (partition, mut offsets) in per_partition {
        offsets.sort();
        let next = offsets[offsets.len() / 2];
        commits.push((topics.events.clone(), partition, next));
        expected_rest.extend(
            offsets
                .into_iter()
                .filter(|o| *o >= next)
                .map(|o| (partition, o)),
        );
    }
    first.commit(&commits).await.unwrap();
    drop(first);

    // A new member of the same group resumes right after the committed offsets.
    let rejoined = Instant::now();
    let mut second = subscribe(&bus, &group, &topics.events).await;
    let rest = poll_n(
        second.as_mut(),
        expected_rest.len(),
        Duration::from_secs(60),
    )
    .await;
    eprintln!(
        "second consumer: join + {} records in {:?}",
        rest.len(),
        rejoined.elapsed()
    );
    let rest_set: BTreeSet<(i32, i64)> = rest.iter().map(|r| (r.partition, r.offset)).collect();
    assert_eq!(rest_set, expected_rest);
    let extra = second.poll(100, Duration::from_secs(2)).await.unwrap();
    assert!(
        extra.is_empty(),
        "re-delivered committed records: {extra:?}"
    );

    // A record produced now reaches the running consumer promptly.
    let produced = Instant::now();
    bus.produce(&topics.events, vec![Record::new("late", "late")])
        .await
        .unwrap();
    let late = poll_n(second.as_mut(), 1, Duration::from_secs(10)).await;
    eprintln!("produce -> consume latency {:?}", produced.elapsed());
    assert_eq!(late[0].partition, partition_for(b"late", PARTS));

    // Another group is independent: it reads everything from the start.
    let mut other = subscribe(&bus, &format!("{group}-other"), &topics.events).await;
    let all = poll_n(other.as_mut(), 61, Duration::from_secs(60)).await;
    check_order(&all);
}

#[tokio::test]
async fn kafka_missing_topic_is_a_clear_error() {
    let bus = bus().await;
    let topic = format!("{}missing", unique_prefix());
    let started = Instant::now();
    let err = bus
        .produce(&topic, vec![Record::new("k", "v")])
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("topic {topic} does not exist: run `raceway migrate`")
    );
    assert!(!err.is_retryable());
    assert!(started.elapsed() < Duration::from_secs(15));
    let err = bus.subscribe("g", &[topic]).await.err().unwrap();
    assert!(matches!(err, BusError::UnknownTopic { .. }), "{err}");
}

#[tokio::test]
async fn kafka_keys_land_on_partition_for_across_topics() {
    let bus = bus().await;
    let prefix = unique_prefix();
    let topics = Topics::with_prefix(&prefix);
    bus.create_topics(std::slice::from_ref(&topics.accesses), 8)
        .await
        .unwrap();
    let keys: Vec<String> = (0..50).map(|i| format!("account:{i}.balance")).collect();
    let records = keys.iter().map(|k| Record::new(k.as_str(), "x")).collect();
    bus.produce(&topics.accesses, records).await.unwrap();
    // A group of its own: the broker remembers a group's protocol across runs.
    let mut consumer = subscribe(&bus, &format!("{prefix}race-processor"), &topics.accesses).await;
    let got = poll_n(consumer.as_mut(), 50, Duration::from_secs(60)).await;
    for r in got {
        let key = r.key.unwrap();
        assert_eq!(r.partition, partition_for(&key, 8));
    }
}

#[tokio::test]
async fn unreachable_broker_is_a_clear_retryable_error() {
    let bus = KafkaBus::new("127.0.0.1:1").unwrap();
    let err = bus.ping(Duration::from_secs(2)).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Kafka broker at 127.0.0.1:1 is unreachable"),
        "{err}"
    );
    assert!(err.is_retryable());
}

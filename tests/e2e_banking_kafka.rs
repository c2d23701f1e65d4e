//! The banking example on the real services: its three services record with the SDK's Kafka
//! sink straight to `raceway.events`, transfers travel on a Kafka topic with the trace context
//! in the record headers, and separate `raceway process` / `raceway query` processes analyse
//! into ClickHouse. The lost update is found across the API and the worker; the safe variant
//! gives no finding.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::setups::KafkaClickHouse;
use common::*;
use raceway_example_banking::queue::KafkaQueue;
use raceway_example_banking::{Bank, BankOptions, Mode};
use raceway_sdk::{KafkaSink, KafkaSinkConfig, Tracer, TracerConfig};
use serde_json::Value;
use uuid::Uuid;

/// Runs one withdrawal of 30 from alice in `mode`; returns its trace id.
async fn run_bank(mode: Mode, kafka: &str, prefix: &str) -> Uuid {
    let events_topic = format!("{prefix}raceway.events");
    let transfers = format!("{prefix}bank.transfers.{mode:?}");
    let queue = KafkaQueue::new(kafka, &transfers, &format!("{transfers}-worker"))
        .await
        .expect("transfers topic");
    let sink_kafka = kafka.to_string();
    let bank = Bank::start(
        BankOptions {
            mode,
            // Broker round trips take longer than in process: a wider window keeps the race.
            think_time: Duration::from_millis(1_000),
            ..BankOptions::default()
        },
        move |service| {
            let sink = KafkaSink::with_config(
                KafkaSinkConfig::new(sink_kafka.clone()).topic(events_topic.clone()),
            )?;
            Tracer::new(TracerConfig::new(service).environment("e2e"), sink)
        },
        Arc::new(queue),
    )
    .await
    .expect("bank starts");
    let receipt = bank.withdraw("alice", 30).await.expect("withdrawal");
    bank.settle(Duration::from_secs(30)).await;
    for (service, stats) in bank.shutdown().await.expect("events delivered") {
        assert!(stats.delivered_events > 0, "{service}: {stats:?}");
        assert_eq!(
            stats.dropped_queue_full + stats.dropped_undeliverable,
            0,
            "{service}"
        );
    }
    receipt.trace_id
}

fn races_of(query: &str, trace: Uuid) -> Vec<Value> {
    reqwest::blocking::get(format!("{query}/api/traces/{trace}/races"))
        .ok()
        .and_then(|r| r.json::<Value>().ok())
        .and_then(|body| body["races"].as_array().cloned())
        .unwrap_or_default()
}

fn stored(query: &str, trace: Uuid) -> bool {
    reqwest::blocking::get(format!("{query}/api/traces/{trace}"))
        .is_ok_and(|r| r.status().is_success())
}

#[test]
fn banking_lost_update_is_found_on_kafka_and_clickhouse_and_not_when_safe() {
    let kafka = kafka();
    let backend = KafkaClickHouse::new("bank", &clickhouse(), 2);
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = backend.prefix.clone();
    let with = |command: &[&str]| backend.with(command);
    backend.migrate();
    let (query_addr, trace_metrics, race_metrics) = (free_addr(), free_addr(), free_addr());
    let start = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Raceway::start(&args, dir.path())
    };
    let mut trace = start(with(&[
        "process",
        "--stage",
        "trace",
        "--metrics-addr",
        &trace_metrics,
    ]));
    let mut race = start(with(&[
        "process",
        "--stage",
        "race",
        "--metrics-addr",
        &race_metrics,
    ]));
    let mut query = start(with(&["query", "--http-addr", &query_addr]));
    trace.wait_http_ok(&format!("http://{trace_metrics}/health"));
    race.wait_http_ok(&format!("http://{race_metrics}/health"));
    query.wait_http_ok(&format!("http://{query_addr}/health"));

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let racy = runtime.block_on(run_bank(Mode::Racy, &kafka, &prefix));
    let safe = runtime.block_on(run_bank(Mode::Safe, &kafka, &prefix));
    let base = format!("http://{query_addr}");

    // The racy trace: wait for its lost update.
    let deadline = Instant::now() + Duration::from_secs(40);
    let lost = loop {
        let races = races_of(&base, racy);
        let lost: Vec<Value> = races
            .into_iter()
            .filter(|r| r["kind"] == "lost_update")
            .collect();
        if !lost.is_empty() {
            break lost;
        }
        assert!(
            Instant::now() < deadline,
            "no lost update within 40 s; races: {:#?}\ntrace:\n{}\nrace:\n{}\nquery:\n{}",
            races_of(&base, racy),
            trace.output(),
            race.output(),
            query.output()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    for finding in &lost {
        assert_eq!(finding["variable"], "account:alice.balance");
        let mut sides = [&finding["first"], &finding["second"]].map(|side| {
            (
                side["service"].as_str().unwrap_or_default().to_string(),
                side["location"].as_str().unwrap_or_default().to_string(),
            )
        });
        sides.sort();
        assert_eq!(sides[0].0, "bank-api", "{finding:#}");
        assert_eq!(sides[1].0, "bank-worker", "{finding:#}");
        assert!(
            sides[0].1.starts_with("examples/banking/src/api.rs:"),
            "{finding:#}"
        );
        assert!(
            sides[1].1.starts_with("examples/banking/src/worker.rs:"),
            "{finding:#}"
        );
    }

    // The safe trace: once both stages are drained it is stored and analysed, with no finding.
    wait_drained(
        &[
            &format!("http://{trace_metrics}"),
            &format!("http://{race_metrics}"),
        ],
        None,
        Duration::from_secs(60),
    );
    assert!(stored(&base, safe), "safe trace not stored");
    let races = races_of(&base, safe);
    assert!(races.is_empty(), "safe variant reported {races:#?}");

    for process in [&mut trace, &mut race, &mut query] {
        assert!(process.terminate().success(), "{}", process.output());
    }
}

//! A bank whose Kafka broker is down keeps serving at full speed; the SDK counts the events it
//! could not deliver.
#![cfg(feature = "kafka")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use raceway_example_banking::queue::InProcessQueue;
use raceway_example_banking::{Bank, BankOptions, Mode};
use raceway_sdk::{
    KafkaSink, KafkaSinkConfig, MemorySink, SdkError, Tracer, TracerConfig, TracerStats,
};

const WITHDRAWALS: usize = 40;

/// Serves the withdrawals; returns how long they took and each service's counters.
async fn serve(
    tracer_for: impl Fn(&str) -> Result<Tracer, SdkError>,
) -> (Duration, Vec<(String, TracerStats)>) {
    let options = BankOptions {
        mode: Mode::Safe,
        think_time: Duration::ZERO,
        ..BankOptions::default()
    };
    let bank = Bank::start(options, tracer_for, Arc::new(InProcessQueue::new()))
        .await
        .unwrap();
    let started = Instant::now();
    for _ in 0..WITHDRAWALS {
        bank.withdraw("alice", 1).await.unwrap();
    }
    let took = started.elapsed();
    bank.settle(Duration::from_secs(10)).await;
    let shutdown_started = Instant::now();
    let stats = bank.shutdown().await.unwrap();
    assert!(
        shutdown_started.elapsed() < Duration::from_secs(3),
        "shutdown does not wait for the broker"
    );
    (took, stats)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bank_with_its_broker_down_serves_at_full_speed_and_counts_drops() {
    let (baseline, _) =
        serve(|service| Tracer::new(TracerConfig::new(service), MemorySink::new())).await;

    // Port 1 refuses connections: every delivery fails.
    let (offline, stats) = serve(|service| {
        let sink = KafkaSink::with_config(
            KafkaSinkConfig::new("127.0.0.1:1")
                .delivery_timeout(Duration::from_millis(300))
                .retry_after_failure(Duration::from_secs(60)),
        )?;
        Tracer::new(TracerConfig::new(service), sink)
    })
    .await;

    assert!(
        offline < baseline * 2 + Duration::from_millis(300),
        "{WITHDRAWALS} withdrawals took {offline:?} with the broker down, {baseline:?} with memory delivery"
    );
    for (service, stats) in stats {
        assert_eq!(stats.delivered_events, 0, "{service}: {stats:?}");
        assert!(stats.queued > 0, "{service} recorded: {stats:?}");
        assert_eq!(
            stats.dropped_undeliverable + stats.dropped_queue_full,
            stats.queued + stats.dropped_queue_full,
            "{service}: every recorded event is counted as dropped: {stats:?}"
        );
    }
}

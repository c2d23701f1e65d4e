//! Helpers of both buses' tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::time::{Duration, Instant};

use raceway_bus::{Bus, BusConsumer, ConsumedRecord};

/// Joins `group` on `topic`.
pub async fn subscribe(bus: &dyn Bus, group: &str, topic: &str) -> Box<dyn BusConsumer> {
    bus.subscribe(group, &[topic.to_string()])
        .await
        .expect("subscribe")
}

/// Polls until exactly `n` records arrived; fails after `within`.
pub async fn poll_n(
    consumer: &mut dyn BusConsumer,
    n: usize,
    within: Duration,
) -> Vec<ConsumedRecord> {
    let deadline = Instant::now() + within;
    let mut out = Vec::new();
    while out.len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} records arrived within {within:?}",
            out.len()
        );
        out.extend(
            consumer
                .poll(n - out.len(), Duration::from_millis(500))
                .await
                .expect("poll"),
        );
    }
    assert_eq!(out.len(), n, "poll returned more than asked for");
    out
}

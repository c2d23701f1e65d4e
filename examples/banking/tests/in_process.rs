//! The bank in one process with in-memory event sinks: the analyses find the lost update across
//! the API and the worker, and nothing in the safe mode.

use std::sync::Arc;
use std::time::Duration;

use raceway_example_banking::queue::InProcessQueue;
use raceway_example_banking::{balance_variable, Bank, BankOptions, Mode};
use raceway_schemas::{Event, FindingKind, RaceFinding};
use raceway_sdk::{MemorySink, Tracer, TracerConfig};

/// Runs one withdrawal of 30 from alice (balance 100, fee 5) and returns the final balance,
/// the recorded events and the findings.
async fn run(mode: Mode) -> (i64, Vec<Event>, Vec<RaceFinding>) {
    let sink = MemorySink::new();
    let options = BankOptions {
        mode,
        ..BankOptions::default()
    };
    let tracer_sink = sink.clone();
    let bank = Bank::start(
        options,
        move |service| Tracer::new(TracerConfig::new(service), tracer_sink.clone()),
        Arc::new(InProcessQueue::new()),
    )
    .await
    .unwrap();
    bank.withdraw("alice", 30).await.unwrap();
    bank.settle(Duration::from_secs(10)).await;
    let balance = bank.balance("alice").await.unwrap();
    let stats = bank.shutdown().await.unwrap();
    for (service, stats) in stats {
        assert_eq!(stats.dropped_queue_full, 0, "{service}");
    }
    let events = sink.events();
    let findings = raceway_analysis::scenarios::pure_findings(
        &events,
        &raceway_analysis::RaceConfig::default(),
        None,
    );
    (balance, events, findings)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_racy_bank_loses_an_update_across_two_services() {
    let (balance, events, findings) = run(Mode::Racy).await;
    assert_ne!(balance, 65, "one update was lost");
    let lost: Vec<_> = findings
        .iter()
        .filter(|f| f.kind == FindingKind::LostUpdate && f.variable == balance_variable("alice"))
        .collect();
    assert!(!lost.is_empty(), "lost update found: {findings:#?}");
    for finding in lost {
        let mut locations = [&finding.first.location, &finding.second.location];
        locations.sort();
        assert!(
            locations[0].starts_with("examples/banking/src/api.rs:")
                && locations[1].starts_with("examples/banking/src/worker.rs:"),
            "{locations:?}"
        );
        let mut services = [&finding.first.service, &finding.second.service];
        services.sort();
        assert_eq!(
            services,
            [&"bank-api".to_string(), &"bank-worker".to_string()]
        );
    }
    // One trace: the worker continued the API's trace from the message headers.
    let traces_of = |service: &str| -> std::collections::BTreeSet<_> {
        events
            .iter()
            .filter(|e| e.metadata.service_name == service)
            .map(|e| e.trace_id)
            .collect()
    };
    assert_eq!(traces_of("bank-api").len(), 1);
    assert_eq!(traces_of("bank-api"), traces_of("bank-worker"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_safe_bank_has_no_findings() {
    let (balance, _events, findings) = run(Mode::Safe).await;
    assert_eq!(balance, 65);
    assert!(findings.is_empty(), "{findings:#?}");
}

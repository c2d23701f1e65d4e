//! End-to-end scenarios through the public API: events of a trace -> accesses -> race detector ->
//! findings, as the trace and race stages chain them.

use std::collections::BTreeMap;

use raceway_analysis::{trace_accesses, FindingAggregator, RaceConfig, RaceDetector};
use raceway_schemas::{
    Access, AccessType, Event, EventKind, FindingKind, FunctionCall, LockEvent, LockMode, Metadata,
    RaceFinding, Severity, StateChange, TRUSTED_CLOCK_TAG, TRUSTED_CLOCK_VALUE,
};
use uuid::Uuid;

/// 2024-01-01T12:00:00Z, the fixture's first timestamp.
const T0: i64 = 1_704_110_400_000_000_000;
const MS: i64 = 1_000_000;
const TRACE: Uuid = Uuid::from_u128(0xaaaa_aaaa_aaaa_4aaa_aaaa_aaaa_aaaa_aaaa);

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn event(n: u128, thread: &str, at_ms: i64, kind: EventKind) -> Event {
    let metadata = Metadata {
        thread_id: thread.into(),
        process_id: 1,
        service_name: "web".into(),
        environment: "test".into(),
        ..Metadata::default()
    };
    Event {
        id: id(n),
        trace_id: TRACE,
        parent_id: None,
        timestamp_ns: T0 + at_ms * MS,
        kind,
        metadata,
        causality_vector: Vec::new(),
        lock_set: Vec::new(),
    }
}

fn child(mut e: Event, parent: u128) -> Event {
    e.parent_id = Some(id(parent));
    e
}

fn call(name: &str) -> EventKind {
    EventKind::FunctionCall(FunctionCall {
        function_name: name.into(),
        module: "app::handlers".into(),
        args: r#"{"id":42}"#.into(),
        file: "app/handlers.rs".into(),
        line: 10,
    })
}

fn state(location: &str, access_type: AccessType) -> EventKind {
    EventKind::StateChange(StateChange {
        variable: "balance".into(),
        old_value: Some("10".into()),
        new_value: "15".into(),
        location: location.into(),
        access_type,
    })
}

fn lock(acquire: bool, lock_type: &str) -> EventKind {
    let event = LockEvent {
        lock_id: "balance-lock".into(),
        mode: LockMode::from_lock_type(lock_type),
        lock_type: lock_type.into(),
        location: "balance.rs:1".into(),
    };
    if acquire {
        EventKind::LockAcquire(event)
    } else {
        EventKind::LockRelease(event)
    }
}

/// The three events of shared/fixtures/raceway-events-example.json, built by hand.
fn fixture() -> Vec<Event> {
    let mut main = event(0xbb, "thread-main", 0, call("handle_request"));
    main.metadata.duration_ns = Some(17_000_000);
    let mut w1 = child(
        event(
            0xcc,
            "worker-1",
            1,
            state("balance.rs:12", AccessType::Write),
        ),
        0xbb,
    );
    w1.metadata.duration_ns = Some(8_000_000);
    w1.metadata.instance_id = Some("web-1".into());
    w1.metadata.distributed_span_id = Some("0123456789abcdef".into());
    w1.causality_vector = vec![("web#web-1".into(), 1)];
    let mut w2 = child(
        event(
            0xdd,
            "worker-2",
            2,
            state("balance.rs:45", AccessType::Write),
        ),
        0xbb,
    );
    w2.metadata.duration_ns = Some(9_000_000);
    vec![main, w1, w2]
}

/// Two workers under `main`, each doing `body` (a list of (kind)) in order.
fn two_workers(body_1: Vec<EventKind>, body_2: Vec<EventKind>) -> Vec<Event> {
    let mut events = vec![event(1, "main", 0, call("handle"))];
    for (worker, body, first_id) in [("worker-1", body_1, 100u128), ("worker-2", body_2, 200)] {
        for (step, kind) in body.into_iter().enumerate() {
            let n = first_id + step as u128;
            let at_ms = (first_id / 100) as i64 + 2 * step as i64;
            let e = event(n, worker, at_ms, kind);
            events.push(if step == 0 { child(e, 1) } else { e });
        }
    }
    events
}

fn locked(lock_type: &str, location: &str, access_type: AccessType) -> Vec<EventKind> {
    vec![
        lock(true, lock_type),
        state(location, access_type),
        lock(false, lock_type),
    ]
}

/// Runs accesses through a detector and an aggregator; the current findings, sorted by id.
fn findings_of(accesses: impl IntoIterator<Item = Access>) -> Vec<RaceFinding> {
    let mut detector = RaceDetector::new(RaceConfig::default());
    let mut aggregator = FindingAggregator::default();
    for access in accesses {
        for pair in detector.observe(access).pairs {
            aggregator.record(&pair, 0);
        }
    }
    let mut findings: Vec<RaceFinding> = aggregator.findings().cloned().collect();
    findings.sort_by(|a, b| a.id.cmp(&b.id));
    findings
}

fn findings_of_trace(events: &[Event]) -> Vec<RaceFinding> {
    findings_of(trace_accesses(events))
}

#[test]
fn fixture_has_exactly_one_critical_race_between_the_workers() {
    let findings = findings_of_trace(&fixture());
    assert_eq!(findings.len(), 1);
    let finding = &findings[0];
    assert_eq!(finding.kind, FindingKind::DataRace);
    assert_eq!(finding.kind.as_str(), "data_race");
    assert_eq!(finding.severity, Severity::Critical);
    assert_eq!(finding.count, 1);
    assert_eq!(finding.environment, "test");
    assert_eq!(finding.variable, "balance");
    assert_eq!(finding.first.thread_id, "worker-1");
    assert_eq!(finding.first.location, "balance.rs:12");
    assert_eq!(finding.second.thread_id, "worker-2");
    assert_eq!(finding.second.location, "balance.rs:45");
    assert_eq!(
        finding.explanation,
        "worker-2 wrote balance at balance.rs:45 while worker-1's write at balance.rs:12 was not \
         ordered before it; no common lock"
    );
}

#[test]
fn common_mutex_prevents_the_race() {
    let events = two_workers(
        locked("Mutex", "balance.rs:12", AccessType::Write),
        locked("Mutex", "balance.rs:45", AccessType::Write),
    );
    assert!(findings_of_trace(&events).is_empty());
}

#[test]
fn read_locks_around_two_writes_do_not_protect() {
    let events = two_workers(
        locked("RwLock::Read", "balance.rs:12", AccessType::Write),
        locked("RWLock-Read", "balance.rs:45", AccessType::Write),
    );
    let findings = findings_of_trace(&events);
    assert_eq!(findings.len(), 1);
    assert!(findings[0]
        .explanation
        .ends_with("both held balance-lock only in shared mode"));
}

#[test]
fn read_read_is_no_race() {
    let events = two_workers(
        vec![state("balance.rs:12", AccessType::Read)],
        vec![state("balance.rs:45", AccessType::Read)],
    );
    assert!(findings_of_trace(&events).is_empty());
}

#[test]
fn atomic_atomic_is_no_race() {
    let events = two_workers(
        vec![state("balance.rs:12", AccessType::AtomicRMW)],
        vec![state("balance.rs:45", AccessType::AtomicWrite)],
    );
    assert!(findings_of_trace(&events).is_empty());
}

#[test]
fn atomic_against_plain_write_races() {
    let events = two_workers(
        vec![state("balance.rs:12", AccessType::AtomicWrite)],
        vec![state("balance.rs:45", AccessType::Write)],
    );
    let findings = findings_of_trace(&events);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].severity, Severity::Critical);
    assert_eq!(findings[0].first.access_type, "AtomicWrite");
}

#[test]
fn program_order_on_one_thread_is_no_race() {
    let events = vec![
        event(1, "worker-1", 0, state("balance.rs:12", AccessType::Read)),
        event(2, "worker-1", 1, state("balance.rs:45", AccessType::Write)),
        event(3, "worker-1", 2, state("balance.rs:12", AccessType::Write)),
    ];
    assert!(findings_of_trace(&events).is_empty());
}

#[test]
fn parent_chain_orders_threads() {
    let events = vec![
        event(1, "main", 0, call("handle")),
        child(
            event(2, "worker-1", 1, state("balance.rs:12", AccessType::Write)),
            1,
        ),
        child(
            event(3, "worker-2", 2, state("balance.rs:45", AccessType::Write)),
            2,
        ),
    ];
    assert!(findings_of_trace(&events).is_empty());
}

fn trusted(mut e: Event, clock: &[(&str, u64)]) -> Event {
    e.causality_vector = clock.iter().map(|(c, n)| (c.to_string(), *n)).collect();
    e.metadata.tags = BTreeMap::from([(TRUSTED_CLOCK_TAG.into(), TRUSTED_CLOCK_VALUE.into())]);
    e
}

#[test]
fn trusted_clocks_decide() {
    let ordered = vec![
        trusted(
            event(1, "worker-1", 0, state("balance.rs:12", AccessType::Write)),
            &[("w1", 1)],
        ),
        trusted(
            event(2, "worker-2", 1, state("balance.rs:45", AccessType::Write)),
            &[("w1", 1), ("w2", 1)],
        ),
    ];
    assert!(findings_of_trace(&ordered).is_empty());
    let concurrent = vec![
        trusted(
            event(1, "worker-1", 0, state("balance.rs:12", AccessType::Write)),
            &[("w1", 1)],
        ),
        trusted(
            event(2, "worker-2", 1, state("balance.rs:45", AccessType::Write)),
            &[("w2", 1)],
        ),
    ];
    assert_eq!(findings_of_trace(&concurrent).len(), 1);
}

/// One write by `thread` in its own trace starting at `at_ms` and lasting 10 ms.
fn lone_trace(trace: u128, thread: &str, at_ms: i64, location: &str) -> Vec<Event> {
    let mut e = event(
        trace * 10,
        thread,
        at_ms,
        state(location, AccessType::Write),
    );
    e.trace_id = id(trace);
    e.metadata.duration_ns = Some(10_000_000);
    vec![e]
}

#[test]
fn cross_trace_races_need_overlapping_traces() {
    let a = trace_accesses(&lone_trace(1, "worker-1", 0, "balance.rs:12"));
    let overlapping = trace_accesses(&lone_trace(2, "worker-2", 5, "balance.rs:45"));
    let apart = trace_accesses(&lone_trace(3, "worker-2", 10_000, "balance.rs:45"));
    let findings = findings_of(a.iter().cloned().chain(overlapping));
    assert_eq!(findings.len(), 1);
    assert!(findings[0].explanation.contains("in another trace"));
    assert!(findings_of(a.into_iter().chain(apart)).is_empty());
}

/// Accesses from three traces with several races between them, one finding seen twice; no
/// access dominates another, so every count is exact.
fn mixed_accesses() -> Vec<Access> {
    let mut trace_a = fixture();
    trace_a.push(child(
        event(
            0xee,
            "worker-3",
            3,
            state("balance.rs:80", AccessType::Read),
        ),
        0xbb,
    ));
    trace_a.push(child(
        event(
            0xff,
            "worker-6",
            4,
            state("balance.rs:45", AccessType::Write),
        ),
        0xbb,
    ));
    let mut accesses = trace_accesses(&trace_a);
    accesses.extend(trace_accesses(&lone_trace(
        2,
        "worker-7",
        5,
        "balance.rs:12",
    )));
    accesses.extend(trace_accesses(&lone_trace(
        3,
        "worker-4",
        6,
        "balance.rs:12",
    )));
    accesses
}

/// All orderings of `items` (Heap's algorithm).
fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    fn heap<T: Clone>(k: usize, items: &mut Vec<T>, out: &mut Vec<Vec<T>>) {
        if k <= 1 {
            out.push(items.clone());
            return;
        }
        for i in 0..k {
            heap(k - 1, items, out);
            let j = if k % 2 == 0 { i } else { 0 };
            items.swap(j, k - 1);
        }
    }
    let mut out = Vec::new();
    heap(items.len(), &mut items.to_vec(), &mut out);
    out
}

#[test]
fn arrival_order_does_not_change_findings() {
    let accesses = mixed_accesses();
    assert_eq!(accesses.len(), 6);
    let reference = findings_of(accesses.clone());
    let counts: Vec<u64> = reference.iter().map(|f| f.count).collect();
    // Within trace A: 6 pairs in 4 findings (w1 races w2 and w6 at the same locations, and so
    // does r3 with w2 and w6); each lone trace: 4 pairs in 3 findings; the lone traces: 1.
    assert_eq!(counts.len(), 4 + 3 + 3 + 1, "{reference:#?}");
    assert_eq!(counts.iter().sum::<u64>(), 6 + 4 + 4 + 1);
    let all = permutations(&accesses);
    assert_eq!(all.len(), 720);
    for order in all {
        assert_eq!(findings_of(order), reference);
    }
}

#[test]
fn arrival_order_does_not_change_which_findings_exist_when_accesses_are_dropped() {
    // worker-1 writes balance three times in a row (later writes dominate earlier ones); the
    // others race with all of them.
    let mut events = fixture();
    for (n, at_ms) in [(0x1c1, 3), (0x1c2, 5)] {
        let mut again = events[1].clone();
        again.id = id(n);
        again.parent_id = None;
        again.timestamp_ns = T0 + at_ms * MS;
        events.push(again);
    }
    let mut accesses = trace_accesses(&events);
    accesses.extend(trace_accesses(&lone_trace(
        2,
        "worker-2",
        4,
        "balance.rs:45",
    )));
    accesses.extend(trace_accesses(&lone_trace(
        3,
        "worker-3",
        1,
        "balance.rs:90",
    )));
    let ids = |findings: Vec<RaceFinding>| findings.into_iter().map(|f| f.id).collect::<Vec<_>>();
    let mut detector = RaceDetector::default();
    for access in accesses.iter().cloned() {
        detector.observe(access);
    }
    assert_eq!(
        detector.retained_len(),
        accesses.len() - 2,
        "domination fired"
    );
    let reference = ids(findings_of(accesses.clone()));
    assert_eq!(reference.len(), 5);
    for order in permutations(&accesses) {
        assert_eq!(ids(findings_of(order)), reference);
    }
}

#[test]
fn redelivered_accesses_change_no_count() {
    let accesses = mixed_accesses();
    let mut detector = RaceDetector::default();
    let mut aggregator = FindingAggregator::default();
    for access in accesses.iter().cloned() {
        for pair in detector.observe(access).pairs {
            aggregator.record(&pair, 1);
        }
    }
    let before: Vec<RaceFinding> = aggregator.findings().cloned().collect();
    let retained = detector.retained_len();
    for access in accesses.into_iter().rev() {
        for pair in detector.observe(access).pairs {
            assert_eq!(aggregator.record(&pair, 2), None);
        }
    }
    assert_eq!(detector.retained_len(), retained);
    let after: Vec<RaceFinding> = aggregator.findings().cloned().collect();
    assert_eq!(after, before);
}

#[test]
fn cyclic_parent_links_do_not_panic() {
    let events = vec![
        child(event(1, "main", 0, call("a")), 3),
        child(
            event(2, "worker-1", 1, state("balance.rs:12", AccessType::Write)),
            1,
        ),
        child(
            event(3, "worker-2", 2, state("balance.rs:45", AccessType::Write)),
            2,
        ),
        child(event(4, "worker-2", 3, call("self")), 4),
    ];
    let accesses = trace_accesses(&events);
    assert_eq!(accesses.len(), 2);
    // 3 -> 1 closes the cycle 1 -> 2 -> 3 -> 1 against time, so it is the link dropped.
    assert!(findings_of(accesses).is_empty());
}

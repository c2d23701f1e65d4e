use super::*;
use crate::trace::fixtures::{at, call, id, lasting, on, request, response, span, with_parent};
use crate::trace::trace_tree;
use raceway_schemas::Event;

fn run(events: &[Event], spec: SimulationSpec) -> Simulation {
    simulate(&trace_tree(events), &spec).expect("simulation runs")
}

fn delay(service: &str, ms: u64) -> SimulationSpec {
    SimulationSpec {
        delays: vec![Delay::Service {
            service: service.into(),
            ms,
        }],
        ..SimulationSpec::default()
    }
}

fn delay_event(n: u128, ms: u64) -> SimulationSpec {
    SimulationSpec {
        delays: vec![Delay::Event {
            event_id: id(n),
            ms,
        }],
        ..SimulationSpec::default()
    }
}

fn fail(service: &str, mode: FailureMode, timeout_ms: Option<u64>) -> SimulationSpec {
    SimulationSpec {
        failures: vec![Failure {
            service: service.into(),
            mode,
            timeout_ms,
        }],
        ..SimulationSpec::default()
    }
}

/// Event `n`'s row of the comparison.
fn event(sim: &Simulation, n: u128) -> &EventComparison {
    sim.events
        .iter()
        .find(|e| e.event.event_id == id(n))
        .expect("event in the comparison")
}

/// `a` calls `b` the way the TypeScript, Python and Go SDKs record it: no clocks; a's
/// `HttpRequest` (0..100 ms) encloses the call; b's first event carries a's span as its
/// upstream span; a's `HttpResponse` (95..100 ms) is a child of its request.
fn a_calls_b() -> Vec<Event> {
    vec![
        span(
            lasting(on("a", at(1, "a-main", 0, request("http://b/pay"))), 100),
            "s-a",
            None,
        ),
        span(
            lasting(on("b", at(2, "b-main", 10, call("handle"))), 80),
            "s-b",
            Some("s-a"),
        ),
        with_parent(lasting(on("b", at(3, "b-main", 20, call("query"))), 50), 2),
        span(
            with_parent(lasting(on("a", at(4, "a-main", 95, response(200))), 5), 1),
            "s-a",
            None,
        ),
    ]
}

#[test]
fn a_service_delay_raises_the_critical_path_by_exactly_that_much_and_reaches_the_caller() {
    let sim = run(&a_calls_b(), delay("b", 500));
    assert_eq!(sim.critical_path.length.before_ms, 100.0);
    assert_eq!(sim.critical_path.length.after_ms, 600.0);
    assert_eq!(sim.critical_path.delta_ms, 500.0);
    let services: Vec<&str> = sim
        .affected_services
        .iter()
        .map(|s| s.service.as_str())
        .collect();
    assert_eq!(services, vec!["a"]);
    // The delay reaches a's request through its response, which now starts after b answers.
    assert_eq!(sim.affected_services[0].via, vec![id(2), id(4), id(1)]);
    let response = event(&sim, 4);
    assert_eq!(response.before_start_ms, 95.0);
    assert_eq!(response.after_start_ms, Some(595.0));
    // b's own steps inside the call did not move: the delay stands for b answering later.
    let query = event(&sim, 3);
    assert_eq!(query.after_start_ms, Some(20.0));
}

/// a's handler (event 1, 0..`ms`), the root the calls below hang under.
fn handler(ms: i64) -> Event {
    span(
        lasting(on("a", at(1, "a-main", 0, call("handler"))), ms),
        "s-a",
        None,
    )
}

/// a's request `n` on `thread` under the handler, from `from` to `to` ms, in its own span.
fn outgoing(n: u128, thread: &str, (from, to): (i64, i64)) -> Event {
    let request = lasting(on("a", at(n, thread, from, request("http://x"))), to - from);
    span(with_parent(request, 1), &format!("s-a{n}"), None)
}

/// `service`'s handling (event `n`, from `from` to `to` ms) of a's request `caller`.
fn called(n: u128, service: &str, caller: u128, (from, to): (i64, i64)) -> Event {
    let handle = lasting(on(service, at(n, "main", from, call("handle"))), to - from);
    span(
        handle,
        &format!("s-{service}"),
        Some(&format!("s-a{caller}")),
    )
}

/// `a` calls `b` (10 ms) and `c` (100 ms) in parallel from two threads.
fn a_calls_b_and_c_in_parallel() -> Vec<Event> {
    vec![
        handler(110),
        outgoing(2, "a-1", (1, 13)),
        called(3, "b", 2, (2, 12)),
        outgoing(4, "a-2", (1, 103)),
        called(5, "c", 4, (2, 102)),
    ]
}

#[test]
fn a_parallel_branch_absorbs_a_delay_up_to_its_slack() {
    let sim = run(&a_calls_b_and_c_in_parallel(), delay("b", 50));
    assert_eq!(sim.critical_path.delta_ms, 0.0);
    assert_eq!(sim.critical_path.before, sim.critical_path.after);
    // Past the slack (90 ms), the rest shows: 150 ms more on b is 60 ms more on the path.
    let sim = run(&a_calls_b_and_c_in_parallel(), delay("b", 150));
    assert_eq!(sim.critical_path.delta_ms, 60.0);
}

#[test]
fn later_sequential_siblings_shift_and_slas_break() {
    // A handler calls b (0..30 ms), then c (30..50 ms), one after the other.
    let events = vec![
        handler(50),
        outgoing(2, "a-main", (0, 30)),
        called(3, "b", 2, (1, 29)),
        outgoing(4, "a-main", (30, 50)),
        called(5, "c", 4, (31, 49)),
    ];
    let mut spec = delay("b", 100);
    spec.sla_ms = Some(SlaSpec {
        default: Some(60),
        services: [("b".to_string(), 200)].into_iter().collect(),
    });
    let sim = run(&events, spec);
    assert_eq!(sim.critical_path.delta_ms, 100.0);
    let c_call = event(&sim, 5);
    assert_eq!(c_call.after_start_ms, Some(131.0));
    // a's handler (a top-level request) now takes 150 ms against 60; b's call 128 against 200.
    let over: Vec<Uuid> = sim.over_sla.iter().map(|b| b.event.event_id).collect();
    assert_eq!(over, vec![id(1)]);
    assert!(!sim.over_sla[0].already_over);
    assert_eq!(sim.over_sla[0].duration.after_ms, 150.0);
    let c = sim
        .affected_services
        .iter()
        .find(|s| s.service == "c")
        .expect("c affected");
    assert_eq!(c.via.first(), Some(&id(3)));
    assert_eq!(c.via.last(), Some(&id(5)));
}

#[test]
fn a_failed_call_skips_its_subtree_and_the_caller_resumes() {
    let error = fail("b", FailureMode::Error, None);
    let sim = run(&a_calls_b(), error);
    // b's call (10..90 ms) now ends at once: the response moves from 95 to 15 ms.
    assert_eq!(sim.critical_path.length.after_ms, 20.0);
    let skipped = event(&sim, 3);
    assert_eq!(skipped.after_start_ms, None);
    assert!(!sim.critical_path.after.iter().any(|s| s.event_id == id(3)));

    let timeout = fail("b", FailureMode::Timeout, Some(2_000));
    let sim = run(&a_calls_b(), timeout);
    assert_eq!(sim.critical_path.length.after_ms, 2_020.0);
}

#[test]
fn an_event_delay_adds_to_that_event_only() {
    let spec = delay_event(3, 40);
    let sim = run(&a_calls_b(), spec);
    // The query (20..70) ends at 110; b's call waits for it (its 20 ms tail kept): 10..130.
    assert_eq!(sim.critical_path.delta_ms, 40.0);
    let b_call = event(&sim, 2);
    assert_eq!(b_call.after_duration_ms, Some(120.0));
}

#[test]
fn services_and_events_the_trace_does_not_hold_are_errors() {
    let tree = trace_tree(&a_calls_b());
    let err = simulate(&tree, &delay("z", 5)).expect_err("unknown service");
    assert_eq!(
        err.to_string(),
        "the trace makes no call into service `z` (services called: b)"
    );
    // `a` is never called: it only calls.
    assert!(matches!(
        simulate(&tree, &delay("a", 5)),
        Err(SimulationError::NoCallsInto(..))
    ));
    let unknown = delay_event(99, 1);
    assert_eq!(
        simulate(&tree, &unknown),
        Err(SimulationError::UnknownEvent(id(99)))
    );
    let no_timeout = fail("b", FailureMode::Timeout, None);
    assert!(matches!(
        simulate(&tree, &no_timeout),
        Err(SimulationError::TimeoutWithoutDuration(_))
    ));
}

#[test]
fn an_empty_spec_changes_nothing_and_a_deep_chain_does_not_overflow() {
    let sim = run(&a_calls_b(), SimulationSpec::default());
    assert_eq!(sim.critical_path.before, sim.critical_path.after);
    assert!(sim.affected_services.is_empty());
    assert!(sim
        .events
        .iter()
        .all(|e| Some(e.before_start_ms) == e.after_start_ms));

    let deep = crate::trace::fixtures::chain(20_000);
    let spec = delay_event(20_000, 7);
    let sim = run(&deep, spec);
    assert_eq!(sim.critical_path.delta_ms, 7.0);
}

#[test]
fn the_spec_parses_from_the_documented_json() {
    let spec: SimulationSpec = serde_json::from_str(
        r#"{"delays": [{"service": "b", "ms": 500}, {"event_id": "00000000-0000-0000-0000-000000000003", "ms": 5}],
            "failures": [{"service": "c", "mode": "timeout", "timeout_ms": 2000}],
            "sla_ms": {"default": 200, "services": {"b": 300}}}"#,
    )
    .expect("parses");
    assert_eq!(spec.delays.len(), 2);
    assert!(matches!(spec.delays[1], Delay::Event { ms: 5, .. }));
    assert_eq!(
        spec.sla_ms.as_ref().and_then(|s| s.budget_ms("b")),
        Some(300)
    );
    assert_eq!(
        spec.sla_ms.as_ref().and_then(|s| s.budget_ms("x")),
        Some(200)
    );
    assert!(serde_json::from_str::<SimulationSpec>(r#"{"delay": []}"#).is_err());
}

use super::*;
use crate::trace::fixtures::{
    at, call, error, id, kafka, lasting, on, receive, request, response, send, span, with_parent,
    MS,
};
use crate::trace::trace_tree;

fn calls_of(events: &[Event]) -> Vec<ServiceCall> {
    service_calls(events, &trace_tree(events))
}

fn edge(call: &ServiceCall) -> (&str, &str, CallKind) {
    (
        call.caller_service.as_str(),
        call.callee_service.as_str(),
        call.kind,
    )
}

#[test]
fn callee_request_response_pair_gives_latency_and_status() {
    let events = vec![
        span(on("api", at(1, "h", 0, call("checkout"))), "s1", None),
        span(
            on("stock", at(2, "w", 3, request("/reserve?id=4"))),
            "s2",
            Some("s1"),
        ),
        span(
            on("stock", at(3, "w", 4, call("reserve"))),
            "s2",
            Some("s1"),
        ),
        span(on("stock", at(4, "w", 8, response(200))), "s2", Some("s1")),
    ];
    let calls = calls_of(&events);
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(edge(call), ("api", "stock", CallKind::Http));
    assert_eq!(call.latency_ns, 5 * MS as u64);
    assert!(!call.is_error);
    assert_eq!((call.caller_event, call.callee_event), (id(1), id(2)));
}

#[test]
fn caller_request_response_pair_when_the_callee_records_none() {
    let events = vec![
        span(
            on("api", at(1, "h", 2, request("http://stock/reserve"))),
            "s1",
            None,
        ),
        span(
            on("stock", at(2, "w", 3, call("reserve"))),
            "s2",
            Some("s1"),
        ),
        span(on("api", at(3, "h", 10, response(502))), "s1", None),
    ];
    let calls = calls_of(&events);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].latency_ns, 8 * MS as u64);
    assert!(calls[0].is_error, "5xx answer");
}

#[test]
fn without_pairs_the_callee_side_extent_counts_and_errors_fail_the_call() {
    let events = vec![
        span(on("api", at(1, "h", 0, call("checkout"))), "s1", None),
        lasting(
            span(
                on("stock", at(2, "w", 3, call("reserve"))),
                "s2",
                Some("s1"),
            ),
            2,
        ),
        lasting(
            span(on("stock", at(3, "w", 4, error("Db"))), "s2", Some("s1")),
            4,
        ),
        // A second thread of the callee in the same span: the same call, not another.
        lasting(
            span(on("stock", at(4, "x", 5, call("audit"))), "s2", Some("s1")),
            1,
        ),
    ];
    let calls = calls_of(&events);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].latency_ns, 5 * MS as u64, "3 ms to 8 ms");
    assert!(calls[0].is_error);
}

#[test]
fn nested_calls_are_separate_rows_and_errors_stay_with_their_callee() {
    let events = vec![
        span(on("a", at(1, "h", 0, call("x"))), "sa", None),
        lasting(
            span(on("b", at(2, "h", 1, call("y"))), "sb", Some("sa")),
            10,
        ),
        lasting(
            span(on("c", at(3, "h", 2, error("Boom"))), "sc", Some("sb")),
            1,
        ),
    ];
    let calls = calls_of(&events);
    let edges: Vec<_> = calls.iter().map(|c| (edge(c), c.is_error)).collect();
    assert_eq!(
        edges,
        vec![
            (("a", "b", CallKind::Http), false),
            (("b", "c", CallKind::Http), true)
        ]
    );
}

#[test]
fn parent_links_across_services_are_calls() {
    let events = vec![
        lasting(on("web", at(1, "main", 0, call("handle"))), 20),
        lasting(with_parent(on("ledger", at(2, "w", 2, call("post"))), 1), 6),
        lasting(
            with_parent(on("web", at(3, "main", 9, call("render"))), 1),
            2,
        ),
    ];
    let calls = calls_of(&events);
    assert_eq!(calls.len(), 1);
    assert_eq!(edge(&calls[0]), ("web", "ledger", CallKind::Http));
    assert_eq!(calls[0].latency_ns, 6 * MS as u64);
}

#[test]
fn messages_across_services_are_message_calls() {
    let events = vec![
        on(
            "orders",
            at(1, "p", 0, send(kafka("placed", Some("o1"), None))),
        ),
        on(
            "mail",
            at(2, "c", 7, receive(kafka("placed", Some("o1"), None))),
        ),
        on(
            "orders",
            at(3, "q", 8, receive(kafka("placed", Some("o1"), None))),
        ),
    ];
    let calls = calls_of(&events);
    assert_eq!(
        calls.len(),
        1,
        "a service consuming its own message is no dependency"
    );
    assert_eq!(edge(&calls[0]), ("orders", "mail", CallKind::Message));
    assert_eq!(calls[0].latency_ns, 7 * MS as u64);
    assert!(!calls[0].is_error);
}

#[test]
fn ids_are_deterministic_whatever_the_input_order() {
    let events = vec![
        span(on("api", at(1, "h", 0, call("checkout"))), "s1", None),
        span(
            on("stock", at(2, "w", 3, call("reserve"))),
            "s2",
            Some("s1"),
        ),
        on("api", at(3, "p", 4, send(kafka("t", None, None)))),
        on("mail", at(4, "c", 5, receive(kafka("t", None, None)))),
    ];
    let reversed: Vec<Event> = events.iter().rev().cloned().collect();
    let ids = |calls: Vec<ServiceCall>| calls.into_iter().map(|c| c.id).collect::<Vec<_>>();
    let first = ids(calls_of(&events));
    assert_eq!(first.len(), 2);
    assert_eq!(first, ids(calls_of(&reversed)));
}

#[test]
fn summaries_count_each_row_once_with_nearest_rank_percentiles() {
    let row = |n: u64, callee: &str, error: bool| ServiceCall {
        id: Uuid::from_u128(u128::from(n)),
        trace_id: Uuid::nil(),
        caller_service: "api".into(),
        callee_service: callee.into(),
        kind: CallKind::Http,
        latency_ns: n * MS as u64,
        is_error: error,
        caller_event: Uuid::nil(),
        callee_event: Uuid::nil(),
        timestamp_ns: 0,
    };
    let mut rows: Vec<ServiceCall> = (1..=100).map(|n| row(n, "stock", n % 10 == 0)).collect();
    let replayed = rows.clone();
    rows.extend(replayed);
    rows.push(row(500, "mail", false));
    let edges = summarize_calls(&rows);
    assert_eq!(edges.len(), 2);
    let stock = &edges[1];
    assert_eq!(
        (stock.callee_service.as_str(), stock.calls, stock.errors),
        ("stock", 100, 10)
    );
    assert_eq!(
        (stock.p50_ms, stock.p95_ms, stock.p99_ms),
        (50.0, 95.0, 99.0)
    );
    assert_eq!((edges[0].calls, edges[0].p99_ms), (1, 500.0));
    assert!(summarize_calls(&[]).is_empty());
}

/// The tree's shared copy of each service's name only saves comparisons: with every node's
/// names copied apart (no two nodes sharing one), the calls are the same, on random traces of
/// several services, instances and threads with parent links, spans and HTTP steps.
#[test]
fn shared_service_names_give_the_calls_their_text_gives() {
    use raceway_schemas::{HttpRequest, HttpResponse};
    use rand::Rng;
    crate::testing::random_rounds(29, 300, |rng, _| {
        let len = rng.gen_range(1..50u128);
        let mut events = crate::testing::random_events(rng, len);
        for (e, n) in events.iter_mut().zip(1u128..) {
            e.metadata.service_name = ["s", "t", "u"][rng.gen_range(0..3)].into();
            e.metadata.instance_id = rng.gen_bool(0.3).then(|| "1".to_string());
            e.parent_id = rng
                .gen_bool(0.6)
                .then(|| crate::testing::id(rng.gen_range(1..=len.max(n))));
            let span = |rng: &mut rand_xoshiro::Xoshiro256PlusPlus| {
                rng.gen_bool(0.4)
                    .then(|| ["p", "q"][rng.gen_range(0..2)].to_string())
            };
            e.metadata.distributed_span_id = span(rng);
            e.metadata.upstream_span_id = span(rng);
            e.kind = match rng.gen_range(0..4) {
                0 => EventKind::HttpRequest(HttpRequest::default()),
                1 => EventKind::HttpResponse(HttpResponse {
                    status: [200, 500][rng.gen_range(0..2)],
                    ..HttpResponse::default()
                }),
                _ => e.kind.clone(),
            };
        }
        let tree = trace_tree(&events);
        let mut apart = tree.clone();
        for node in &mut apart.nodes {
            node.service = std::sync::Arc::from(node.service.to_string());
        }
        assert_eq!(
            service_calls(&events, &tree),
            service_calls(&events, &apart)
        );
    });
}

#[test]
fn the_http_kind_names_are_the_events_kind_names() {
    use raceway_schemas::{HttpRequest, HttpResponse};
    assert_eq!(
        super::HTTP_REQUEST,
        EventKind::HttpRequest(HttpRequest::default()).name()
    );
    assert_eq!(
        super::HTTP_RESPONSE,
        EventKind::HttpResponse(HttpResponse::default()).name()
    );
}

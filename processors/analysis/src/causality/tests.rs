use raceway_schemas::{AccessType, Event, EventKind, LockMode, VectorClock};
use uuid::Uuid;

use super::*;
use crate::testing::{acquire, call, event, held, id, release, trusted, write, TRACE};

/// Clock of the event with id `n`.
fn clock_of(events: &[Event], causality: &TraceCausality, n: u128) -> VectorClock {
    let index = events.iter().position(|e| e.id == id(n)).unwrap();
    causality.per_event[index].clock.to_vector_clock()
}

fn before(events: &[Event], causality: &TraceCausality, a: u128, b: u128) -> bool {
    clock_of(events, causality, a).happens_before(&clock_of(events, causality, b))
}

fn concurrent(events: &[Event], causality: &TraceCausality, a: u128, b: u128) -> bool {
    clock_of(events, causality, a).concurrent_with(&clock_of(events, causality, b))
}

fn with_parent(mut e: Event, parent: u128) -> Event {
    e.parent_id = Some(id(parent));
    e
}

fn ordered_ids(events: &[Event], causality: &TraceCausality) -> Vec<Uuid> {
    causality
        .causal_order
        .iter()
        .map(|&i| events[i].id)
        .collect()
}

/// The fixture: a call on thread-main, parent of a write on each of two workers.
fn fixture() -> Vec<Event> {
    vec![
        event(1, "thread-main", 0, call()),
        with_parent(
            event(2, "worker-1", 1_000_000, write("balance", "balance.rs:12")),
            1,
        ),
        with_parent(
            event(3, "worker-2", 2_000_000, write("balance", "balance.rs:45")),
            1,
        ),
    ]
}

#[test]
fn empty_trace_is_untrusted_and_empty() {
    let causality = trace_causality(&[]);
    assert!(!causality.trusted);
    assert!(causality.per_event.is_empty());
    assert!(causality.causal_order.is_empty());
}

#[test]
fn fixture_children_follow_parent_and_are_concurrent() {
    let events = fixture();
    let causality = trace_causality(&events);
    assert!(!causality.trusted);
    assert!(before(&events, &causality, 1, 2));
    assert!(before(&events, &causality, 1, 3));
    assert!(concurrent(&events, &causality, 2, 3));
    assert_eq!(ordered_ids(&events, &causality), vec![id(1), id(2), id(3)]);
}

#[test]
fn derived_components_are_scoped_to_the_trace() {
    let events = fixture();
    let causality = trace_causality(&events);
    let clock = clock_of(&events, &causality, 2);
    assert_eq!(clock.get(&format!("{TRACE}/web/worker-1")), 1);
    assert_eq!(clock.get(&format!("{TRACE}/web/thread-main")), 1);
    assert_eq!(clock.len(), 2);
}

#[test]
fn program_order_orders_one_actor() {
    let events = vec![
        event(2, "t", 20, write("x", "a")),
        event(1, "t", 10, write("x", "b")),
        event(3, "u", 15, write("x", "c")),
    ];
    let causality = trace_causality(&events);
    assert!(before(&events, &causality, 1, 2));
    assert!(concurrent(&events, &causality, 1, 3));
    assert!(concurrent(&events, &causality, 2, 3));
}

#[test]
fn skewed_parent_link_still_orders_across_actors() {
    // The child's clock runs behind: it claims to happen before its parent.
    let events = vec![
        event(1, "main", 100, call()),
        with_parent(event(2, "worker", 50, write("x", "a")), 1),
        event(3, "worker", 60, write("x", "b")),
    ];
    let causality = trace_causality(&events);
    assert!(before(&events, &causality, 1, 2));
    assert!(
        before(&events, &causality, 2, 3),
        "program order follows the child"
    );
    assert_eq!(ordered_ids(&events, &causality), vec![id(1), id(2), id(3)]);
}

#[test]
fn parent_cycle_does_not_panic_and_time_wins_between_actors() {
    // Same actor, the parent link points forwards in time: timestamps say 2 before 3, the link
    // says 3 before 2, and inside one actor the SDK's link wins. Between actors 5 and 6 the
    // links contradict each other, and time breaks the cycle.
    let events = vec![
        with_parent(event(2, "t", 10, write("x", "a")), 3),
        event(3, "t", 20, write("x", "b")),
        with_parent(event(4, "u", 30, call()), 4),
        with_parent(event(5, "u", 40, call()), 6),
        with_parent(event(6, "v", 35, call()), 5),
    ];
    let causality = trace_causality(&events);
    assert!(before(&events, &causality, 3, 2), "the SDK's order wins");
    assert!(
        before(&events, &causality, 6, 5),
        "time breaks the 5 <-> 6 cycle"
    );
    assert_eq!(causality.causal_order.len(), events.len());
}

#[test]
fn result_is_independent_of_input_order() {
    let mut events = vec![
        event(1, "main", 0, call()),
        with_parent(event(2, "w1", 10, acquire("m", LockMode::Exclusive)), 1),
        event(3, "w1", 20, write("x", "a")),
        event(4, "w1", 30, release("m", LockMode::Exclusive)),
        with_parent(event(5, "w2", 25, acquire("m", LockMode::Exclusive)), 1),
        event(6, "w2", 40, write("x", "b")),
        event(7, "w2", 40, write("x", "c")),
    ];
    let reference = trace_causality(&events);
    let reference_ids = ordered_ids(&events, &reference);
    let reference_clocks: Vec<VectorClock> =
        (1..=7).map(|n| clock_of(&events, &reference, n)).collect();
    for rotation in 1..events.len() {
        events.rotate_left(1);
        let mut shuffled = events.clone();
        if rotation % 2 == 0 {
            shuffled.reverse();
        }
        let causality = trace_causality(&shuffled);
        assert_eq!(ordered_ids(&shuffled, &causality), reference_ids);
        for n in 1..=7u128 {
            assert_eq!(
                clock_of(&shuffled, &causality, n),
                reference_clocks[(n - 1) as usize]
            );
        }
    }
}

#[test]
fn upstream_span_links_only_the_entry_of_each_callee_actor() {
    let mut caller_send = event(1, "caller", 10, call());
    caller_send.metadata.distributed_span_id = Some("span-a".into());
    let mut caller_later = event(2, "caller", 30, write("x", "caller.rs:1"));
    caller_later.metadata.distributed_span_id = Some("span-a".into());
    let mut callee_entry = event(3, "callee", 20, call());
    callee_entry.metadata.service_name = "api".into();
    callee_entry.metadata.upstream_span_id = Some("span-a".into());
    let mut callee_write = callee_entry.clone();
    callee_write.id = id(4);
    callee_write.timestamp_ns = 40;
    callee_write.kind = write("x", "api.rs:1");
    let events = vec![caller_send, caller_later, callee_entry, callee_write];
    let causality = trace_causality(&events);
    assert!(before(&events, &causality, 1, 3));
    assert!(before(&events, &causality, 1, 4));
    assert!(
        concurrent(&events, &causality, 2, 4),
        "the caller's later step is not ordered before the callee"
    );
}

#[test]
fn exclusive_lock_hand_over_orders_critical_sections() {
    let events = vec![
        event(1, "a", 10, acquire("m", LockMode::Exclusive)),
        event(2, "a", 20, write("x", "a")),
        event(3, "a", 30, release("m", LockMode::Exclusive)),
        event(4, "b", 40, acquire("m", LockMode::Exclusive)),
        event(5, "b", 50, write("x", "b")),
    ];
    let causality = trace_causality(&events);
    assert!(before(&events, &causality, 2, 5));
    assert_eq!(
        causality.per_event[1].locks.to_vec(),
        vec![held("m", LockMode::Exclusive)]
    );
    assert!(
        causality.per_event[2].locks.is_empty(),
        "release gave it up"
    );
    assert_eq!(
        causality.per_event[3].locks.to_vec(),
        vec![held("m", LockMode::Exclusive)],
        "acquire holds its lock"
    );
}

#[test]
fn shared_holds_do_not_order_each_other() {
    let events = vec![
        event(1, "a", 10, acquire("rw", LockMode::Shared)),
        event(2, "a", 20, write("x", "a")),
        event(3, "a", 30, release("rw", LockMode::Shared)),
        event(4, "b", 40, acquire("rw", LockMode::Shared)),
        event(5, "b", 50, write("x", "b")),
        event(6, "b", 60, release("rw", LockMode::Shared)),
        event(7, "c", 70, acquire("rw", LockMode::Exclusive)),
        event(8, "c", 80, write("x", "c")),
    ];
    let causality = trace_causality(&events);
    assert!(concurrent(&events, &causality, 2, 5));
    assert_eq!(
        causality.per_event[1].locks.to_vec(),
        vec![held("rw", LockMode::Shared)]
    );
    // The writer waits for every reader.
    assert!(before(&events, &causality, 2, 8));
    assert!(before(&events, &causality, 5, 8));
}

#[test]
fn exclusive_release_orders_a_later_shared_acquire() {
    let events = vec![
        event(1, "w", 10, acquire("rw", LockMode::Exclusive)),
        event(2, "w", 20, write("x", "a")),
        event(3, "w", 30, release("rw", LockMode::Exclusive)),
        event(4, "r", 40, acquire("rw", LockMode::Shared)),
        event(
            5,
            "r",
            50,
            crate::testing::access_kind("x", "b", AccessType::Read),
        ),
    ];
    let causality = trace_causality(&events);
    assert!(before(&events, &causality, 2, 5));
}

#[test]
fn trusted_trace_uses_clocks_as_sent_and_orders_by_them() {
    // Timestamps disagree with the clocks (skew); the clocks decide the causal order.
    let events = vec![
        trusted(event(1, "a", 50, write("x", "a")), &[("A", 1)]),
        trusted(event(2, "b", 10, write("x", "b")), &[("A", 1), ("B", 1)]),
        trusted(event(3, "c", 5, write("x", "c")), &[("C", 4)]),
    ];
    let causality = trace_causality(&events);
    assert!(causality.trusted);
    assert_eq!(
        causality.per_event[1].clock.to_vector_clock(),
        VectorClock::from_pairs([("A", 1), ("B", 1)])
    );
    assert!(before(&events, &causality, 1, 2));
    let order = ordered_ids(&events, &causality);
    let position = |n| order.iter().position(|&e| e == id(n)).unwrap();
    assert!(position(1) < position(2));
}

#[test]
fn one_untrusted_event_derives_the_whole_trace() {
    let events = vec![
        trusted(event(1, "a", 10, write("x", "a")), &[("A", 1)]),
        event(2, "b", 20, write("x", "b")),
    ];
    let causality = trace_causality(&events);
    assert!(!causality.trusted);
    assert_eq!(clock_of(&events, &causality, 1).get("A"), 0);
    assert_eq!(
        clock_of(&events, &causality, 1).get(&format!("{TRACE}/web/a")),
        1
    );
}

#[test]
fn lock_sets_are_rebuilt_for_trusted_traces_too() {
    let events = vec![
        trusted(
            event(1, "a", 10, acquire("m", LockMode::Exclusive)),
            &[("A", 1)],
        ),
        trusted(event(2, "a", 20, write("x", "a")), &[("A", 2)]),
    ];
    let causality = trace_causality(&events);
    assert!(causality.trusted);
    assert_eq!(
        causality.per_event[1].locks.to_vec(),
        vec![held("m", LockMode::Exclusive)]
    );
}

/// The TypeScript SDK's shape: a request's `HttpRequest` is stamped after the handler steps it
/// parents, and the per-trace counters (`[[root id, n]]`) say it ran first.
fn request_stamped_late() -> Vec<Event> {
    let mut request = event(10, "node-1", 3_000, call());
    let mut first = with_parent(event(11, "node-1", 1_000, write("x", "h.ts:2")), 10);
    let mut second = with_parent(event(12, "node-1", 2_000, write("x", "h.ts:3")), 11);
    first.causality_vector = vec![(id(10).to_string(), 1)];
    second.causality_vector = vec![(id(10).to_string(), 2)];
    request.causality_vector = Vec::new();
    vec![second, request, first]
}

#[test]
fn inside_an_actor_the_sdk_order_wins_over_timestamps() {
    let events = request_stamped_late();
    let causality = trace_causality(&events);
    assert!(before(&events, &causality, 10, 11));
    assert!(before(&events, &causality, 11, 12));
    assert_eq!(
        ordered_ids(&events, &causality),
        vec![id(10), id(11), id(12)]
    );
    let order = actor_program_order(&events);
    let position = |n: u128| order.order.iter().position(|&i| events[i].id == id(n));
    assert!(position(10) < position(11) && position(11) < position(12));
    let request = events.iter().position(|e| e.id == id(10)).unwrap();
    assert_eq!(
        order.effective_ns[request], 1_000,
        "starts by its first step"
    );
}

/// Two steps of actor `t`: `first` (at 1 us, the parent of `second` when `linked`) and
/// `second` (at 2 us), with counters on one component.
fn counted_pair((first, second): (u128, u128), counters: (u64, u64), linked: bool) -> Vec<Event> {
    let mut a = event(first, "t", 1_000, write("x", "a"));
    let mut b = event(second, "t", 2_000, write("x", "b"));
    if linked {
        a.parent_id = Some(id(second));
    }
    a.causality_vector = vec![("svc#1".into(), counters.0)];
    b.causality_vector = vec![("svc#1".into(), counters.1)];
    vec![b, a]
}

#[test]
fn counters_alone_order_an_actor() {
    // No parent link: only the counters say 21 (stamped later) ran before 20.
    let events = counted_pair((20, 21), (8, 7), false);
    assert!(before(&events, &trace_causality(&events), 21, 20));
}

#[test]
fn contradicting_sdk_evidence_falls_back_to_time() {
    // The parent link says 31 before 30, the counters say 30 before 31: time decides.
    let events = counted_pair((30, 31), (1, 2), true);
    assert!(before(&events, &trace_causality(&events), 30, 31));
}

/// An event of `service` (instance `1`) in span `span` called from `upstream`, with the clock the
/// existing SDKs send: one component per service instance.
fn sdk_event(
    n: u128,
    service: &str,
    at: i64,
    kind: EventKind,
    (span, upstream): (&str, Option<&str>),
    clock: &[(&str, u64)],
) -> Event {
    let mut e = event(n, &format!("{service}-ctx"), at, kind);
    e.metadata.service_name = service.into();
    e.metadata.instance_id = Some("1".into());
    e.metadata.distributed_span_id = Some(span.into());
    e.metadata.upstream_span_id = upstream.map(String::from);
    e.causality_vector = clock.iter().map(|(c, k)| (c.to_string(), *k)).collect();
    e
}

/// `a` calls `b` synchronously; the response (a child of `a`'s request, not of `b`'s step)
/// merges `b`'s clock into `a`'s; `a` then writes `x`, which `b` wrote too.
fn synchronous_call(parallel_second_callee: bool) -> Vec<Event> {
    use raceway_schemas::{HttpRequest, HttpResponse};
    let request = EventKind::HttpRequest(HttpRequest {
        method: "POST".into(),
        url: "/b".into(),
        headers: Vec::new(),
        body: None,
    });
    let response = EventKind::HttpResponse(HttpResponse {
        status: 200,
        headers: Vec::new(),
        body: None,
        duration_ms: 1,
    });
    let a = ("sa", None);
    let b = ("sb", Some("sa"));
    let mut events = vec![
        sdk_event(1, "a", 10, request.clone(), a, &[("a#1", 1)]),
        sdk_event(2, "b", 20, call(), b, &[("a#1", 1), ("b#1", 1)]),
        sdk_event(
            3,
            "b",
            30,
            write("x", "b.py:3"),
            b,
            &[("a#1", 1), ("b#1", 2)],
        ),
        with_parent(
            sdk_event(4, "a", 40, response, a, &[("a#1", 2), ("b#1", 2)]),
            1,
        ),
        sdk_event(
            5,
            "a",
            50,
            write("x", "a.py:5"),
            a,
            &[("a#1", 3), ("b#1", 2)],
        ),
    ];
    if parallel_second_callee {
        let mut other = sdk_event(
            6,
            "b",
            25,
            write("x", "b.py:9"),
            b,
            &[("a#1", 1), ("b#1", 1)],
        );
        other.metadata.thread_id = "b-ctx-2".into();
        events.push(other);
    }
    events
}

#[test]
fn a_merged_response_clock_orders_the_caller_after_its_only_callee() {
    let events = synchronous_call(false);
    let causality = trace_causality(&events);
    let before = |a, b| before(&events, &causality, a, b);
    assert!(before(3, 4), "the callee's step precedes the response");
    assert!(before(3, 5) && !before(3, 1));
    // A second callee actor of the same instance and span: which one answered is unknown.
    let events = synchronous_call(true);
    let causality = trace_causality(&events);
    assert!(concurrent(&events, &causality, 3, 5));
    assert!(concurrent(&events, &causality, 6, 5));
}

#[test]
fn trusted_traces_take_no_merge_edges() {
    let events: Vec<Event> = synchronous_call(false)
        .into_iter()
        .map(|e| {
            let clock: Vec<(String, u64)> = e.causality_vector.clone();
            let pairs: Vec<(&str, u64)> = clock.iter().map(|(c, k)| (c.as_str(), *k)).collect();
            trusted(e, &pairs)
        })
        .collect();
    let causality = trace_causality(&events);
    assert!(causality.trusted);
    assert_eq!(
        clock_of(&events, &causality, 5).to_pairs(),
        vec![("a#1".into(), 3), ("b#1".into(), 2)],
        "sent clocks are used as sent"
    );
}

/// The actor numbers the per-actor replays index their state by (`numbered_program_order`): equal
/// exactly when the actors (trace, service, instance, thread) are, numbered by first appearance
/// in program order, on random traces given in random order.
#[test]
fn actor_numbers_identify_actors_in_order_of_first_appearance() {
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
    for _ in 0..50 {
        let len = rng.gen_range(1..60);
        let mut events: Vec<Event> = (0..len)
            .map(|n| {
                let thread = ["a", "b", "c"][rng.gen_range(0..3)];
                let mut e = event(n + 1, thread, rng.gen_range(0..20), call());
                e.metadata.service_name = ["s", "t"][rng.gen_range(0..2)].into();
                e.metadata.instance_id = rng.gen_bool(0.5).then(|| "1".to_string());
                if rng.gen_bool(0.2) {
                    e.trace_id = id(99);
                }
                e
            })
            .collect();
        events.shuffle(&mut rng);
        let (order, actor_of) = numbered_program_order(&events);
        let mut seen = Vec::new();
        for &index in &order.order {
            let actor = actor_of[index];
            if !seen.contains(&actor) {
                assert_eq!(actor, seen.len(), "numbered by first appearance");
                seen.push(actor);
            }
        }
        let key = |i: usize| crate::locksets::actor_key(&events[i]);
        for i in 0..events.len() {
            for j in 0..events.len() {
                assert_eq!(actor_of[i] == actor_of[j], key(i) == key(j));
            }
        }
        assert_eq!(trace_causality(&events).actor_of, actor_of);
    }
}

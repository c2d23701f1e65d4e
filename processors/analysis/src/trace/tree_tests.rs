use super::*;
use crate::trace::fixtures::{
    at, call, chain, error, id, kafka, lasting, on, receive, request, response, send, span, spawn,
    with_parent, MS,
};

fn node_of(tree: &TraceTree, n: u128) -> &TreeNode {
    tree.nodes.iter().find(|node| node.id == id(n)).unwrap()
}

/// The shared fixture's shape: a call on the main thread, parent of a write on two workers.
fn fixture() -> Vec<Event> {
    vec![
        lasting(at(1, "main", 0, call("handle")), 17),
        lasting(with_parent(at(2, "worker-1", 1, call("a")), 1), 8),
        lasting(with_parent(at(3, "worker-2", 2, call("b")), 1), 9),
    ]
}

#[test]
fn parent_links_nest_children_in_time_order_with_self_time() {
    let tree = trace_tree(&fixture());
    assert_eq!(tree.roots, vec![0]);
    let root = &tree.nodes[0];
    assert_eq!(root.id, id(1));
    assert_eq!(root.children, vec![1, 2]);
    assert_eq!(
        (&*root.kind, &*root.location),
        ("FunctionCall", "app::handle")
    );
    assert_eq!(root.duration_ns, 17 * MS as u64);
    // Children cover 1..9 and 2..11 ms: union 10 ms, so 7 ms of the 17 are the root's own.
    assert_eq!(root.self_time_ns, 7 * MS as u64);
    assert_eq!(tree.nodes[1].link, Some(LinkKind::Parent));
    assert_eq!((tree.nodes[1].depth, tree.nodes[1].parent), (1, Some(0)));
    assert!(tree.nodes.iter().all(|n| n.duration_measured));
    assert_eq!((tree.start_ns, tree.end_ns), (0, 17 * MS));
    assert_eq!(tree.trace_id, crate::trace::fixtures::TRACE);
}

#[test]
fn input_order_does_not_change_the_tree() {
    let events = fixture();
    let reversed: Vec<Event> = events.iter().rev().cloned().collect();
    let json = |tree: &TraceTree| serde_json::to_string(tree).unwrap();
    assert_eq!(json(&trace_tree(&events)), json(&trace_tree(&reversed)));
}

#[test]
fn orphans_wait_under_one_placeholder_per_missing_parent() {
    let events = vec![
        at(1, "main", 0, call("root")),
        with_parent(at(2, "w", 5, call("lost-a")), 77),
        with_parent(at(3, "w", 6, call("lost-b")), 77),
        with_parent(at(4, "v", 7, call("lost-c")), 88),
    ];
    let tree = trace_tree(&events);
    assert_eq!(tree.event_nodes().count(), 4, "no event dropped");
    let placeholders: Vec<&TreeNode> = tree
        .nodes
        .iter()
        .filter(|n| n.placeholder.is_some())
        .collect();
    assert_eq!(placeholders.len(), 2);
    let lost = node_of(&tree, 77);
    assert_eq!(lost.placeholder, Some(Placeholder::MissingParent));
    assert_eq!(&*lost.kind, "MissingParent");
    assert_eq!(lost.children.len(), 2);
    assert_eq!(lost.self_time_ns, 0);
    assert_eq!(lost.start_ns, 5 * MS, "a placeholder spans its children");
    assert_eq!(node_of(&tree, 2).link, Some(LinkKind::Placeholder));
    assert_eq!(tree.roots.len(), 3);
}

#[test]
fn parent_cycles_are_cut_at_their_earliest_event() {
    let events = vec![
        with_parent(at(1, "a", 0, call("x")), 2),
        with_parent(at(2, "b", 5, call("y")), 1),
        with_parent(at(3, "c", 6, call("z")), 2),
    ];
    let tree = trace_tree(&events);
    assert_eq!(tree.event_nodes().count(), 3);
    let cycle = &tree.nodes[tree.roots[0]];
    assert_eq!(cycle.placeholder, Some(Placeholder::ParentCycle));
    assert_eq!(
        tree.nodes[cycle.children[0]].id,
        id(1),
        "earliest member cut"
    );
    assert_eq!(
        node_of(&tree, 2).parent.map(|p| tree.nodes[p].id),
        Some(id(1))
    );
    assert_eq!(node_of(&tree, 3).depth, 3);
}

#[test]
fn spawn_remote_call_and_message_links_build_one_tree() {
    let events = vec![
        span(on("api", at(1, "main", 0, spawn("task-1"))), "s1", None),
        span(
            on("api", at(2, "task-1", 1, send(kafka("orders", None, None)))),
            "s1",
            None,
        ),
        span(on("api", at(3, "main", 2, call("call_stock"))), "s1", None),
        span(
            on("stock", at(4, "h", 3, call("reserve"))),
            "s2",
            Some("s1"),
        ),
        on("mail", at(5, "c", 4, receive(kafka("orders", None, None)))),
    ];
    let tree = trace_tree(&events);
    assert_eq!(tree.roots.len(), 1);
    assert_eq!(node_of(&tree, 2).link, Some(LinkKind::Spawn));
    assert_eq!(node_of(&tree, 3).link, Some(LinkKind::ProgramOrder));
    let remote = node_of(&tree, 4);
    assert_eq!(remote.link, Some(LinkKind::RemoteCall));
    assert_eq!(tree.nodes[remote.parent.unwrap()].id, id(3));
    let consumer = node_of(&tree, 5);
    assert_eq!(consumer.link, Some(LinkKind::Message));
    assert_eq!(tree.nodes[consumer.parent.unwrap()].id, id(2));
}

#[test]
fn chained_parent_links_give_each_step_the_gap_to_the_next() {
    // Our SDK: each event's parent is the actor's previous event, no durations.
    let events = vec![
        at(1, "main", 0, call("a")),
        with_parent(at(2, "main", 3, call("b")), 1),
        with_parent(at(3, "main", 10, error("Timeout")), 2),
    ];
    let tree = trace_tree(&events);
    let selfs: Vec<u64> = tree
        .nodes
        .iter()
        .map(|n| n.self_time_ns / MS as u64)
        .collect();
    assert_eq!(selfs, vec![3, 7, 0]);
    assert_eq!(tree.nodes[0].duration_ns, 10 * MS as u64);
    assert!(!tree.nodes[0].duration_measured);
    assert!(tree.nodes[2].error && !tree.nodes[0].error);
    assert_eq!(tree.max_depth(), 2);
}

#[test]
fn error_responses_are_flagged() {
    let tree = trace_tree(&[at(1, "m", 0, response(503)), at(2, "m", 1, response(404))]);
    assert!(tree.nodes[0].error);
    assert!(!tree.nodes[1].error, "a 4xx is the caller's mistake");
}

#[test]
fn long_chains_neither_overflow_nor_lose_events_and_round_trip() {
    let n = 20_000u128;
    let events = chain(n);
    let tree = trace_tree(&events);
    assert_eq!(tree.nodes.len(), n as usize);
    assert_eq!(tree.max_depth(), (n - 1) as u32);
    let json = serde_json::to_string(&tree).unwrap();
    let back: TraceTree = serde_json::from_str(&json).unwrap();
    assert_eq!(back.nodes.len(), tree.nodes.len());
    assert_eq!(back.nodes[7].self_time_ns, tree.nodes[7].self_time_ns);
    assert_eq!(
        back.nodes[7].event_index, None,
        "input indices are not stored"
    );
}

#[test]
fn empty_trace_gives_an_empty_tree() {
    let tree = trace_tree(&[]);
    assert!(tree.nodes.is_empty() && tree.roots.is_empty());
    assert_eq!(tree.trace_id, Uuid::nil());
    assert_eq!(tree.wall_clock_ns(), 0);
}

#[test]
fn a_request_stamped_after_its_handler_steps_still_starts_first() {
    // The TypeScript SDK's shape: the HttpRequest (counter 0, no vector) is stamped at 5 ms, the
    // handler steps it parents (counters 1 and 2) at 2 and 3 ms.
    let counted = |mut event: Event, n: u64| {
        event.causality_vector = vec![(id(1).to_string(), n)];
        event
    };
    let events = vec![
        at(1, "node-1", 5, request("/pay")),
        counted(with_parent(at(2, "node-1", 2, call("validate")), 1), 1),
        counted(with_parent(at(3, "node-1", 3, call("charge")), 2), 2),
    ];
    let tree = trace_tree(&events);
    assert_eq!(tree.roots.len(), 1);
    let request = node_of(&tree, 1);
    assert_eq!(
        tree.nodes[tree.roots[0]].id,
        id(1),
        "the request is the root"
    );
    let validate = node_of(&tree, 2);
    let charge = node_of(&tree, 3);
    assert!(
        request.start_ns <= validate.start_ns,
        "not after its own children"
    );
    assert_eq!(request.start_ns, 2 * MS);
    assert!(validate.start_ns <= charge.start_ns);
    assert_eq!(validate.parent.map(|p| tree.nodes[p].id), Some(id(1)));
}

/// Every node's names are its event's (service, thread, kind, `event_location`), whatever the
/// shared copies and the per-actor memo of the last two locations hand out, and nodes of one
/// service (one location) share one copy of its name: on random traces of several services,
/// instances and threads whose steps repeat, alternate and change their locations.
#[test]
fn node_names_are_their_events_and_a_service_shares_one_copy() {
    use raceway_schemas::{AccessType, EventKind};
    use rand::Rng;
    crate::testing::random_rounds(23, 200, |rng, _| {
        let len = rng.gen_range(1..60u128);
        let mut events = crate::testing::random_events(rng, len);
        for e in &mut events {
            e.metadata.service_name = ["s", "t", "u"][rng.gen_range(0..3)].into();
            e.metadata.instance_id = rng.gen_bool(0.5).then(|| "1".to_string());
            let place = ["x.rs:1", "y.rs:2", ""][rng.gen_range(0..3)];
            e.kind = match rng.gen_range(0..4) {
                0 => crate::testing::access_kind("v", place, AccessType::Read),
                1 => crate::testing::access_kind("w", place, AccessType::Write),
                2 => EventKind::FunctionCall(raceway_schemas::FunctionCall {
                    function_name: place.into(),
                    module: ["", "m"][rng.gen_range(0..2)].into(),
                    ..Default::default()
                }),
                _ => e.kind.clone(),
            };
        }
        let tree = trace_tree(&events);
        let mut services: Vec<&std::sync::Arc<str>> = Vec::new();
        let mut locations: Vec<&std::sync::Arc<str>> = Vec::new();
        for node in tree.event_nodes() {
            let event = &events[node.event_index.expect("a fresh tree")];
            assert_eq!(node.id, event.id);
            assert_eq!(&*node.service, event.metadata.service_name);
            assert_eq!(&*node.thread, event.metadata.thread_id);
            assert_eq!(&*node.kind, event.kind.name());
            assert_eq!(&*node.location, crate::trace::event_location(event));
            match services.iter().find(|s| ***s == node.service) {
                Some(copy) => assert!(std::sync::Arc::ptr_eq(copy, &node.service)),
                None => services.push(&node.service),
            }
            // One copy per distinct location, whichever way it was found.
            match locations.iter().find(|l| ***l == node.location) {
                Some(copy) => assert!(std::sync::Arc::ptr_eq(copy, &node.location)),
                None => locations.push(&node.location),
            }
        }
    });
}

/// A node's kind is borrowed from the static names, and the grouping and sequence memos that key
/// a kind by its address rely on no two names sharing one: no name is a prefix of another.
#[test]
fn kinds_are_static_names_none_a_prefix_of_another() {
    let mut names: Vec<&str> = raceway_schemas::EventKind::NAMES.to_vec();
    names.extend(["MissingParent", "ParentCycle"]);
    for a in &names {
        for b in &names {
            assert!(a == b || !b.starts_with(a), "{a} is a prefix of {b}");
        }
    }
}

/// Borrowed kinds serialise as the text they name, and a tree read back (owned kinds) equals
/// and serialises as the tree it was written from, on random traces.
#[test]
fn a_tree_with_borrowed_kinds_round_trips_as_text() {
    crate::testing::random_rounds(31, 100, |rng, _| {
        use rand::Rng;
        let len = rng.gen_range(1..60u128);
        let mut events = crate::testing::random_events(rng, len);
        for (e, n) in events.iter_mut().zip(1..) {
            e.parent_id = match rng.gen_range(0..3) {
                0 => None,
                1 => Some(crate::testing::id(n.max(2) - 1)),
                _ => Some(crate::testing::id(rng.gen_range(1..=len + 3))),
            };
        }
        let tree = trace_tree(&events);
        for node in &tree.nodes {
            assert!(matches!(node.kind, std::borrow::Cow::Borrowed(_)));
        }
        let text = serde_json::to_string(&tree).expect("serialise");
        let read: TraceTree = serde_json::from_str(&text).expect("deserialise");
        let mut written = tree.clone();
        written.nodes.iter_mut().for_each(|n| n.event_index = None);
        assert_eq!(read, written);
        assert_eq!(serde_json::to_string(&read).expect("serialise"), text);
        let value: serde_json::Value = serde_json::from_str(&text).expect("json");
        for (node, json) in tree
            .nodes
            .iter()
            .zip(value["nodes"].as_array().expect("nodes"))
        {
            assert_eq!(json["kind"].as_str(), Some(&*node.kind));
        }
    });
}

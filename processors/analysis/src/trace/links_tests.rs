use super::*;
use crate::trace::fixtures::{
    at, await_task, call, kafka, on, receive, send, span, spawn, with_parent,
};

#[test]
fn parent_missing_parent_program_order_and_root() {
    let events = vec![
        at(1, "main", 0, call("a")),
        with_parent(at(2, "main", 10, call("b")), 1),
        with_parent(at(3, "main", 20, call("c")), 99),
        at(4, "main", 30, call("d")),
        at(5, "other", 5, call("e")),
    ];
    let index = EventIndex::new(&events);
    let links = index.attachments();
    assert_eq!(links[0], Attachment::Root);
    let parent = Attachment::Linked {
        parent: 0,
        kind: LinkKind::Parent,
    };
    assert_eq!(links[1], parent);
    assert_eq!(links[2], Attachment::MissingParent(Uuid::from_u128(99)));
    let order = Attachment::Linked {
        parent: 2,
        kind: LinkKind::ProgramOrder,
    };
    assert_eq!(links[3], order);
    assert_eq!(links[4], Attachment::Root);
}

#[test]
fn remote_call_links_only_the_first_step_of_each_actor_in_the_span() {
    let events = vec![
        span(on("api", at(1, "h", 0, call("handle"))), "s1", None),
        span(on("api", at(2, "h", 10, call("call_db"))), "s1", None),
        span(on("db", at(3, "w", 12, call("query"))), "s2", Some("s1")),
        span(on("db", at(4, "w", 14, call("scan"))), "s2", Some("s1")),
    ];
    let index = EventIndex::new(&events);
    let links = index.attachments();
    let remote = Attachment::Linked {
        parent: 1,
        kind: LinkKind::RemoteCall,
    };
    assert_eq!(links[2], remote, "latest caller step before the callee");
    assert!(matches!(
        links[3],
        Attachment::Linked {
            parent: 2,
            kind: LinkKind::ProgramOrder
        }
    ));
    assert_eq!(index.remote_calls(), vec![(1, 2)]);
}

#[test]
fn spawned_task_hangs_under_its_spawn_and_await_finds_its_last_step() {
    let events = vec![
        at(1, "main", 0, spawn("task-1")),
        at(2, "task-1", 5, call("work")),
        at(3, "task-1", 9, call("more")),
        at(4, "main", 20, await_task("task-1")),
    ];
    let index = EventIndex::new(&events);
    let links = index.attachments();
    assert_eq!(
        links[1],
        Attachment::Linked {
            parent: 0,
            kind: LinkKind::Spawn
        }
    );
    assert_eq!(index.spawned_first(0), Some(1));
    assert_eq!(index.awaited_last(3), Some(2));
    assert_eq!(index.next_in_actor(0), Some(3));
    assert_eq!(index.prev_in_actor(3), Some(0));
}

#[test]
fn receive_pairs_with_exact_offset_then_latest_compatible_send() {
    let events = vec![
        on("orders", at(1, "p", 0, send(kafka("t", Some("k1"), None)))),
        on(
            "orders",
            at(2, "p", 5, send(kafka("t", Some("k2"), Some(7)))),
        ),
        on(
            "mail",
            at(3, "c", 10, receive(kafka("t", Some("k1"), None))),
        ),
        on("mail", at(4, "c", 11, receive(kafka("t", None, Some(7))))),
        on("mail", at(5, "c", 12, receive(kafka("other", None, None)))),
    ];
    let index = EventIndex::new(&events);
    assert_eq!(index.message_source(2), Some(0), "key k1 skips the k2 send");
    assert_eq!(
        index.message_source(3),
        Some(1),
        "exact partition and offset"
    );
    assert_eq!(index.message_source(4), None, "no send on that topic");
    assert_eq!(index.message_source(0), None, "a send consumes nothing");
}

/// The index numbers actors by (service, instance, thread) in order of first appearance and
/// finds each parent's first copy in the order, whether it reuses the program order's actor
/// numbers and id map (one trace, unique ids) or builds its own (repeated ids, events of two
/// traces): random traces of each kind, against those rules computed directly.
#[test]
fn actors_and_parents_follow_the_rule_with_and_without_the_shared_maps() {
    use rand::Rng;
    crate::testing::random_rounds(5, 300, |rng, round| {
        let len = rng.gen_range(1..30u128);
        let mut events = crate::testing::random_events(rng, len);
        for e in &mut events {
            // A third of the rounds repeat ids, a third mix two traces.
            match round % 3 {
                1 => e.id = Uuid::from_u128(rng.gen_range(1..=len)),
                2 if rng.gen_bool(0.3) => e.trace_id = Uuid::from_u128(77),
                _ => {}
            }
            if rng.gen_bool(0.7) {
                e.parent_id = Some(Uuid::from_u128(rng.gen_range(1..=len + 2)));
            }
        }
        let index = EventIndex::new(&events);
        let mut actors: Vec<(&str, &str, &str)> = Vec::new();
        let mut first_copy: HashMap<Uuid, usize> = HashMap::default();
        for &i in &index.order {
            let m = &events[i].metadata;
            let key = (
                m.service_name.as_str(),
                m.instance_id.as_deref().unwrap_or_default(),
                m.thread_id.as_str(),
            );
            let actor = match actors.iter().position(|a| *a == key) {
                Some(actor) => actor,
                None => {
                    actors.push(key);
                    actors.len() - 1
                }
            };
            assert_eq!(index.actor[i], actor, "round {round}");
            first_copy.entry(events[i].id).or_insert(i);
        }
        for (i, event) in events.iter().enumerate() {
            if let Some(parent) = event.parent_id {
                let expected = first_copy.get(&parent).copied();
                assert_eq!(index.parent_of(i, &parent), expected, "round {round}");
            }
        }
    });
}

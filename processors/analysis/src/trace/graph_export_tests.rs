use super::*;
use crate::causality::trace_causality;
use crate::trace::fixtures::{at, await_task, call, clocked, id, mutex, spawn, with_parent};

fn graph_of(events: &[Event]) -> CausalGraph {
    causal_graph(events, &trace_causality(events)).unwrap()
}

fn kind_between(graph: &CausalGraph, from: u128, to: u128) -> Option<EdgeKind> {
    let edge = graph
        .edges
        .iter()
        .find(|e| e.from == id(from) && e.to == id(to));
    edge.map(|e| e.kind)
}

#[test]
fn structural_edges_keep_the_most_specific_kind() {
    // Our SDK: each event's parent is the actor's previous one; the task starts under the spawn.
    let events = vec![
        at(1, "main", 0, spawn("task-1")),
        with_parent(at(2, "task-1", 1, call("work")), 1),
        with_parent(at(3, "main", 2, call("other")), 1),
        with_parent(at(4, "main", 9, await_task("task-1")), 3),
    ];
    let graph = graph_of(&events);
    assert_eq!(kind_between(&graph, 1, 2), Some(EdgeKind::Spawn));
    assert_eq!(kind_between(&graph, 1, 3), Some(EdgeKind::Parent));
    assert_eq!(kind_between(&graph, 3, 4), Some(EdgeKind::Parent));
    assert_eq!(kind_between(&graph, 2, 4), Some(EdgeKind::Await));
    assert_eq!(kind_between(&graph, 1, 4), None, "no transitive edges");
    assert_eq!(graph.nodes.len(), 4);
    assert_eq!(graph.nodes[0].id, id(1));
    assert!(!graph.trusted_clocks);
}

#[test]
fn lock_hand_over_shows_as_happens_before_from_the_clocks() {
    let events = vec![
        at(1, "a", 0, mutex("m", true)),
        at(2, "a", 10, mutex("m", false)),
        at(3, "b", 20, mutex("m", true)),
        at(4, "b", 30, call("after")),
    ];
    let graph = graph_of(&events);
    assert_eq!(kind_between(&graph, 2, 3), Some(EdgeKind::HappensBefore));
    assert_eq!(kind_between(&graph, 1, 2), Some(EdgeKind::ProgramOrder));
    assert_eq!(kind_between(&graph, 3, 4), Some(EdgeKind::ProgramOrder));
    assert_eq!(
        kind_between(&graph, 1, 3),
        None,
        "known through the release"
    );
    assert_eq!(graph.edges.len(), 3);
    let acquire = graph.nodes.iter().find(|n| n.id == id(3)).unwrap();
    assert_eq!(
        acquire.clock.len(),
        2,
        "the acquirer's clock knows both actors"
    );
}

#[test]
fn trusted_clocks_give_the_covering_edges() {
    // a1 -> a2; b1 joins a2's clock (e.g. through a tracked lock); b2 follows b1.
    let events = vec![
        clocked(at(1, "a", 0, call("a1")), &[("A", 1)]),
        clocked(at(2, "a", 1, call("a2")), &[("A", 2)]),
        clocked(at(3, "b", 2, call("b1")), &[("A", 2), ("B", 1)]),
        clocked(at(4, "b", 3, call("b2")), &[("A", 2), ("B", 2)]),
    ];
    let graph = graph_of(&events);
    assert!(graph.trusted_clocks);
    assert_eq!(kind_between(&graph, 2, 3), Some(EdgeKind::HappensBefore));
    assert_eq!(kind_between(&graph, 1, 3), None);
    assert_eq!(kind_between(&graph, 2, 4), None, "b2 learns nothing new");
    assert_eq!(
        graph.nodes[2].clock,
        vec![("A".to_string(), 2), ("B".to_string(), 1)]
    );
}

#[test]
fn causality_of_other_events_is_refused() {
    let events = vec![at(1, "a", 0, call("x"))];
    let other = trace_causality(&[]);
    let error = causal_graph(&events, &other).unwrap_err();
    assert_eq!(
        error,
        GraphExportError::CausalityMismatch {
            events: 1,
            clocks: 0
        }
    );
    assert!(error.to_string().contains("trace has 1"));
}

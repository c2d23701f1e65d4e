//! Small graph helpers for derived happens-before: making an edge set acyclic and ordering it.
//!
//! Nodes are `0..n` and their numbers are their priority (the caller numbers them by
//! (timestamp, id)), which is what makes every result here deterministic and independent of the
//! order the events arrived in. Everything is iterative: traces can hold long program-order chains
//! that would overflow the stack of a recursive search.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Removes the edges that close cycles, returning the edges kept (input order preserved).
///
/// An edge `u -> v` is dropped when it is a self loop, or when `u` and `v` lie on a common cycle
/// (same strongly connected component) and the edge points backwards in node order (`u > v`).
/// The edges left inside a component all point forwards, so they cannot form a cycle, and edges
/// between components never can; every edge not on a cycle survives. For derived clocks only
/// `parent_id` links can point backwards (clock skew), so this trusts timestamps over a parent link
/// exactly when the two contradict each other through other evidence.
pub(crate) fn break_cycles(n: usize, edges: &[(usize, usize)]) -> Vec<(usize, usize)> {
    if all_forwards(edges) {
        // No cycle can form, nor a self loop: every edge is kept (the usual case, skipping the
        // search for components).
        return edges.to_vec();
    }
    break_cycles_by_components(n, edges)
}

/// [`break_cycles`] through the strongly connected components, whatever the edges.
fn break_cycles_by_components(n: usize, edges: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let component = strongly_connected_components(n, edges);
    edges
        .iter()
        .copied()
        .filter(|&(u, v)| u != v && !(component[u] == component[v] && u > v))
        .collect()
}

/// A topological order of `0..n` under `edges`, taking the smallest ready node first (Kahn's
/// algorithm with a priority queue), so the order is deterministic.
///
/// Should the edges contain a cycle anyway, the smallest node not yet placed is taken and its
/// unsatisfied incoming edges are ignored, so this never fails or loops; callers normally pass
/// the output of [`break_cycles`] and never need that.
pub(crate) fn priority_topological_order(n: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    if all_forwards(edges) {
        // Every predecessor of a node is smaller than it, so the smallest node not yet placed
        // is always ready and the order is the numbering itself.
        return (0..n).collect();
    }
    kahn_order(n, edges)
}

/// [`priority_topological_order`] by Kahn's algorithm, whatever the edges.
fn kahn_order(n: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let successors = adjacency(n, edges);
    let mut indegree = vec![0usize; n];
    for &(_, v) in edges {
        indegree[v] += 1;
    }
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&v| indegree[v] == 0).map(Reverse).collect();
    let mut placed = vec![false; n];
    let mut order = Vec::with_capacity(n);
    // Scans for the smallest unplaced node when the queue runs dry (only on a cycle); it only
    // moves forward because placed nodes stay placed.
    let mut cursor = 0;
    while order.len() < n {
        let next = match ready.pop() {
            Some(Reverse(v)) => v,
            None => {
                while placed[cursor] {
                    cursor += 1;
                }
                cursor
            }
        };
        if placed[next] {
            // A node forced out of a cycle can become ready again later; it is already placed.
            continue;
        }
        placed[next] = true;
        order.push(next);
        for &w in &successors[next] {
            indegree[w] = indegree[w].saturating_sub(1);
            if indegree[w] == 0 && !placed[w] {
                ready.push(Reverse(w));
            }
        }
    }
    order
}

/// True when every edge points from a smaller node to a larger one.
fn all_forwards(edges: &[(usize, usize)]) -> bool {
    edges.iter().all(|&(u, v)| u < v)
}

fn adjacency(n: usize, edges: &[(usize, usize)]) -> Vec<Vec<usize>> {
    let mut successors = vec![Vec::new(); n];
    for &(u, v) in edges {
        successors[u].push(v);
    }
    successors
}

/// Tarjan's algorithm, iterative. Returns a component number per node.
fn strongly_connected_components(n: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    const UNVISITED: usize = usize::MAX;
    let successors = adjacency(n, edges);
    let mut index = vec![UNVISITED; n];
    let mut lowlink = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut component = vec![UNVISITED; n];
    let mut next_index = 0;
    let mut next_component = 0;
    // Explicit call stack of (node, index of the next successor to visit).
    let mut calls: Vec<(usize, usize)> = Vec::new();

    for root in 0..n {
        if index[root] != UNVISITED {
            continue;
        }
        calls.push((root, 0));

        while let Some(top) = calls.len().checked_sub(1) {
            let (v, next_successor) = calls[top];
            if index[v] == UNVISITED {
                // First visit of `v`.
                index[v] = next_index;
                lowlink[v] = next_index;
                next_index += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = successors[v].get(next_successor) {
                calls[top].1 += 1;
                if index[w] == UNVISITED {
                    calls.push((w, 0));
                } else if on_stack[w] {
                    lowlink[v] = lowlink[v].min(index[w]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                lowlink[parent] = lowlink[parent].min(lowlink[v]);
            }
            if lowlink[v] == index[v] {
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component[w] = next_component;
                    if w == v {
                        break;
                    }
                }
                next_component += 1;
            }
        }
    }
    component
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_edges_take_the_short_cut_to_the_same_answers() {
        use rand::Rng;
        crate::testing::random_rounds(3, 200, |rng, _| {
            let n = rng.gen_range(2..30);
            let count = rng.gen_range(0..60);
            let mut edges = Vec::with_capacity(count);
            for _ in 0..count {
                let from = rng.gen_range(0..n - 1);
                edges.push((from, rng.gen_range(from + 1..n)));
            }
            assert_eq!(
                break_cycles(n, &edges),
                break_cycles_by_components(n, &edges)
            );
            assert_eq!(priority_topological_order(n, &edges), kahn_order(n, &edges));
        });
    }

    #[test]
    fn acyclic_edges_are_all_kept() {
        let edges = vec![(0, 1), (2, 1), (3, 0), (1, 4)];
        assert_eq!(break_cycles(5, &edges), edges);
    }

    #[test]
    fn backward_edge_on_a_cycle_is_dropped() {
        // 0 -> 1 -> 2 -> 0: only 2 -> 0 points backwards.
        let edges = vec![(0, 1), (1, 2), (2, 0), (2, 3)];
        assert_eq!(break_cycles(4, &edges), vec![(0, 1), (1, 2), (2, 3)]);
    }

    #[test]
    fn backward_edge_off_any_cycle_is_kept() {
        // 3 -> 0 points backwards but closes no cycle: it is real ordering information.
        let edges = vec![(3, 0), (0, 1)];
        assert_eq!(break_cycles(4, &edges), edges);
        assert_eq!(priority_topological_order(4, &edges), vec![2, 3, 0, 1]);
    }

    #[test]
    fn self_loops_are_dropped() {
        assert_eq!(break_cycles(2, &[(1, 1), (0, 1)]), vec![(0, 1)]);
    }

    #[test]
    fn topological_order_prefers_smaller_ready_nodes() {
        let edges = vec![(2, 0), (1, 3)];
        assert_eq!(priority_topological_order(4, &edges), vec![1, 2, 0, 3]);
    }

    #[test]
    fn topological_order_survives_cycles() {
        let edges = vec![(0, 1), (1, 0), (2, 2)];
        assert_eq!(priority_topological_order(3, &edges), vec![0, 1, 2]);
    }

    #[test]
    fn long_chains_do_not_overflow_the_stack() {
        let n = 200_000;
        let mut edges: Vec<(usize, usize)> = (0..n - 1).map(|i| (i, i + 1)).collect();
        edges.push((n - 1, 0));
        let kept = break_cycles(n, &edges);
        assert_eq!(kept.len(), n - 1);
        let order = priority_topological_order(n, &kept);
        assert!(order.iter().copied().eq(0..n));
    }
}

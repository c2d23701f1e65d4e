//! The critical path of a trace (`GET /api/traces/{id}/critical-path`): the longest
//! duration-weighted path through its tree, the steps that made the trace as slow as it was.
//!
//! # Rule
//!
//! The weight of a node's subtree is its self time plus the heaviest *chain* of its children,
//! where a chain is a sequence of children each starting at or after the previous one ended:
//!
//! - children whose intervals overlap ran in parallel: a chain holds only one of them, so they
//!   count as the max;
//! - children that ran one after the other form a chain: they count as the sum.
//!
//! Intervals decide rather than clocks: two children are sequential exactly when one ended before
//! the other started, which is what made the parent wait for both, whether or not a clock orders
//! them. The top-level nodes are the children of a virtual root with no self time. The path is
//! the node, then the path of each child on its heaviest chain, in time order; placeholders have
//! no self time and are not listed as steps.
//!
//! Cost: one pass over the nodes plus, per node, sorting its children by end (weighted interval
//! scheduling with prefix maxima): O(nodes + edges) apart from that sort, O(n log n) at worst.

use std::borrow::Cow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::tree::{TraceTree, TreeNode};

/// One step of a critical path.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriticalStep {
    /// The event.
    pub event_id: Uuid,
    /// The event kind's name.
    // Borrowed from the tree's node, as `TreeNode::kind`: no reference count to update.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub kind: Cow<'static, str>,
    /// The event's service.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub service: Arc<str>,
    /// See [`crate::trace::event_location`].
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub location: Arc<str>,
    /// The step's self time: what it adds to the path.
    pub self_time_ns: u64,
    /// The step's inclusive duration.
    pub duration_ns: u64,
    /// Index of the step's node in [`TraceTree::nodes`].
    pub node: usize,
}

/// The critical path of one trace.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CriticalPath {
    /// The trace.
    pub trace_id: Uuid,
    /// The steps, parents before children, siblings in time order.
    pub steps: Vec<CriticalStep>,
    /// The path's weight: the sum of its steps' self times.
    pub total_duration_ns: u64,
    /// `total_duration_ns` in milliseconds.
    pub total_duration_ms: f64,
    /// The trace's wall-clock duration in milliseconds.
    pub trace_duration_ms: f64,
    /// `total_duration_ms / trace_duration_ms`, at most 1 (children that outlive their parents
    /// could push the sum past the wall clock); 0 for a trace without duration.
    pub share_of_trace: f64,
}

/// Computes the critical path of a tree built by [`crate::trace::trace_tree`].
pub fn critical_path(tree: &TraceTree) -> CriticalPath {
    let n = tree.nodes.len();
    // weight[v]: self time of v plus its heaviest chain of children.
    let mut weight = vec![0u64; n];
    // chain_prev[c]: the sibling before c on its parent's heaviest chain ending at c.
    let mut chain_prev: Vec<Option<usize>> = vec![None; n];
    // chain_last[v]: the last child on v's heaviest chain.
    let mut chain_last: Vec<Option<usize>> = vec![None; n];
    let mut scratch = ChainScratch::default();
    // Pre-order numbering: going backwards sees every child before its parent.
    for v in (0..n).rev() {
        let node = &tree.nodes[v];
        // Children numbered after their parent only (as a tree from `trace_tree` always has):
        // a hand-edited tree must not send the pass into a loop or read unset weights.
        let kids = node.children.iter().copied().filter(|&k| k > v && k < n);
        let (best, last) = scratch.heaviest_chain(tree, kids, &weight, &mut chain_prev);
        weight[v] = node.self_time_ns.saturating_add(best);
        chain_last[v] = last;
    }
    let roots = tree.roots.iter().copied().filter(|&r| r < n);
    let (total, root_last) = scratch.heaviest_chain(tree, roots, &weight, &mut chain_prev);

    let steps = collect_steps(tree, root_last, &chain_prev, &chain_last);
    let wall = tree.wall_clock_ns();
    let share = if wall == 0 {
        0.0
    } else {
        (total as f64 / wall as f64).min(1.0)
    };
    CriticalPath {
        trace_id: tree.trace_id,
        steps,
        total_duration_ns: total,
        total_duration_ms: ns_to_ms(total),
        trace_duration_ms: ns_to_ms(wall),
        share_of_trace: share,
    }
}

fn ns_to_ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// Reused buffers for [`ChainScratch::heaviest_chain`].
#[derive(Default)]
struct ChainScratch {
    by_end: Vec<usize>,
    ends: Vec<i64>,
    /// best[t]: the heaviest chain among the first t siblings in end order, and its last node.
    best: Vec<(u64, Option<usize>)>,
}

impl ChainScratch {
    /// The heaviest chain of sibling intervals (weighted interval scheduling): returns its
    /// weight and last node, and records each sibling's predecessor on its own best chain.
    fn heaviest_chain(
        &mut self,
        tree: &TraceTree,
        siblings: impl Iterator<Item = usize>,
        weight: &[u64],
        chain_prev: &mut [Option<usize>],
    ) -> (u64, Option<usize>) {
        let end = |v: usize| end_ns(&tree.nodes[v]);
        self.by_end.clear();
        self.by_end.extend(siblings);
        // Most nodes have one child or none (parent links chain an actor's events).
        match self.by_end[..] {
            [] => return (0, None),
            [only] => {
                chain_prev[only] = None;
                return (weight[only], Some(only));
            }
            _ => {}
        }
        // Ties broken by start then index, so zero-length siblings at one instant chain in a
        // fixed order and the result never depends on the sort's stability.
        self.by_end
            .sort_by_key(|&v| (end(v), tree.nodes[v].start_ns, v));
        self.ends.clear();
        self.ends.extend(self.by_end.iter().map(|&v| end(v)));
        self.best.clear();
        self.best.push((0, None));
        for (rank, &v) in self.by_end.iter().enumerate() {
            // Siblings that ended by the time v started, and come before v in end order.
            let ended = self.ends.partition_point(|&e| e <= tree.nodes[v].start_ns);
            let (before, before_last) = self.best[ended.min(rank)];
            chain_prev[v] = before_last;
            let with_v = before.saturating_add(weight[v]);
            let (best_so_far, best_last) = self.best[rank];
            self.best
                .push(if with_v > best_so_far || best_last.is_none() {
                    (with_v, Some(v))
                } else {
                    (best_so_far, best_last)
                });
        }
        self.best.last().copied().unwrap_or((0, None))
    }
}

fn end_ns(node: &TreeNode) -> i64 {
    i64::try_from(i128::from(node.start_ns) + i128::from(node.duration_ns)).unwrap_or(i64::MAX)
}

/// Unrolls the chosen chains into steps, iteratively (paths can be as deep as the tree).
fn collect_steps(
    tree: &TraceTree,
    root_last: Option<usize>,
    chain_prev: &[Option<usize>],
    chain_last: &[Option<usize>],
) -> Vec<CriticalStep> {
    // A chain is stored backwards from its last node; pushing it as found puts its first node
    // on top of the stack. `queued` guards against a hand-edited tree listing a node twice.
    let mut queued = vec![false; tree.nodes.len()];
    let mut push_chain = |stack: &mut Vec<usize>, mut last: Option<usize>| {
        while let Some(v) = last.filter(|&v| !queued[v]) {
            queued[v] = true;
            stack.push(v);
            last = chain_prev[v];
        }
    };
    let mut steps = Vec::new();
    let mut stack = Vec::new();
    push_chain(&mut stack, root_last);
    while let Some(v) = stack.pop() {
        let node = &tree.nodes[v];
        if node.placeholder.is_none() {
            steps.push(CriticalStep {
                event_id: node.id,
                kind: node.kind.clone(),
                service: node.service.clone(),
                location: node.location.clone(),
                self_time_ns: node.self_time_ns,
                duration_ns: node.duration_ns,
                node: v,
            });
        }
        push_chain(&mut stack, chain_last[v]);
    }
    steps
}

#[cfg(test)]
#[path = "critical_path_tests.rs"]
mod tests;

//! Re-timing a trace tree under delays and failures (the rules are in the module above).
//!
//! One depth-first pass, iterative because parent links chain an actor's events and make trees
//! as deep as traces are long. A node's children are visited in time order; each child's new
//! start waits for its parent's new start and for every earlier sibling that had ended when it
//! started (a min-heap of finished siblings by original end, drained as starts advance), keeping
//! its original gap to the latest of them. A node's new end follows the children it waited for
//! (those that ended before it did), plus its own delay.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

use super::spec::{Delay, FailureMode, SimulationError, SimulationSpec};
use crate::trace::durations::{timings, TimingInput};
use crate::trace::TraceTree;

const NS_PER_MS: u64 = 1_000_000;

/// True when node `v` is a call into its service: its parent is a step of another service.
pub(super) fn is_call_into(tree: &TraceTree, v: usize) -> bool {
    let node = &tree.nodes[v];
    let Some(parent) = node.parent.and_then(|p| tree.nodes.get(p)) else {
        return false;
    };
    node.placeholder.is_none() && parent.placeholder.is_none() && parent.service != node.service
}

/// True when node `v` is a request of its service: a call into it, or a top-level step.
pub(super) fn is_request(tree: &TraceTree, v: usize) -> bool {
    let top_level = match tree.nodes[v].parent {
        None => true,
        Some(p) => tree.nodes.get(p).is_some_and(|n| n.placeholder.is_some()),
    };
    top_level || is_call_into(tree, v)
}

/// What the spec does to each node.
pub(super) struct Schedule {
    /// Added at the end of the node.
    extra_ns: Vec<u64>,
    /// A failed call: its new duration; its subtree is skipped.
    failed_ns: Vec<Option<u64>>,
}

impl Schedule {
    /// Resolves the spec's services and events to nodes.
    pub(super) fn plan(tree: &TraceTree, spec: &SimulationSpec) -> Result<Self, SimulationError> {
        let n = tree.nodes.len();
        let mut schedule = Schedule {
            extra_ns: vec![0; n],
            failed_ns: vec![None; n],
        };
        for delay in &spec.delays {
            match delay {
                Delay::Service { service, ms } => {
                    for v in calls_into(tree, service)? {
                        schedule.extra_ns[v] += ms.saturating_mul(NS_PER_MS);
                    }
                }
                Delay::Event { event_id, ms } => {
                    let v = tree
                        .nodes
                        .iter()
                        .position(|node| node.id == *event_id && node.placeholder.is_none())
                        .ok_or(SimulationError::UnknownEvent(*event_id))?;
                    schedule.extra_ns[v] += ms.saturating_mul(NS_PER_MS);
                }
            }
        }
        for failure in &spec.failures {
            let lasts_ns = match failure.mode {
                FailureMode::Error => 0,
                FailureMode::Timeout => failure
                    .timeout_ms
                    .ok_or_else(|| {
                        SimulationError::TimeoutWithoutDuration(failure.service.clone())
                    })?
                    .saturating_mul(NS_PER_MS),
            };
            for v in calls_into(tree, &failure.service)? {
                schedule.failed_ns[v] = Some(lasts_ns);
            }
        }
        Ok(schedule)
    }

    /// True when the spec changes node `v` itself.
    pub(super) fn is_origin(&self, v: usize) -> bool {
        self.extra_ns[v] > 0 || self.failed_ns[v].is_some()
    }

    /// Re-times every node.
    pub(super) fn run(&self, tree: &TraceTree) -> Retimed {
        let n = tree.nodes.len();
        let mut out = Retimed {
            start: tree.nodes.iter().map(|node| node.start_ns).collect(),
            end: tree
                .nodes
                .iter()
                .map(|node| end_of(node.start_ns, node.duration_ns))
                .collect(),
            skipped: vec![false; n],
            moved: vec![false; n],
            start_cause: vec![Cause::Unmoved; n],
            end_cause: vec![Cause::Unmoved; n],
        };
        let mut stack = vec![Frame::new(
            None,
            tree.roots.clone(),
            tree.start_ns,
            tree.start_ns,
        )];
        while let Some(frame) = stack.last_mut() {
            let Some(c) = frame.next_child(n) else {
                let Some(done) = stack.pop() else { break };
                if let Some(v) = done.node {
                    self.finish(tree, v, &done, &mut out);
                    if let Some(parent) = stack.last_mut() {
                        parent.child_done(tree, v, &out);
                    }
                }
                continue;
            };
            let child_start = tree.nodes[c].start_ns;
            let (new_start, cause) = frame.start_of(child_start, &out);
            out.start[c] = new_start;
            out.start_cause[c] = if new_start == child_start {
                Cause::Unmoved
            } else {
                cause
            };
            if let Some(lasts) = self.failed_ns[c] {
                out.end[c] = end_of(new_start, lasts);
                out.end_cause[c] = Cause::Origin;
                out.skip_below(tree, c);
                out.mark_moved(tree, c);
                frame.child_done(tree, c, &out);
            } else {
                let kids = tree.nodes[c].children.clone();
                stack.push(Frame::new(Some(c), kids, child_start, new_start));
            }
        }
        out
    }

    /// Sets the new end of node `v` once its children are done.
    fn finish(&self, tree: &TraceTree, v: usize, frame: &Frame, out: &mut Retimed) {
        let node = &tree.nodes[v];
        let old_end = end_of(node.start_ns, node.duration_ns);
        let (mut end, mut cause) = match (frame.awaited_old, frame.awaited) {
            // The tail after the last child it waited for is kept.
            (Some(latest_old), Some(w)) => (
                end_of(w.new, span(latest_old, old_end)).max(out.start[v]),
                Cause::EndOf(w.node),
            ),
            _ => (end_of(out.start[v], node.duration_ns), Cause::StartOf(v)),
        };
        if self.extra_ns[v] > 0 {
            end = end_of(end, self.extra_ns[v]);
            cause = Cause::Origin;
        }
        out.end[v] = end;
        out.end_cause[v] = if end == old_end {
            Cause::Unmoved
        } else {
            cause
        };
        out.mark_moved(tree, v);
    }
}

/// The nodes of `service` that are calls into it.
fn calls_into(tree: &TraceTree, service: &str) -> Result<Vec<usize>, SimulationError> {
    let calls: Vec<usize> = (0..tree.nodes.len())
        .filter(|&v| is_call_into(tree, v) && &*tree.nodes[v].service == service)
        .collect();
    if calls.is_empty() {
        let called: BTreeSet<&str> = (0..tree.nodes.len())
            .filter(|&v| is_call_into(tree, v))
            .map(|v| &*tree.nodes[v].service)
            .collect();
        let called = if called.is_empty() {
            "none".to_string()
        } else {
            called.into_iter().collect::<Vec<_>>().join(", ")
        };
        return Err(SimulationError::NoCallsInto(service.to_string(), called));
    }
    Ok(calls)
}

/// Length of `[from, to]`, 0 when reversed.
fn span(from: i64, to: i64) -> u64 {
    u64::try_from(i128::from(to) - i128::from(from)).unwrap_or(0)
}

fn end_of(start: i64, duration: u64) -> i64 {
    i64::try_from(i128::from(start) + i128::from(duration)).unwrap_or(i64::MAX)
}

/// What moved a node's start or end: a moment of another node, or the spec itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    Unmoved,
    Origin,
    StartOf(usize),
    EndOf(usize),
}

/// A finished sibling or child and its new end.
#[derive(Debug, Clone, Copy)]
struct Finished {
    node: usize,
    new: i64,
}

/// A node whose children are being visited (`node` is `None` for the tree's virtual root).
struct Frame {
    node: Option<usize>,
    kids: Vec<usize>,
    next: usize,
    old_start: i64,
    new_start: i64,
    /// Finished siblings not yet known to precede the next child, by original end.
    pending: BinaryHeap<Reverse<(i64, usize)>>,
    /// The siblings that ended before the latest child started: the latest original end among
    /// them, and the latest new end.
    before_old: Option<i64>,
    before_new: Option<Finished>,
    /// The children this node waited for: the latest original end, and the latest new end.
    awaited_old: Option<i64>,
    awaited: Option<Finished>,
}

impl Frame {
    fn new(node: Option<usize>, kids: Vec<usize>, old_start: i64, new_start: i64) -> Self {
        Frame {
            node,
            kids,
            next: 0,
            old_start,
            new_start,
            pending: BinaryHeap::new(),
            before_old: None,
            before_new: None,
            awaited_old: None,
            awaited: None,
        }
    }

    /// The next child to visit; children numbered before their parent (only a hand-edited tree
    /// has them) are passed over.
    fn next_child(&mut self, n: usize) -> Option<usize> {
        while let Some(&c) = self.kids.get(self.next) {
            self.next += 1;
            if c < n && self.node.is_none_or(|v| c > v) {
                return Some(c);
            }
        }
        None
    }

    /// The new start of a child that started at `old`, and what decided it.
    fn start_of(&mut self, old: i64, out: &Retimed) -> (i64, Cause) {
        while let Some(&Reverse((end, sibling))) = self.pending.peek() {
            if end > old {
                break;
            }
            self.pending.pop();
            self.before_old = Some(self.before_old.map_or(end, |e| e.max(end)));
            let new = out.end[sibling];
            if self.before_new.is_none_or(|f| new > f.new) {
                self.before_new = Some(Finished { node: sibling, new });
            }
        }
        let parent_cause = self.node.map_or(Cause::Unmoved, Cause::StartOf);
        let (latest_old, latest_new, cause) = match (self.before_old, self.before_new) {
            (Some(old_end), Some(f)) if f.new >= self.new_start => {
                (old_end.max(self.old_start), f.new, Cause::EndOf(f.node))
            }
            (Some(old_end), _) => (old_end.max(self.old_start), self.new_start, parent_cause),
            _ => (self.old_start, self.new_start, parent_cause),
        };
        (end_of(latest_new, span(latest_old, old)), cause)
    }

    /// Records a finished child.
    fn child_done(&mut self, tree: &TraceTree, c: usize, out: &Retimed) {
        let child = &tree.nodes[c];
        let old = end_of(child.start_ns, child.duration_ns);
        self.pending.push(Reverse((old, c)));
        let waited = self.node.is_some_and(|v| {
            let parent = &tree.nodes[v];
            old <= end_of(parent.start_ns, parent.duration_ns)
        });
        if waited {
            self.awaited_old = Some(self.awaited_old.map_or(old, |e| e.max(old)));
            let new = out.end[c];
            if self.awaited.is_none_or(|f| new > f.new) {
                self.awaited = Some(Finished { node: c, new });
            }
        }
    }
}

/// The tree's nodes re-timed.
pub(super) struct Retimed {
    pub(super) start: Vec<i64>,
    pub(super) end: Vec<i64>,
    /// Nodes below a failed call: not in the "after" picture.
    pub(super) skipped: Vec<bool>,
    moved: Vec<bool>,
    start_cause: Vec<Cause>,
    end_cause: Vec<Cause>,
}

impl Retimed {
    /// True when node `v` starts or ends at another time than before.
    pub(super) fn moved(&self, v: usize) -> bool {
        self.moved[v]
    }

    fn mark_moved(&mut self, tree: &TraceTree, v: usize) {
        let node = &tree.nodes[v];
        self.moved[v] = self.start[v] != node.start_ns
            || self.end[v] != end_of(node.start_ns, node.duration_ns);
    }

    fn skip_below(&mut self, tree: &TraceTree, v: usize) {
        let mut todo: Vec<usize> = tree.nodes[v].children.clone();
        while let Some(k) = todo.pop() {
            if k > v && k < tree.nodes.len() && !self.skipped[k] {
                self.skipped[k] = true;
                todo.extend(tree.nodes[k].children.iter().copied().filter(|&g| g > k));
            }
        }
    }

    /// The nodes along the causal chain from a changed step to node `v`, in that order.
    pub(super) fn chain_to(&self, v: usize) -> Vec<usize> {
        let mut chain = vec![v];
        let mut at = if self.end_cause[v] != Cause::Unmoved {
            self.end_cause[v]
        } else {
            self.start_cause[v]
        };
        // Each step goes to an earlier moment (a start before its end, a parent's start before
        // its child's, a sibling's end before the next start), so the walk ends; the bound only
        // guards against a hand-edited tree.
        for _ in 0..self.start.len() * 2 {
            let (node, next) = match at {
                Cause::Unmoved | Cause::Origin => break,
                Cause::StartOf(node) => (node, self.start_cause[node]),
                Cause::EndOf(node) => (node, self.end_cause[node]),
            };
            if chain.last() != Some(&node) {
                chain.push(node);
            }
            at = next;
        }
        chain.reverse();
        chain
    }

    /// The tree with the new times: skipped nodes cut from their parents, self times
    /// recomputed with the tree's timing rules.
    pub(super) fn tree(&self, before: &TraceTree) -> TraceTree {
        let mut tree = before.clone();
        let kept = |k: &usize| !self.skipped.get(*k).copied().unwrap_or(true);
        for node in &mut tree.nodes {
            node.children.retain(kept);
        }
        tree.roots.retain(kept);
        for (v, node) in tree.nodes.iter_mut().enumerate() {
            node.children.sort_by_key(|&k| (self.start[k], k));
            node.start_ns = self.start[v];
            node.duration_ns = span(self.start[v], self.end[v]);
        }
        tree.roots.sort_by_key(|&k| (self.start[k], k));
        let inputs: Vec<TimingInput> = tree
            .nodes
            .iter()
            .map(|node| TimingInput {
                start_ns: node.start_ns,
                measured_ns: Some(node.duration_ns),
                actor_next_ns: None,
                placeholder: node.placeholder.is_some(),
            })
            .collect();
        let children: Vec<Vec<usize>> = tree.nodes.iter().map(|n| n.children.clone()).collect();
        for (node, timing) in tree.nodes.iter_mut().zip(timings(&inputs, &children)) {
            node.start_ns = timing.start_ns;
            node.duration_ns = timing.duration_ns();
            node.self_time_ns = timing.self_ns;
        }
        let live = (0..tree.nodes.len()).filter(|&v| !self.skipped[v]);
        let (mut first, mut last) = (i64::MAX, i64::MIN);
        for v in live {
            first = first.min(tree.nodes[v].start_ns);
            last = last.max(end_of(tree.nodes[v].start_ns, tree.nodes[v].duration_ns));
        }
        if first <= last {
            tree.start_ns = first;
            tree.end_ns = last;
        }
        tree
    }
}

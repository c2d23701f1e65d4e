//! Optimisation hints beside the critical path: what to change, and how much time it would save.
//!
//! # Rules
//!
//! - **parallelize**: sibling calls (HTTP requests, database queries, or calls into another
//!   service) that ran one after the other, on the critical path, where none reads a variable an
//!   earlier one of them wrote (in its subtree). Run together they would take the longest of
//!   them: the saving is their sum minus their maximum.
//! - **cache**: the same `DatabaseQuery` (database and query text) or HTTP `GET` (URL) more than
//!   once in the trace. Every repeat after the first could be served from a cache: the saving is
//!   the repeats' durations.
//! - **make_async**: a call, function or message send on the critical path below the top level
//!   (not a state change or lock, whose duration is only the wait for the actor's next step) that
//!   takes at least a tenth of the path (and 1 ms), writes state, and whose writes no step of the
//!   trace that starts after it ends reads. Nothing waits for its result, so it could run off the path: the saving is its
//!   duration. Of nested such steps only the outermost is named.
//!
//! "Reads what another wrote" is judged on the recorded `StateChange`s only: a dependency carried
//! in a request body the SDK did not record is invisible here, so a hint is a lead to check, not
//! a proof. The hints are pure functions of the events, tree and path; O(n) per candidate.

use std::collections::{BTreeMap, BTreeSet};

use raceway_schemas::{AccessType, Event, EventKind};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::critical_path::CriticalPath;
use super::tree::TraceTree;

/// What a hint proposes.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuggestionKind {
    /// Run independent sequential calls together.
    Parallelize,
    /// Serve repeated identical queries from a cache.
    Cache,
    /// Take a step nothing waits for off the critical path.
    MakeAsync,
}

/// One optimisation hint.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    /// What to do.
    pub kind: SuggestionKind,
    /// The events it concerns.
    pub event_ids: Vec<Uuid>,
    /// The time it would save, in ms.
    pub saves_ms: f64,
    /// One sentence for people.
    pub description: String,
}

/// The hints for one trace, largest saving first. `events` are those the tree was built from.
pub fn suggestions(events: &[Event], tree: &TraceTree, path: &CriticalPath) -> Vec<Suggestion> {
    let facts = Facts::new(events, tree);
    let mut out = parallelize(tree, path, &facts);
    out.extend(cache(events, tree));
    out.extend(make_async(tree, path, &facts));
    out.sort_by(|a, b| b.saves_ms.total_cmp(&a.saves_ms).then(a.kind.cmp(&b.kind)));
    out
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// Per node: the event it stands for, and the variables its own event reads or writes.
struct Facts<'a> {
    event: Vec<Option<&'a Event>>,
}

impl<'a> Facts<'a> {
    fn new(events: &'a [Event], tree: &TraceTree) -> Self {
        let by_id: BTreeMap<Uuid, &Event> = events.iter().map(|e| (e.id, e)).collect();
        let event = tree
            .nodes
            .iter()
            .map(|node| match node.event_index {
                Some(i) => events.get(i),
                None if node.placeholder.is_none() => by_id.get(&node.id).copied(),
                None => None,
            })
            .collect();
        Facts { event }
    }

    /// The variables written and read in the subtree of `v`.
    fn subtree_state(&self, tree: &TraceTree, v: usize) -> (BTreeSet<&'a str>, BTreeSet<&'a str>) {
        let (mut written, mut read) = (BTreeSet::new(), BTreeSet::new());
        let mut todo = vec![v];
        while let Some(k) = todo.pop() {
            if let Some(EventKind::StateChange(change)) = self.event[k].map(|e| &e.kind) {
                if is_write(change.access_type) {
                    written.insert(change.variable.as_str());
                } else {
                    read.insert(change.variable.as_str());
                }
            }
            let kids = tree.nodes[k].children.iter().copied();
            todo.extend(kids.filter(|&c| c > k && c < tree.nodes.len()));
        }
        (written, read)
    }

    /// True for a call, a function or a message sent: work a program could hand to a task. A
    /// state change or a lock is not: its "duration" is only the time until the actor's next step.
    fn is_step_of_work(&self, tree: &TraceTree, v: usize) -> bool {
        let kind = self.event[v].map(|e| &e.kind);
        matches!(
            kind,
            Some(EventKind::FunctionCall(_) | EventKind::MessageSend(_))
        ) || self.is_call(tree, v)
    }

    /// True for an HTTP request, a database query, or a step with a child in another service.
    fn is_call(&self, tree: &TraceTree, v: usize) -> bool {
        let node = &tree.nodes[v];
        let kind = self.event[v].map(|e| &e.kind);
        matches!(
            kind,
            Some(EventKind::HttpRequest(_) | EventKind::DatabaseQuery(_))
        ) || node
            .children
            .iter()
            .any(|&c| tree.nodes.get(c).is_some_and(|k| k.service != node.service))
    }
}

fn is_write(access: AccessType) -> bool {
    matches!(
        access,
        AccessType::Write | AccessType::AtomicWrite | AccessType::AtomicRMW
    )
}

fn end_ns(tree: &TraceTree, v: usize) -> i64 {
    let node = &tree.nodes[v];
    i64::try_from(i128::from(node.start_ns) + i128::from(node.duration_ns)).unwrap_or(i64::MAX)
}

/// Runs of sequential independent sibling calls through which the critical path goes.
fn parallelize(tree: &TraceTree, path: &CriticalPath, facts: &Facts) -> Vec<Suggestion> {
    let on_path: BTreeSet<usize> = path.steps.iter().map(|s| s.node).collect();
    let mut parents: Vec<&[usize]> = vec![&tree.roots];
    parents.extend(
        path.steps
            .iter()
            .filter_map(|s| tree.nodes.get(s.node))
            .map(|n| &n.children[..]),
    );
    let mut out = Vec::new();
    for siblings in parents {
        let mut run: Vec<usize> = Vec::new();
        let mut written: BTreeSet<&str> = BTreeSet::new();
        let mut flush = |run: &mut Vec<usize>, written: &mut BTreeSet<&str>| {
            if run.len() >= 2 && run.iter().any(|v| on_path.contains(v)) {
                out.push(parallel_hint(tree, run));
            }
            run.clear();
            written.clear();
        };
        for &v in siblings.iter().filter(|&&v| v < tree.nodes.len()) {
            if !facts.is_call(tree, v) {
                flush(&mut run, &mut written);
                continue;
            }
            let (writes, reads) = facts.subtree_state(tree, v);
            let follows = run
                .last()
                .is_some_and(|&prev| tree.nodes[v].start_ns >= end_ns(tree, prev));
            let independent = reads.is_disjoint(&written);
            if !(follows && independent) {
                flush(&mut run, &mut written);
            }
            run.push(v);
            written.extend(writes);
        }
        flush(&mut run, &mut written);
    }
    out
}

fn parallel_hint(tree: &TraceTree, run: &[usize]) -> Suggestion {
    let durations: Vec<u64> = run.iter().map(|&v| tree.nodes[v].duration_ns).collect();
    let total: u64 = durations.iter().sum();
    let longest = durations.iter().copied().max().unwrap_or(0);
    Suggestion {
        kind: SuggestionKind::Parallelize,
        event_ids: run.iter().map(|&v| tree.nodes[v].id).collect(),
        saves_ms: ms(total - longest),
        description: format!(
            "{} calls ran one after the other ({:.1} ms) and none reads what another wrote: run \
             them in parallel ({:.1} ms)",
            run.len(),
            ms(total),
            ms(longest)
        ),
    }
}

/// One run of a query or GET: its start, event and duration.
type Occurrence = (i64, Uuid, u64);

/// Identical database queries and HTTP GETs repeated in the trace.
fn cache(events: &[Event], tree: &TraceTree) -> Vec<Suggestion> {
    let duration: BTreeMap<Uuid, (i64, u64)> = tree
        .event_nodes()
        .map(|n| (n.id, (n.start_ns, n.duration_ns)))
        .collect();
    let mut groups: BTreeMap<(String, String), Vec<Occurrence>> = BTreeMap::new();
    for event in events {
        let key = match &event.kind {
            EventKind::DatabaseQuery(q) => (format!("query on {}", q.database), q.query.clone()),
            EventKind::HttpRequest(r) if r.method.eq_ignore_ascii_case("GET") => {
                ("GET".to_string(), r.url.clone())
            }
            _ => continue,
        };
        let (start, lasted) = duration
            .get(&event.id)
            .copied()
            .unwrap_or((event.timestamp_ns, 0));
        groups
            .entry(key)
            .or_default()
            .push((start, event.id, lasted));
    }
    groups
        .into_iter()
        .filter(|(_, runs)| runs.len() >= 2)
        .map(|((what, text), mut runs)| {
            runs.sort();
            let repeats: u64 = runs[1..].iter().map(|r| r.2).sum();
            Suggestion {
                kind: SuggestionKind::Cache,
                event_ids: runs.iter().map(|r| r.1).collect(),
                saves_ms: ms(repeats),
                description: format!(
                    "the same {what} ran {} times ({text}): cache its result",
                    runs.len()
                ),
            }
        })
        .collect()
}

/// Long steps below the top level whose writes nothing later reads (the outermost of nested ones).
fn make_async(tree: &TraceTree, path: &CriticalPath, facts: &Facts) -> Vec<Suggestion> {
    let floor = path.total_duration_ns / 10;
    let writes = SubtreeWrites::new(tree, facts);
    let mut out = Vec::new();
    let mut taken: Vec<(i64, i64)> = Vec::new();
    for step in &path.steps {
        let Some(node) = tree.nodes.get(step.node) else {
            continue;
        };
        let end = end_ns(tree, step.node);
        let inside_taken = taken
            .iter()
            .any(|&(from, to)| node.start_ns >= from && end <= to);
        let long = node.duration_ns >= floor.max(1_000_000);
        if node.parent.is_none() || inside_taken || !long || !facts.is_step_of_work(tree, step.node)
        {
            continue;
        }
        if !writes.any_in(step.node) || writes.latest_read_of_written(step.node) >= end {
            continue;
        }
        let (written, _) = facts.subtree_state(tree, step.node);
        let names: Vec<&str> = written.into_iter().collect();
        taken.push((node.start_ns, end));
        out.push(Suggestion {
            kind: SuggestionKind::MakeAsync,
            event_ids: vec![node.id],
            saves_ms: ms(node.duration_ns),
            description: format!(
                "{} at {} takes {:.1} ms and nothing after it reads what it writes ({}): run it \
                 asynchronously",
                node.kind,
                node.location,
                ms(node.duration_ns),
                names.join(", ")
            ),
        });
    }
    out
}

/// What [`make_async`] asks of a subtree, answered without walking it: does it write state, and
/// when is the latest read, anywhere in the trace, of a variable it writes? Nodes are in
/// pre-order, so a subtree is a contiguous range of indices: a prefix count answers the first,
/// a range maximum (a sparse table, O(n log n) to build, O(1) per question) the second. Walking
/// each candidate's subtree instead costs O(n) per step of the path, O(n²) on the chain-shaped
/// trees our SDK's parent links make.
struct SubtreeWrites {
    /// `end[v]`: one past the last node of `v`'s subtree.
    end: Vec<usize>,
    /// `writes_before[k]`: state writes among the first `k` nodes.
    writes_before: Vec<usize>,
    /// `latest[j][k]`: over nodes `k..k + 2^j`, the latest start of a read of a variable the
    /// node writes (`i64::MIN` for a node that writes nothing or what is never read).
    latest: Vec<Vec<i64>>,
}

impl SubtreeWrites {
    fn new(tree: &TraceTree, facts: &Facts) -> Self {
        let n = tree.nodes.len();
        let mut end: Vec<usize> = (1..=n).collect();
        for v in (0..n).rev() {
            for &c in tree.nodes[v].children.iter().filter(|&&c| c > v && c < n) {
                end[v] = end[v].max(end[c]);
            }
        }
        let change = |k: usize| match facts.event[k].map(|e| &e.kind) {
            Some(EventKind::StateChange(c)) => Some(c),
            _ => None,
        };
        let mut last_read: BTreeMap<&str, i64> = BTreeMap::new();
        for k in 0..n {
            if let Some(c) = change(k).filter(|c| !is_write(c.access_type)) {
                let at = last_read.entry(c.variable.as_str()).or_insert(i64::MIN);
                *at = (*at).max(tree.nodes[k].start_ns);
            }
        }
        let mut writes_before = vec![0; n + 1];
        let mut level = vec![i64::MIN; n];
        for k in 0..n {
            let written = change(k).filter(|c| is_write(c.access_type));
            writes_before[k + 1] = writes_before[k] + usize::from(written.is_some());
            if let Some(c) = written {
                level[k] = last_read
                    .get(c.variable.as_str())
                    .copied()
                    .unwrap_or(i64::MIN);
            }
        }
        let mut latest = vec![level];
        let mut width = 1;
        while width * 2 <= n {
            let below = &latest[latest.len() - 1];
            let next = (0..=n - width * 2)
                .map(|k| below[k].max(below[k + width]))
                .collect();
            latest.push(next);
            width *= 2;
        }
        SubtreeWrites {
            end,
            writes_before,
            latest,
        }
    }

    /// True when `v`'s subtree writes state.
    fn any_in(&self, v: usize) -> bool {
        self.writes_before[self.end[v]] > self.writes_before[v]
    }

    /// The latest start of a read of a variable `v`'s subtree writes (`i64::MIN` if none).
    fn latest_read_of_written(&self, v: usize) -> i64 {
        let (from, to) = (v, self.end[v]);
        let level = (to - from).ilog2() as usize;
        let row = &self.latest[level];
        row[from].max(row[to - (1 << level)])
    }
}

#[cfg(test)]
#[path = "suggestions_tests.rs"]
mod tests;

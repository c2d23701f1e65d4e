//! Analyses of one trace, computed on demand from its stored events with the pure functions of
//! [`raceway_analysis::trace`]:
//!
//! - `GET /api/traces/{id}/tree?max_depth=`: the nested tree (see [`tree_json`]);
//! - `GET /api/traces/{id}/critical-path`: the longest duration-weighted path;
//! - `GET /api/traces/{id}/dependencies`: the trace's calls between services, per edge, each
//!   flagged `unexpected` when the global graph had never seen it before the trace started;
//! - `GET /api/traces/{id}/graph`: the causal graph (events and typed edges).
//!
//! Each answers 400 on a bad id and 404 when the store holds no event of the trace. The analyses
//! take milliseconds on big traces, so they run on the blocking pool.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::Json;
use raceway_analysis::trace::{
    analyze_trace, causal_graph, critical_path, summarize_calls, trace_tree, CausalGraph,
    CriticalStep, KnownEdges, LinkKind, Placeholder, TraceTree, TreeNode,
};
use raceway_analysis::trace_causality;
use raceway_store::AnalysisStore;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::anomalies::edge_stats;
use crate::error::TraceErrors;
use crate::params::{self, StoredTrace};
use crate::traces::{rfc3339, TraceIdPath};
use crate::ApiError;

/// Runs `work` on the blocking pool; a panic or cancellation there is a 500.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::internal(format!("trace analysis failed: {e}")))?
}

/// The `max_depth` query parameter of the tree.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TreeParams {
    /// Nodes deeper than this are left out (their parent counts them in `hidden_children`).
    #[param(value_type = Option<u32>)]
    max_depth: Option<String>,
}

/// `GET /api/traces/{id}/tree?max_depth=`: the trace's nodes nested under their parents.
#[utoipa::path(get, path = "/api/traces/{id}/tree", tag = "analyses",
    params(TraceIdPath, TreeParams),
    responses((status = 200, body = TreeBody), TraceErrors))]
pub(crate) async fn trace_tree_route(
    StoredTrace { events, .. }: StoredTrace,
    Query(raw): Query<TreeParams>,
) -> Result<Response, ApiError> {
    // No cap unless asked: the answer is written without recursion, whatever the depth.
    let max_depth = raw
        .max_depth
        .as_deref()
        .map(|raw| params::count("max_depth", Some(raw), 0, 0, u32::MAX))
        .transpose()?;
    let body = blocking(move || {
        let tree = trace_tree(&events);
        tree_json(&tree, max_depth)
            .map_err(|e| ApiError::internal(format!("could not encode the tree: {e}")))
    })
    .await?;
    Ok(([(CONTENT_TYPE, "application/json")], body).into_response())
}

/// The scalar fields of one node of the tree answer; `children` is appended after them.
#[derive(Serialize, ToSchema)]
struct NodeHead<'a> {
    id: String,
    kind: &'a str,
    service: &'a str,
    location: &'a str,
    thread: &'a str,
    start: String,
    start_ns: i64,
    duration_ns: u64,
    self_time_ns: u64,
    duration_measured: bool,
    placeholder: bool,
    placeholder_reason: Option<Placeholder>,
    link: Option<LinkKind>,
    error: bool,
    /// Children not shown because of `max_depth`; absent when none were cut.
    #[serde(skip_serializing_if = "Option::is_none")]
    hidden_children: Option<usize>,
}

/// The whole tree answer minus `roots`, which is appended after it.
#[derive(Serialize, ToSchema)]
struct TreeHead {
    trace_id: String,
    start: String,
    start_ns: i64,
    end_ns: i64,
    duration_ns: u64,
    node_count: usize,
    max_depth: u32,
    truncated_depth: bool,
}

/// `GET /api/traces/{id}/tree`: what [`tree_json`] writes (never built: the answer is written
/// without recursion).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub(crate) struct TreeBody {
    #[serde(flatten)]
    head: TreeHead,
    roots: Vec<TreeNodeBody>,
}

/// One node of [`TreeBody`].
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub(crate) struct TreeNodeBody {
    #[serde(flatten)]
    head: NodeHead<'static>,
    #[schema(no_recursion)]
    children: Vec<TreeNodeBody>,
}

/// The tree answer as JSON text: `{trace_id, start, start_ns, end_ns, duration_ns, node_count,
/// max_depth, truncated_depth, roots}`, each node `{id, kind, service, location, thread, start,
/// start_ns, duration_ns, self_time_ns, duration_measured, placeholder, placeholder_reason,
/// link, error, children}`.
///
/// Parent links chain an actor's events, so the nesting can be as deep as the trace is long:
/// the text is written with an explicit stack, never by recursion, so any depth fits. Nodes at
/// depth `max_depth` (when given) are written without their children, with `hidden_children`
/// counting them, and `truncated_depth` says whether that happened.
pub(crate) fn tree_json(tree: &TraceTree, max_depth: Option<u32>) -> serde_json::Result<Vec<u8>> {
    let n = tree.nodes.len();
    // Children numbered after their parent only (as `trace_tree` builds them): a malformed tree
    // cannot send the walk into a loop.
    let kids_of = |v: usize| -> Vec<usize> {
        tree.nodes[v]
            .children
            .iter()
            .copied()
            .filter(|&k| k > v && k < n)
            .collect()
    };
    let mut roots = Vec::with_capacity(n.saturating_mul(256));
    let mut truncated = false;
    roots.push(b'[');
    // (node, its valid children, how many of them are written).
    let mut stack: Vec<(Vec<usize>, usize)> = Vec::new();
    for (position, root) in tree.roots.iter().copied().filter(|&r| r < n).enumerate() {
        if position > 0 {
            roots.push(b',');
        }
        let depth_ok = max_depth.is_none_or(|cap| cap > 0);
        let kids = kids_of(root);
        truncated |= !depth_ok && !kids.is_empty();
        open_node(
            &mut roots,
            &tree.nodes[root],
            (!depth_ok).then_some(kids.len()),
        )?;
        stack.push((if depth_ok { kids } else { Vec::new() }, 0));
        while let Some((kids, written)) = stack.last_mut() {
            let Some(&child) = kids.get(*written) else {
                roots.extend_from_slice(b"]}");
                stack.pop();
                continue;
            };
            if *written > 0 {
                roots.push(b',');
            }
            *written += 1;
            // The child's depth is the stack's length (its parent is at depth len - 1).
            let depth = u32::try_from(stack.len()).unwrap_or(u32::MAX);
            let descend = max_depth.is_none_or(|cap| depth < cap);
            let grandkids = kids_of(child);
            truncated |= !descend && !grandkids.is_empty();
            let hidden = (!descend).then_some(grandkids.len());
            open_node(&mut roots, &tree.nodes[child], hidden)?;
            stack.push((if descend { grandkids } else { Vec::new() }, 0));
        }
    }
    roots.push(b']');

    let head = TreeHead {
        trace_id: tree.trace_id.to_string(),
        start: rfc3339(tree.start_ns),
        start_ns: tree.start_ns,
        end_ns: tree.end_ns,
        duration_ns: tree.wall_clock_ns(),
        node_count: n,
        max_depth: tree.max_depth(),
        truncated_depth: truncated,
    };
    let mut out = Vec::with_capacity(roots.len() + 256);
    serde_json::to_writer(&mut out, &head)?;
    reopen(&mut out);
    out.extend_from_slice(b",\"roots\":");
    out.extend_from_slice(&roots);
    out.push(b'}');
    Ok(out)
}

/// Writes `node`'s fields and opens its `children` array (closed by the caller with `]}`).
fn open_node(out: &mut Vec<u8>, node: &TreeNode, hidden: Option<usize>) -> serde_json::Result<()> {
    let head = NodeHead {
        id: node.id.to_string(),
        kind: &node.kind,
        service: &node.service,
        location: &node.location,
        thread: &node.thread,
        start: rfc3339(node.start_ns),
        start_ns: node.start_ns,
        duration_ns: node.duration_ns,
        self_time_ns: node.self_time_ns,
        duration_measured: node.duration_measured,
        placeholder: node.placeholder.is_some(),
        placeholder_reason: node.placeholder,
        link: node.link,
        error: node.error,
        hidden_children: hidden.filter(|&h| h > 0),
    };
    serde_json::to_writer(&mut *out, &head)?;
    reopen(out);
    out.extend_from_slice(b",\"children\":[");
    Ok(())
}

/// Removes the closing `}` of the object just written, so fields can follow.
fn reopen(out: &mut Vec<u8>) {
    if out.last() == Some(&b'}') {
        out.pop();
    }
}

/// Nanoseconds as milliseconds.
fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// One step of the critical path.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PathStep {
    pub event_id: String,
    pub kind: String,
    pub service: String,
    pub location: String,
    pub self_time_ms: f64,
    pub duration_ms: f64,
}

impl From<&CriticalStep> for PathStep {
    fn from(step: &CriticalStep) -> Self {
        PathStep {
            event_id: step.event_id.to_string(),
            kind: step.kind.to_string(),
            service: step.service.to_string(),
            location: step.location.to_string(),
            self_time_ms: ms(step.self_time_ns),
            duration_ms: ms(step.duration_ns),
        }
    }
}

/// `GET /api/traces/{id}/critical-path`: the longest duration-weighted path.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CriticalPathBody {
    pub trace_id: String,
    pub path: Vec<PathStep>,
    /// Sum of the steps' self times.
    pub total_duration_ms: f64,
    pub trace_duration_ms: f64,
    /// `total_duration_ms / trace_duration_ms` (0 for an instant trace).
    pub share_of_trace: f64,
}

/// `GET /api/traces/{id}/critical-path`.
#[utoipa::path(get, path = "/api/traces/{id}/critical-path", tag = "analyses",
    params(TraceIdPath), responses((status = 200, body = CriticalPathBody), TraceErrors))]
pub(crate) async fn trace_critical_path(
    StoredTrace {
        id: trace_id,
        events,
    }: StoredTrace,
) -> Result<Json<CriticalPathBody>, ApiError> {
    let path = blocking(move || Ok(critical_path(&trace_tree(&events)))).await?;
    Ok(Json(CriticalPathBody {
        trace_id: trace_id.to_string(),
        path: path.steps.iter().map(PathStep::from).collect(),
        total_duration_ms: path.total_duration_ms,
        trace_duration_ms: path.trace_duration_ms,
        share_of_trace: path.share_of_trace,
    }))
}

/// One service edge of a trace.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TraceDependencyRow {
    #[serde(flatten)]
    pub edge: raceway_store::DependencyStats,
    /// No call with this caller, callee and kind started before the trace did: the global
    /// dependency graph had never seen this edge.
    pub unexpected: bool,
}

/// `GET /api/traces/{id}/dependencies`: the trace's calls between services.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TraceDependencies {
    pub trace_id: String,
    pub dependencies: Vec<TraceDependencyRow>,
}

/// `GET /api/traces/{id}/dependencies`: the trace's service edges, each flagged `unexpected`
/// when the global graph of the calls that started before the trace lacks it
/// ([`KnownEdges`]).
#[utoipa::path(get, path = "/api/traces/{id}/dependencies", tag = "analyses",
    params(TraceIdPath),
    responses((status = 200, body = TraceDependencies), TraceErrors))]
pub(crate) async fn trace_dependencies(
    State(store): State<Arc<dyn AnalysisStore>>,
    StoredTrace {
        id: trace_id,
        events,
    }: StoredTrace,
) -> Result<Json<TraceDependencies>, ApiError> {
    let start_ns = events
        .iter()
        .map(|e| e.timestamp_ns)
        .min()
        .unwrap_or_default();
    let before = raceway_store::TimeRange::new(None, Some(start_ns.saturating_sub(1)));
    let known = store.dependencies(before).await?;
    let known = KnownEdges::new(known.iter().map(|k| {
        (
            k.caller_service.as_str(),
            k.callee_service.as_str(),
            k.kind.as_str(),
        )
    }));
    let edges = blocking(move || Ok(summarize_calls(&analyze_trace(&events).calls))).await?;
    Ok(Json(TraceDependencies {
        trace_id: trace_id.to_string(),
        dependencies: edges
            .iter()
            .map(|edge| TraceDependencyRow {
                edge: edge_stats(edge),
                unexpected: known.is_unexpected(edge),
            })
            .collect(),
    }))
}

/// `GET /api/traces/{id}/graph`: `{trace_id, trusted_clocks, nodes, edges}`, nodes in causal
/// order with their final clocks, edges typed (see [`raceway_analysis::trace::graph_export`]).
#[utoipa::path(get, path = "/api/traces/{id}/graph", tag = "analyses", params(TraceIdPath),
    responses((status = 200, body = CausalGraph), TraceErrors))]
pub(crate) async fn trace_graph(
    StoredTrace { events, .. }: StoredTrace,
) -> Result<Json<CausalGraph>, ApiError> {
    let graph = blocking(move || {
        causal_graph(&events, &trace_causality(&events))
            .map_err(|e| ApiError::internal(format!("could not build the graph: {e}")))
    })
    .await?;
    Ok(Json(graph))
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};
    use uuid::Uuid;

    use super::*;

    fn node(id: u128, children: Vec<usize>) -> TreeNode {
        TreeNode {
            id: Uuid::from_u128(id),
            kind: "FunctionCall".into(),
            placeholder: None,
            service: "api".into(),
            location: "f".into(),
            thread: "main".into(),
            start_ns: 0,
            duration_ns: 0,
            self_time_ns: 0,
            duration_measured: false,
            error: false,
            depth: 0,
            link: None,
            parent: None,
            children,
            event_index: None,
        }
    }

    #[test]
    fn malformed_trees_neither_loop_nor_panic() {
        // A self-loop, a child numbered before its parent and indices past the end.
        let tree = TraceTree {
            nodes: vec![node(1, vec![0, 1, 7]), node(2, vec![0])],
            roots: vec![0, 9],
            ..TraceTree::default()
        };
        let body: Value = serde_json::from_slice(&tree_json(&tree, None).unwrap()).unwrap();
        assert_eq!(body["roots"].as_array().unwrap().len(), 1);
        assert_eq!(
            body["roots"][0]["children"][0]["id"],
            Uuid::from_u128(2).to_string()
        );
        assert_eq!(body["roots"][0]["children"][0]["children"], json!([]));
    }

    #[test]
    fn a_zero_cap_keeps_only_the_roots() {
        let tree = TraceTree {
            nodes: vec![node(1, vec![1]), node(2, vec![])],
            roots: vec![0],
            ..TraceTree::default()
        };
        let body: Value = serde_json::from_slice(&tree_json(&tree, Some(0)).unwrap()).unwrap();
        assert_eq!(body["truncated_depth"], true);
        assert_eq!(body["roots"][0]["hidden_children"], 1);
        assert_eq!(body["roots"][0]["children"], json!([]));
    }
}

//! Analyses of one completed trace: its tree with durations and self times, its critical path,
//! the service calls it made, and its causal graph for the UIs.
//!
//! Everything here is a pure function of the trace's events (given in any order) and returns
//! plain serde-serialisable data that the store keeps and the query API serves as is:
//!
//! - [`trace_tree`] -> [`TraceTree`]: nested nodes from parent links and spawn, remote-call
//!   (HTTP spans) and message links, with inclusive durations and self times ([`durations`]
//!   holds the timing rules). Orphans sit under marked placeholders, never dropped.
//! - [`critical_path`] -> [`CriticalPath`]: the longest duration-weighted path through the tree.
//! - [`service_calls`] -> [`ServiceCall`] rows (one per call between services), and
//!   [`summarize_calls`] -> [`DependencyEdge`] (counts and latency percentiles) for stores that
//!   cannot compute percentiles in their query; [`KnownEdges`] says which edges of a trace the
//!   global graph had never seen before it started.
//! - [`causal_graph`] -> [`CausalGraph`]: events as nodes and typed edges, reusing the clocks of
//!   [`crate::trace_causality`] for the happens-before edges no structural link explains.
//!
//! [`analyze_trace`] runs the first three at once into a [`TraceReport`].
//!
//! The structural links themselves (which event a spawned task, a called service or a consumer
//! hangs under) are decided once, in the `links` module, for the tree, the dependencies and the
//! graph alike.

pub mod critical_path;
pub mod dependencies;
pub mod durations;
pub mod graph_export;
mod links;
pub mod tree;
pub mod unexpected_edges;

#[cfg(test)]
pub(crate) mod fixtures;

pub use critical_path::{critical_path, CriticalPath, CriticalStep};
pub use dependencies::{
    service_calls, summarize_calls, CallKind, DependencyEdge, ServiceCall, CALL_NAMESPACE,
};
pub use graph_export::{
    causal_graph, CausalGraph, EdgeKind, GraphEdge, GraphExportError, GraphNode,
};
pub use links::LinkKind;
pub use tree::{trace_tree, Placeholder, TraceTree, TreeNode};
pub use unexpected_edges::KnownEdges;

use raceway_schemas::{Event, EventKind};
use serde::{Deserialize, Serialize};

/// What the trace stage stores for one completed trace: its tree, critical path and service
/// calls. Re-analysing the trace (late events) produces a new report that replaces the old one.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TraceReport {
    /// See [`trace_tree`].
    pub tree: TraceTree,
    /// See [`critical_path`].
    pub critical_path: CriticalPath,
    /// See [`service_calls`].
    pub calls: Vec<ServiceCall>,
}

/// Runs [`trace_tree`], [`critical_path`] and [`service_calls`] over one trace's events (any
/// order), indexing the events once for all three.
pub fn analyze_trace(events: &[Event]) -> TraceReport {
    let index = links::EventIndex::new(events);
    let tree = tree::tree_with(events, &index);
    let critical_path = critical_path(&tree);
    let calls = dependencies::calls_with(events, &tree, &index);
    TraceReport {
        tree,
        critical_path,
        calls,
    }
}

/// Where in the code an event happened, as shown in the tree and used in duration baseline keys:
/// the most stable name each kind carries (the function for a call, the source location for an
/// access or lock, the method and URL without query string for a request, the topic for a
/// message, ...). Empty when the event carries none.
pub fn event_location(event: &Event) -> String {
    location_parts(event).to_text()
}

/// The pieces [`event_location`] joins, borrowed from the event, so that the tree can share one
/// copy of each distinct location instead of building a string per event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum LocationParts<'a> {
    /// The location as is.
    One(&'a str),
    /// Two parts and the separator between them.
    Two(&'a str, &'static str, &'a str),
    /// An HTTP status.
    Status(u16),
}

impl LocationParts<'_> {
    /// The location as text.
    pub(crate) fn to_text(self) -> String {
        match self {
            LocationParts::One(text) => text.to_string(),
            LocationParts::Two(first, separator, second) => {
                let mut text = String::with_capacity(first.len() + separator.len() + second.len());
                text.push_str(first);
                text.push_str(separator);
                text.push_str(second);
                text
            }
            LocationParts::Status(status) => status.to_string(),
        }
    }
}

/// See [`event_location`].
pub(crate) fn location_parts(event: &Event) -> LocationParts<'_> {
    use LocationParts::{One, Status, Two};
    match &event.kind {
        EventKind::FunctionCall(call) if call.module.is_empty() => One(&call.function_name),
        EventKind::FunctionCall(call) => Two(&call.module, "::", &call.function_name),
        EventKind::AsyncSpawn(spawn) => One(spawn
            .spawned_at
            .as_deref()
            .or(spawn.task_name.as_deref())
            .unwrap_or_default()),
        EventKind::AsyncAwait(await_) => One(&await_.awaited_at),
        EventKind::StateChange(change) => One(&change.location),
        EventKind::LockAcquire(lock) | EventKind::LockRelease(lock) => One(&lock.location),
        EventKind::MemoryFence(fence) => One(&fence.location),
        // Query strings carry ids and values: without them the key stays one per endpoint.
        EventKind::HttpRequest(request) => {
            let url = request.url.split(['?', '#']).next().unwrap_or_default();
            Two(&request.method, " ", url)
        }
        EventKind::HttpResponse(response) => Status(response.status),
        EventKind::DatabaseQuery(query) => One(&query.database),
        EventKind::DatabaseResult(_) => One(""),
        EventKind::Error(error) => One(&error.error_type),
        EventKind::MessageSend(message) | EventKind::MessageReceive(message) => {
            if message.location.is_empty() {
                One(&message.topic)
            } else {
                One(&message.location)
            }
        }
        EventKind::Custom(custom) => One(&custom.name),
    }
}

/// True for events that report a failure: an `Error` event, or an HTTP response with a 5xx
/// status (a server failure; 4xx answers are the caller's mistake, not the callee's).
pub fn is_error_event(event: &Event) -> bool {
    match &event.kind {
        EventKind::Error(_) => true,
        EventKind::HttpResponse(response) => response.status >= 500,
        _ => false,
    }
}

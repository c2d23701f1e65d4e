//! Service dependencies: the calls one trace made between services, as rows the store keeps and
//! aggregates (per trace, or globally over a time range) with counts and latency percentiles.
//! Every row has a deterministic id, so a replayed or re-analysed trace replaces its rows
//! instead of adding to the counts.
//!
//! # Rules
//!
//! **Calls** (HTTP and any other propagated call): a tree node of service B hanging by a parent
//! or remote-call link under an event of service A != B is a call from A to B. Nodes of one
//! callee service entering the same upstream span are one call (several threads serving one
//! request); otherwise each node is one. The callee's side of the call is the connected part of
//! its subtree in service B (a nested call to C belongs to C's own row). Latency, first that
//! applies:
//!
//! 1. the callee's own `HttpRequest` -> `HttpResponse` pair (the first request in the callee's
//!    side and the next response of the same thread), as the existing SDKs' server middleware
//!    records it;
//! 2. the caller's pair: the caller step is an `HttpRequest` and the caller's actor records an
//!    `HttpResponse` before its next request;
//! 3. the callee side's extent, from its first start to its latest end.
//!
//! It is an error when the response used has a 5xx status or the callee's side holds an error
//! event (see [`crate::trace::is_error_event`]).
//!
//! **Messages**: a `MessageReceive` in service B paired with a `MessageSend` in service A != B
//! (pairing rule in the `links` module) is a call of kind [`CallKind::Message`]; its latency is
//! the time from send to receive (0 under clock skew) and it is never an error.

use std::collections::BTreeMap;
use std::sync::Arc;

use foldhash::{HashMap, HashSet};
use raceway_schemas::{Event, EventKind};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::links::{EventIndex, LinkKind};
use super::tree::{TraceTree, TreeNode};
use crate::percentile::nearest_rank;

/// Namespace of the deterministic ids of [`ServiceCall`] rows.
pub const CALL_NAMESPACE: Uuid = Uuid::from_u128(0x5c4e_11c0_7d1e_4c55_9a2b_0d3e_9ca1_1000);

/// How one service reached another.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallKind {
    /// A request through a propagated span or parent link (HTTP in practice).
    Http,
    /// A message through a broker (Kafka).
    Message,
}

impl CallKind {
    /// The serialised name: `http` or `message`.
    pub fn as_str(self) -> &'static str {
        match self {
            CallKind::Http => "http",
            CallKind::Message => "message",
        }
    }
}

/// One call from one service to another in one trace: the row the store deduplicates on `id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceCall {
    /// Deterministic: (trace, kind, caller event, callee event) under [`CALL_NAMESPACE`].
    pub id: Uuid,
    /// The trace.
    pub trace_id: Uuid,
    /// The calling service.
    pub caller_service: String,
    /// The called service.
    pub callee_service: String,
    /// HTTP-like call or message.
    pub kind: CallKind,
    /// How long the call took (see the module doc).
    pub latency_ns: u64,
    /// True when the call failed.
    pub is_error: bool,
    /// The caller's step that made the call (the send for a message).
    pub caller_event: Uuid,
    /// The callee's first step (the receive for a message).
    pub callee_event: Uuid,
    /// When the call started, ns since the epoch (for time-range queries).
    pub timestamp_ns: i64,
}

/// Calls from one service to another, aggregated: what `GET /api/dependencies` shows per edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DependencyEdge {
    /// The calling service.
    pub caller_service: String,
    /// The called service.
    pub callee_service: String,
    /// HTTP-like call or message.
    pub kind: CallKind,
    /// Number of distinct calls.
    pub calls: u64,
    /// How many of them failed.
    pub errors: u64,
    /// Median latency, ms (nearest rank).
    pub p50_ms: f64,
    /// 95th percentile latency, ms (nearest rank).
    pub p95_ms: f64,
    /// 99th percentile latency, ms (nearest rank).
    pub p99_ms: f64,
}

/// The calls between services in one trace. `tree` must be [`crate::trace::trace_tree`] of the
/// same `events` (its nodes link back to them); nodes that do not are ignored.
pub fn service_calls(events: &[Event], tree: &TraceTree) -> Vec<ServiceCall> {
    calls_with(events, tree, &EventIndex::new(events))
}

/// [`service_calls`] over an index the caller already built.
pub(crate) fn calls_with(
    events: &[Event],
    tree: &TraceTree,
    index: &EventIndex<'_>,
) -> Vec<ServiceCall> {
    let event_of = |node: usize| {
        tree.nodes
            .get(node)
            .and_then(|n| n.event_index)
            .filter(|&i| i < events.len() && events[i].id == tree.nodes[node].id)
    };
    // Nodes entering each (callee service, upstream span) by a remote-call link: the threads
    // of one callee serving one request, which make one call together.
    let mut span_entries: HashMap<(&str, &str), Vec<usize>> = HashMap::default();
    for (v, node) in tree.nodes.iter().enumerate() {
        if node.link != Some(LinkKind::RemoteCall) {
            continue;
        }
        if let Some(span) = event_of(v).and_then(|i| upstream_of(&events[i])) {
            span_entries
                .entry((&*node.service, span))
                .or_default()
                .push(v);
        }
    }
    let mut calls = Vec::new();
    let mut entered: HashSet<(&str, &str)> = HashSet::default();
    for (v, node) in tree.nodes.iter().enumerate() {
        let Some(parent) = node.parent else {
            continue;
        };
        // The tree shares one copy of each service's name: the same copy is the same service,
        // and no call. Tested before the node's event is read: most nodes hang under a node of
        // their own service, and reading each node's event would be one more pass over them.
        let same_copy = |p: &TreeNode| Arc::ptr_eq(&node.service, &p.service);
        if tree.nodes.get(parent).is_some_and(same_copy) {
            continue;
        }
        let Some(callee) = event_of(v) else {
            continue;
        };
        let Some(caller) = event_of(parent) else {
            continue;
        };
        let (callee_event, caller_event) = (&events[callee], &events[caller]);
        let is_call = matches!(node.link, Some(LinkKind::Parent | LinkKind::RemoteCall))
            && caller_event.metadata.service_name != callee_event.metadata.service_name
            && !matches!(callee_event.kind, EventKind::MessageReceive(_))
            && !matches!(caller_event.kind, EventKind::MessageSend(_));
        if !is_call {
            continue;
        }
        let service = callee_event.metadata.service_name.as_str();
        let mut entries = vec![v];
        if let Some(span) = upstream_of(callee_event) {
            if !entered.insert((service, span)) {
                continue;
            }
            let others = span_entries.get(&(service, span)).into_iter().flatten();
            entries.extend(others.copied().filter(|&other| other != v));
        }
        let side = callee_side(tree, entries, &node.service);
        calls.push(http_call(events, tree, index, &side, caller, callee));
    }
    // Only a receive has a source: the index lists them, so no other event is read here.
    for &receive in &index.receives {
        let Some(send) = index.message_source(receive) else {
            continue;
        };
        let (sent, received) = (&events[send], &events[receive]);
        if sent.metadata.service_name == received.metadata.service_name {
            continue;
        }
        let latency =
            u64::try_from(i128::from(received.timestamp_ns) - i128::from(sent.timestamp_ns));
        calls.push(call_row(
            sent,
            received,
            CallKind::Message,
            latency.unwrap_or(0),
            false,
        ));
    }
    calls.sort_by_key(|call| (call.timestamp_ns, call.id));
    calls
}

/// The callee's side of a call: the nodes of `service` reachable from the entry nodes without
/// leaving the service. Every node has one parent and every entry hangs under another service,
/// so no node is reached twice; the walk still stops after as many nodes as the tree holds, in
/// case a hand-built tree lists a node under two parents.
/// `service` is the callee node's name: the tree shares one copy per service, so a node of the
/// same service is usually found by its pointer.
fn callee_side(tree: &TraceTree, entries: Vec<usize>, service: &Arc<str>) -> Vec<usize> {
    let mut stack = entries;
    let mut side = Vec::new();
    while let Some(v) = stack.pop() {
        if v >= tree.nodes.len() || side.len() >= tree.nodes.len() {
            continue;
        }
        side.push(v);
        let same_service = |c: &&usize| {
            tree.nodes
                .get(**c)
                .is_some_and(|n| Arc::ptr_eq(&n.service, service) || n.service == *service)
        };
        stack.extend(tree.nodes[v].children.iter().filter(same_service));
    }
    side
}

fn upstream_of(event: &Event) -> Option<&str> {
    event
        .metadata
        .upstream_span_id
        .as_deref()
        .filter(|s| !s.is_empty())
}

/// The row of one HTTP-like call, with latency and error by the module doc's rules.
fn http_call(
    events: &[Event],
    tree: &TraceTree,
    index: &EventIndex<'_>,
    side: &[usize],
    caller: usize,
    callee: usize,
) -> ServiceCall {
    // Only a request and a response make the server's pair. A node names its event's kind, so
    // the side's other events (most of a large side) are not read.
    let side_http: Vec<usize> = side
        .iter()
        .filter_map(|&v| {
            let node = &tree.nodes[v];
            let http = matches!(&*node.kind, HTTP_REQUEST | HTTP_RESPONSE);
            node.event_index.filter(|_| http)
        })
        .collect();
    let side_error = side.iter().any(|&v| tree.nodes[v].error);
    let pair =
        server_pair(events, index, &side_http).or_else(|| caller_pair(events, index, caller));
    let (latency, failed) = match pair {
        Some((latency, status)) => (latency, status >= 500),
        None => {
            let start = side
                .iter()
                .map(|&v| tree.nodes[v].start_ns)
                .min()
                .unwrap_or(0);
            let end = side
                .iter()
                .map(|&v| {
                    let node = &tree.nodes[v];
                    i128::from(node.start_ns) + i128::from(node.duration_ns)
                })
                .max()
                .unwrap_or(i128::from(start));
            (u64::try_from(end - i128::from(start)).unwrap_or(0), false)
        }
    };
    call_row(
        &events[caller],
        &events[callee],
        CallKind::Http,
        latency,
        failed || side_error,
    )
}

/// The tree's kind names of [`EventKind::HttpRequest`] and [`EventKind::HttpResponse`].
const HTTP_REQUEST: &str = EventKind::NAMES[7];
const HTTP_RESPONSE: &str = EventKind::NAMES[8];

/// (latency, status) of the first request in the callee's side and the next response of the
/// same thread.
fn server_pair(events: &[Event], index: &EventIndex<'_>, side: &[usize]) -> Option<(u64, u16)> {
    // The side is in tree order, not time order: pick by position instead of sorting it.
    let is_request = |i: &&usize| matches!(events[**i].kind, EventKind::HttpRequest(_));
    let request = *side
        .iter()
        .filter(is_request)
        .min_by_key(|&&i| index.position[i])?;
    let thread = &events[request].metadata.thread_id;
    let response = side
        .iter()
        .filter(|&&i| {
            index.position[i] > index.position[request]
                && matches!(events[i].kind, EventKind::HttpResponse(_))
                && &events[i].metadata.thread_id == thread
        })
        .min_by_key(|&&i| index.position[i])?;
    match &events[*response].kind {
        EventKind::HttpResponse(answer) => Some((
            response_latency(&events[request], &events[*response], answer.duration_ms),
            answer.status,
        )),
        _ => None,
    }
}

/// (latency, status) when the caller step is a request answered on the caller's actor before
/// its next request.
fn caller_pair(events: &[Event], index: &EventIndex<'_>, caller: usize) -> Option<(u64, u16)> {
    if !matches!(events[caller].kind, EventKind::HttpRequest(_)) {
        return None;
    }
    let mut next = index.next_in_actor(caller);
    while let Some(i) = next {
        match &events[i].kind {
            EventKind::HttpResponse(response) => {
                let latency = response_latency(&events[caller], &events[i], response.duration_ms);
                return Some((latency, response.status));
            }
            EventKind::HttpRequest(_) => return None,
            _ => next = index.next_in_actor(i),
        }
    }
    None
}

/// Time from request to response; the response's own `duration_ms` when the timestamps
/// cannot tell (equal, or skewed backwards).
fn response_latency(request: &Event, response: &Event, duration_ms: u64) -> u64 {
    let between = i128::from(response.timestamp_ns) - i128::from(request.timestamp_ns);
    match u64::try_from(between) {
        Ok(ns) if ns > 0 => ns,
        _ => duration_ms.saturating_mul(1_000_000),
    }
}

fn call_row(
    caller: &Event,
    callee: &Event,
    kind: CallKind,
    latency_ns: u64,
    is_error: bool,
) -> ServiceCall {
    let name = format!("{}/{:?}/{}/{}", callee.trace_id, kind, caller.id, callee.id);
    ServiceCall {
        id: Uuid::new_v5(&CALL_NAMESPACE, name.as_bytes()),
        trace_id: callee.trace_id,
        caller_service: caller.metadata.service_name.clone(),
        callee_service: callee.metadata.service_name.clone(),
        kind,
        latency_ns,
        is_error,
        caller_event: caller.id,
        callee_event: callee.id,
        timestamp_ns: caller.timestamp_ns.min(callee.timestamp_ns),
    }
}

/// Aggregates call rows into edges (caller, callee, kind) with counts and nearest-rank latency
/// percentiles, counting each row id once so replayed rows do not inflate anything. For stores
/// whose query language has no percentiles (SQLite): they select the deduplicated rows and call
/// this. Edges are sorted by (caller, callee, kind).
pub fn summarize_calls(calls: &[ServiceCall]) -> Vec<DependencyEdge> {
    let mut seen = HashSet::default();
    let mut groups: BTreeMap<(&str, &str, CallKind), (Vec<u64>, u64)> = BTreeMap::new();
    for call in calls.iter().filter(|call| seen.insert(call.id)) {
        let key = (
            call.caller_service.as_str(),
            call.callee_service.as_str(),
            call.kind,
        );
        let (latencies, errors) = groups.entry(key).or_default();
        latencies.push(call.latency_ns);
        *errors += u64::from(call.is_error);
    }
    groups
        .into_iter()
        .map(|((caller, callee, kind), (mut latencies, errors))| {
            latencies.sort_unstable();
            DependencyEdge {
                caller_service: caller.to_string(),
                callee_service: callee.to_string(),
                kind,
                calls: latencies.len() as u64,
                errors,
                p50_ms: percentile_ms(&latencies, 50),
                p95_ms: percentile_ms(&latencies, 95),
                p99_ms: percentile_ms(&latencies, 99),
            }
        })
        .collect()
}

/// Nearest-rank percentile of sorted latencies (ns), in ms; 0 for none.
fn percentile_ms(sorted: &[u64], percent: u32) -> f64 {
    nearest_rank(sorted, percent) as f64 / 1e6
}

#[cfg(test)]
#[path = "dependencies_tests.rs"]
mod tests;

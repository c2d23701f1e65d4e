//! Unexpected service edges: the edges of one trace that the global dependency graph had never
//! seen before the trace started.
//!
//! # Rule
//!
//! An edge of a trace (caller service, callee service, call kind) is unexpected when no call
//! with the same caller, callee and kind *started before the trace's first event*. The known
//! edges are the global graph over calls that started strictly before the trace did (`GET
//! /api/dependencies?to=` one nanosecond before its start); the comparison is exact on all three
//! parts.
//!
//! # Reason
//!
//! A service calling one it never called before is a change in who talks to whom (a deploy, a
//! misrouted request, a new dependency): worth a look when a trace misbehaves. The trace's own
//! calls must not count as known, or every edge would be known as soon as the trace is stored.
//!
//! # What breaks otherwise
//!
//! Taking the known graph over all time flags nothing once the trace's calls are stored.
//! Matching on the service pair alone hides a new message path between two services that
//! already talk over HTTP. With no history at all (the first trace ever), every edge is
//! unexpected, which is true: none was seen before.

use foldhash::HashSet;

use super::dependencies::DependencyEdge;

/// The edges seen before a trace started, by (caller, callee, kind name).
#[derive(Debug, Clone, Default)]
pub struct KnownEdges(HashSet<(String, String, String)>);

impl KnownEdges {
    /// Known edges from `(caller, callee, kind)` triples, the kind as serialised (`http`,
    /// `message`).
    pub fn new<'a>(edges: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>) -> KnownEdges {
        KnownEdges(
            edges
                .into_iter()
                .map(|(caller, callee, kind)| (caller.into(), callee.into(), kind.into()))
                .collect(),
        )
    }

    /// True when `edge` was never seen before the trace (see the module doc).
    pub fn is_unexpected(&self, edge: &DependencyEdge) -> bool {
        !self.0.contains(&(
            edge.caller_service.clone(),
            edge.callee_service.clone(),
            edge.kind.as_str().to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::CallKind;

    fn edge(caller: &str, callee: &str, kind: CallKind) -> DependencyEdge {
        DependencyEdge {
            caller_service: caller.into(),
            callee_service: callee.into(),
            kind,
            calls: 1,
            errors: 0,
            p50_ms: 1.0,
            p95_ms: 1.0,
            p99_ms: 1.0,
        }
    }

    #[test]
    fn an_edge_is_expected_only_when_caller_callee_and_kind_were_all_seen() {
        let known = KnownEdges::new([("api", "ledger", "http"), ("ledger", "audit", "message")]);
        assert!(!known.is_unexpected(&edge("api", "ledger", CallKind::Http)));
        assert!(!known.is_unexpected(&edge("ledger", "audit", CallKind::Message)));
        // Same services, another kind; the reverse direction; a new callee.
        assert!(known.is_unexpected(&edge("api", "ledger", CallKind::Message)));
        assert!(known.is_unexpected(&edge("ledger", "api", CallKind::Http)));
        assert!(known.is_unexpected(&edge("api", "fraud", CallKind::Http)));
    }

    #[test]
    fn with_no_history_every_edge_is_unexpected() {
        let known = KnownEdges::default();
        assert!(known.is_unexpected(&edge("api", "ledger", CallKind::Http)));
    }
}

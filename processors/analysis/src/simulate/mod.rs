//! What-if simulation of one trace (`POST /api/traces/{id}/simulate`): what would its critical
//! path, its services' times and their SLAs look like if a service were slower, an event took
//! longer, or a call into a service failed?
//!
//! # Rules
//!
//! The simulation re-times the trace's tree (see [`crate::trace::tree`]) with the interval rules
//! the critical path already uses: two siblings ran one after the other exactly when one ended
//! before the other started. From there:
//!
//! - **Service delay** `{"service": S, "ms": N}`: each *call into* S (a node of S whose parent
//!   belongs to another service: a remote call, a consumed message) takes N ms longer, once per
//!   call. Steps inside S are not each delayed: the delay stands for S answering later.
//! - **Event delay** `{"event_id": E, "ms": N}`: that event takes N ms longer.
//! - A delay is added at the **end** of the delayed step. Its ancestors stretch to cover it (a
//!   parent waits for the children that ended before it did), and what followed it shifts: later
//!   sequential siblings and their subtrees, and so the caller's steps after the call.
//! - A step starts after **every** earlier sibling that had ended when it started, and after its
//!   parent's start, keeping its original gap to the latest of them. A parallel branch therefore
//!   absorbs a delay up to its slack: a call of 10 ms beside one of 100 ms can take 90 ms more
//!   before anything after them moves.
//! - A child that outlived its parent (a spawned task still running) is not waited for: the
//!   parent does not stretch for it.
//! - **Failure** `{"service": S, "mode": "error" | "timeout", "timeout_ms": N}`: each call into
//!   S fails. Its subtree is skipped (it is not in the "after" picture) and the call lasts 0
//!   (`error`: the caller resumes immediately) or `timeout_ms` (`timeout`).
//! - **SLA** `{"default": N, "services": {S: N}}`: the budget of a *request* of S: a call into S,
//!   or a top-level step of S. `over_sla` lists the requests over their budget after the change,
//!   with whether they already were before.
//!
//! A service or event the trace does not hold is an error, not a silent no-op: a typo would
//! otherwise report "no impact".
//!
//! # Answer
//!
//! The critical path before and after (same rule as [`crate::trace::critical_path`]), each
//! service's time (the sum of its steps' self times), the services the change reaches with the
//! causal chain that carries it there (`via`: event ids from the changed step to the first
//! step of that service that moved), the requests over their SLA, and every event's timing
//! before and after (for the CSV export).
//!
//! Pure: no I/O, O(n log n) in the tree's nodes.

mod schedule;
mod spec;

#[cfg(test)]
mod tests;

pub use spec::{Delay, Failure, FailureMode, SimulationError, SimulationSpec, SlaSpec};

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::trace::{critical_path, CriticalStep, TraceTree, TreeNode};
use schedule::{Retimed, Schedule};

/// A length in ms before and after the change.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Before, in ms.
    pub before_ms: f64,
    /// After, in ms.
    pub after_ms: f64,
}

/// The event a row is about.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRef {
    /// The event.
    pub event_id: Uuid,
    /// Its service.
    pub service: String,
    /// Its kind.
    pub kind: String,
    /// Its location.
    pub location: String,
}

/// The critical path before and after the change: its length (`before_ms`, `after_ms`), the
/// difference and its steps.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathComparison {
    /// The path's length.
    #[serde(flatten)]
    pub length: Change,
    /// `after_ms - before_ms`.
    pub delta_ms: f64,
    /// Its steps before.
    pub before: Vec<CriticalStep>,
    /// Its steps after.
    pub after: Vec<CriticalStep>,
}

/// One service's time (`before_ms`, `after_ms`): the sum of its steps' self times, skipped
/// steps counting 0.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceTime {
    /// The service.
    pub service: String,
    /// Its time.
    #[serde(flatten)]
    pub time: Change,
}

/// A service the change reaches, and the causal chain that carries it there: event ids from the
/// changed step to this service's first moved step.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AffectedService {
    /// The service.
    pub service: String,
    /// The causal chain.
    pub via: Vec<Uuid>,
}

/// A request over its budget (`sla_ms`) after the change, with its duration before and after,
/// and whether it was already over before.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlaBreach {
    /// The request.
    #[serde(flatten)]
    pub event: EventRef,
    /// Its budget.
    pub sla_ms: f64,
    /// Its duration.
    #[serde(flatten)]
    pub duration: Change,
    /// Over budget before the change too.
    pub already_over: bool,
}

/// One event's start and duration before and after, ms from the trace's start; the "after"
/// values are `null` for a step a failure skipped.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventComparison {
    /// The event.
    #[serde(flatten)]
    pub event: EventRef,
    /// Start before.
    pub before_start_ms: f64,
    /// Duration before.
    pub before_duration_ms: f64,
    /// Start after.
    pub after_start_ms: Option<f64>,
    /// Duration after.
    pub after_duration_ms: Option<f64>,
}

/// The answer of a simulation: the critical path, each service's time (by name), the services
/// the change reaches beyond the steps it changed, the requests over their SLA, and every event's
/// timing (in tree order).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Simulation {
    /// The trace.
    pub trace_id: Uuid,
    /// The critical path.
    pub critical_path: PathComparison,
    /// Each service's time.
    pub services: Vec<ServiceTime>,
    /// The services reached.
    pub affected_services: Vec<AffectedService>,
    /// The requests over their SLA.
    pub over_sla: Vec<SlaBreach>,
    /// Every event's timing.
    pub events: Vec<EventComparison>,
}

/// Simulates `spec` on a tree built by [`crate::trace::trace_tree`].
pub fn simulate(tree: &TraceTree, spec: &SimulationSpec) -> Result<Simulation, SimulationError> {
    let schedule = Schedule::plan(tree, spec)?;
    let retimed = schedule.run(tree);
    let after_tree = retimed.tree(tree);
    let before_path = critical_path(tree);
    let after_path = critical_path(&after_tree);
    Ok(Simulation {
        trace_id: tree.trace_id,
        critical_path: PathComparison {
            length: Change {
                before_ms: before_path.total_duration_ms,
                after_ms: after_path.total_duration_ms,
            },
            delta_ms: after_path.total_duration_ms - before_path.total_duration_ms,
            before: before_path.steps,
            after: after_path.steps,
        },
        services: service_times(tree, &after_tree, &retimed),
        affected_services: affected_services(tree, &schedule, &retimed),
        over_sla: over_sla(tree, &after_tree, &retimed, spec),
        events: event_comparisons(tree, &after_tree, &retimed),
    })
}

impl EventRef {
    fn of(node: &TreeNode) -> Self {
        EventRef {
            event_id: node.id,
            service: node.service.to_string(),
            kind: node.kind.to_string(),
            location: node.location.to_string(),
        }
    }
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

fn since(start: i64, at: i64) -> f64 {
    (i128::from(at) - i128::from(start)) as f64 / 1e6
}

fn service_times(before: &TraceTree, after: &TraceTree, retimed: &Retimed) -> Vec<ServiceTime> {
    let mut by_service: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (v, node) in before.nodes.iter().enumerate() {
        if node.placeholder.is_some() {
            continue;
        }
        let entry = by_service.entry(&node.service).or_default();
        entry.0 += node.self_time_ns;
        if !retimed.skipped[v] {
            entry.1 += after.nodes[v].self_time_ns;
        }
    }
    by_service
        .into_iter()
        .map(|(service, (b, a))| ServiceTime {
            service: service.to_string(),
            time: Change {
                before_ms: ms(b),
                after_ms: ms(a),
            },
        })
        .collect()
}

fn affected_services(
    tree: &TraceTree,
    schedule: &Schedule,
    retimed: &Retimed,
) -> Vec<AffectedService> {
    let mut first: BTreeMap<&Arc<str>, usize> = BTreeMap::new();
    for (v, node) in tree.nodes.iter().enumerate() {
        let moved = retimed.moved(v) && !schedule.is_origin(v) && !retimed.skipped[v];
        if moved && node.placeholder.is_none() {
            first.entry(&node.service).or_insert(v);
        }
    }
    let mut out: Vec<AffectedService> = first
        .into_iter()
        .map(|(service, v)| AffectedService {
            service: service.to_string(),
            via: retimed
                .chain_to(v)
                .into_iter()
                .map(|n| tree.nodes[n].id)
                .collect(),
        })
        .collect();
    out.sort_by(|a, b| {
        a.via
            .len()
            .cmp(&b.via.len())
            .then_with(|| a.service.cmp(&b.service))
    });
    out
}

fn over_sla(
    before: &TraceTree,
    after: &TraceTree,
    retimed: &Retimed,
    spec: &SimulationSpec,
) -> Vec<SlaBreach> {
    let Some(sla) = &spec.sla_ms else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (v, node) in before.nodes.iter().enumerate() {
        if node.placeholder.is_some() || retimed.skipped[v] || !schedule::is_request(before, v) {
            continue;
        }
        let Some(budget_ms) = sla.budget_ms(&node.service) else {
            continue;
        };
        let budget_ns = budget_ms.saturating_mul(1_000_000);
        let after_ns = after.nodes[v].duration_ns;
        if after_ns > budget_ns {
            out.push(SlaBreach {
                event: EventRef::of(node),
                sla_ms: budget_ms as f64,
                duration: Change {
                    before_ms: ms(node.duration_ns),
                    after_ms: ms(after_ns),
                },
                already_over: node.duration_ns > budget_ns,
            });
        }
    }
    out
}

fn event_comparisons(
    before: &TraceTree,
    after: &TraceTree,
    retimed: &Retimed,
) -> Vec<EventComparison> {
    before
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, node)| node.placeholder.is_none())
        .map(|(v, node)| {
            let (after_start_ms, after_duration_ms) = if retimed.skipped[v] {
                (None, None)
            } else {
                let moved = &after.nodes[v];
                (
                    Some(since(before.start_ns, moved.start_ns)),
                    Some(ms(moved.duration_ns)),
                )
            };
            EventComparison {
                event: EventRef::of(node),
                before_start_ms: since(before.start_ns, node.start_ns),
                before_duration_ms: ms(node.duration_ns),
                after_start_ms,
                after_duration_ms,
            }
        })
        .collect()
}

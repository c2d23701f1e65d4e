//! Audit trails: every stored access to a variable, in causal order, with whether each one is
//! ordered after the previous one and which findings it is part of.
//!
//! - `GET /api/traces/{id}/audit-trail/{variable}`: the trace's accesses (404 only when the trace
//!   does not exist).
//! - `GET /api/variables/{name}/audit-trail?from=&to=&environment=&limit=`: across traces (200
//!   with an empty list when nothing matches).
//!
//! Variable names are path segments: `account:alice.balance` works as is; a name containing `/`
//! must be sent URL-encoded (`%2F`), which axum decodes.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::stores::AuditStores;
use axum::extract::{Path, Query, State};
use axum::Json;
use raceway_schemas::{Access, RaceFinding, VectorClock};
use raceway_store::TimeRange;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::params;
use crate::traces::rfc3339;
use crate::ApiError;

/// Accesses per audit trail when `limit` is absent.
const DEFAULT_ACCESSES: u32 = 1000;
/// Largest `limit`: ordering compares every pair of accesses, so it is quadratic.
const MAX_ACCESSES: u32 = 5000;

/// `GET /api/traces/{id}/audit-trail/{variable}`.
pub(crate) async fn trace_audit_trail(
    State(store): State<AuditStores>,
    Path((raw_id, variable)): Path<(String, String)>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let trace_id = params::trace_id(&raw_id)?;
    let limit = params::count(
        "limit",
        raw.get("limit").map(String::as_str),
        DEFAULT_ACCESSES,
        1,
        MAX_ACCESSES,
    )?;
    let mut accesses = store
        .accesses
        .trace_variable_accesses(trace_id, &variable)
        .await?;
    // Only an empty answer needs the (costlier) existence check.
    if accesses.is_empty() && store.events.trace_events(trace_id).await?.is_empty() {
        return Err(ApiError::not_found(format!("no trace {trace_id}")));
    }
    let truncated = accesses.len() > limit as usize;
    accesses.truncate(limit as usize);
    // The trace's findings include its cross-trace ones; membership is by event id.
    let findings = store.findings.trace_findings(trace_id).await?;
    let trail = audit_trail(accesses, &findings).await?;
    Ok(Json(json!({
        "trace_id": trace_id.to_string(),
        "variable": variable,
        "accesses": trail,
        "limit": limit,
        "truncated": truncated,
    })))
}

/// `GET /api/variables/{name}/audit-trail?from=&to=&environment=&limit=`: the first `limit`
/// accesses in the time range (by timestamp), in causal order.
pub(crate) async fn variable_audit_trail(
    State(store): State<AuditStores>,
    Path(variable): Path<String>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let get = |name: &str| raw.get(name).map(String::as_str);
    let from_ns = params::opt_time_ns("from", get("from"))?;
    let to_ns = params::opt_time_ns("to", get("to"))?;
    params::time_range(from_ns, to_ns)?;
    let limit = params::count("limit", get("limit"), DEFAULT_ACCESSES, 1, MAX_ACCESSES)?;
    let environment = get("environment");
    // One more than asked, to tell whether the trail was cut.
    let time = TimeRange::new(from_ns, to_ns);
    let mut accesses = store
        .accesses
        .variable_accesses(environment, &variable, time, limit + 1)
        .await?;
    let truncated = accesses.len() > limit as usize;
    accesses.truncate(limit as usize);
    let findings = store
        .findings
        .findings_for_variable(environment, &variable)
        .await?;
    let trail = audit_trail(accesses, &findings).await?;
    Ok(Json(json!({
        "variable": variable,
        "environment": environment,
        "accesses": trail,
        "limit": limit,
        "truncated": truncated,
    })))
}

/// The rows of an audit trail: `accesses` in causal order, each with its flags. The ordering is
/// quadratic in the number of accesses, so it runs on the blocking pool.
async fn audit_trail(accesses: Vec<Access>, findings: &[RaceFinding]) -> Result<Value, ApiError> {
    let memberships = finding_memberships(findings);
    tokio::task::spawn_blocking(move || {
        let clocks: Vec<VectorClock> = accesses
            .iter()
            .map(|a| VectorClock::from_pairs(a.clock.iter().map(|(c, n)| (c.as_str(), *n))))
            .collect();
        let order = causal_order(&accesses, &clocks);
        let rows: Vec<Value> = order
            .iter()
            .enumerate()
            .map(|(position, &index)| {
                let linked =
                    position > 0 && clocks[order[position - 1]].happens_before(&clocks[index]);
                let in_findings = memberships
                    .get(&accesses[index].event_id)
                    .cloned()
                    .unwrap_or_default();
                access_row(&accesses[index], linked, in_findings)
            })
            .collect();
        Value::Array(rows)
    })
    .await
    .map_err(|e| ApiError::internal(format!("ordering the audit trail failed: {e}")))
}

/// Event id -> ids of the findings it is one side of (sorted). A finding stores one
/// representative pair of events, so only those two accesses are marked.
fn finding_memberships(findings: &[RaceFinding]) -> HashMap<Uuid, Vec<String>> {
    let mut memberships: HashMap<Uuid, Vec<String>> = HashMap::new();
    for finding in findings {
        for side in [&finding.first, &finding.second] {
            // Findings of lock-order inversions name lock acquisitions, which are never in a
            // variable's trail; an id that is not a UUID cannot match an access either.
            if let Ok(event_id) = Uuid::parse_str(&side.event_id) {
                memberships
                    .entry(event_id)
                    .or_default()
                    .push(finding.id.clone());
            }
        }
    }
    for ids in memberships.values_mut() {
        ids.sort();
        ids.dedup();
    }
    memberships
}

/// A deterministic topological order of the accesses under happens-before: repeatedly the
/// earliest (timestamp, event id) among the accesses whose predecessors are all placed. So
/// accesses appear in time order except where the clocks say otherwise (clock skew between
/// hosts), and concurrent ones stay in time order.
pub(crate) fn causal_order(accesses: &[Access], clocks: &[VectorClock]) -> Vec<usize> {
    let n = accesses.len();
    let mut successors: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut waiting_for = vec![0usize; n];
    for i in 0..n {
        for j in 0..n {
            if clocks[i].happens_before(&clocks[j]) {
                successors[i].push(j);
                waiting_for[j] += 1;
            }
        }
    }
    let key = |i: usize| Reverse((accesses[i].timestamp_ns, accesses[i].event_id, i));
    let mut ready: BinaryHeap<_> = (0..n).filter(|&i| waiting_for[i] == 0).map(key).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse((_, _, i))) = ready.pop() {
        order.push(i);
        for &j in &successors[i] {
            waiting_for[j] -= 1;
            if waiting_for[j] == 0 {
                ready.push(key(j));
            }
        }
    }
    // Happens-before on vector clocks is a strict partial order, so there is no cycle and every
    // access is placed.
    debug_assert_eq!(order.len(), n);
    order
}

/// Text that parses as JSON becomes that JSON value; anything else stays a string.
fn json_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

fn access_row(access: &Access, linked: bool, in_findings: Vec<String>) -> Value {
    let locks: Vec<Value> = access
        .locks
        .iter()
        .map(|l| json!({"lock_id": l.lock_id, "mode": l.mode.as_str()}))
        .collect();
    json!({
        "event_id": access.event_id.to_string(),
        "trace_id": access.trace_id.to_string(),
        "timestamp": rfc3339(access.timestamp_ns),
        "environment": access.environment,
        "service": access.actor.service,
        "instance": access.actor.instance,
        "thread_id": access.actor.thread,
        "location": access.location,
        "access_type": access.access_type.as_str(),
        "old_value": access.old_value.as_deref().map(json_value),
        "new_value": json_value(&access.value),
        "clock": access.clock,
        "trusted_clock": access.trusted_clock,
        "locks": locks,
        "causally_linked_to_previous": linked,
        "in_findings": in_findings,
    })
}

#[cfg(test)]
mod tests {
    use raceway_schemas::{AccessType, ActorId};

    use super::*;

    fn access(n: u128, ts: i64, clock: &[(&str, u64)]) -> Access {
        Access {
            event_id: Uuid::from_u128(n),
            trace_id: Uuid::from_u128(1000),
            timestamp_ns: ts,
            environment: "test".into(),
            variable: "x".into(),
            access_type: AccessType::Write,
            location: format!("x.rs:{n}"),
            value: n.to_string(),
            old_value: None,
            actor: ActorId {
                service: "s".into(),
                instance: String::new(),
                thread: format!("t{n}"),
            },
            clock: clock.iter().map(|(c, k)| (c.to_string(), *k)).collect(),
            trusted_clock: true,
            locks: Vec::new(),
            trace_start_ns: 0,
            trace_end_ns: 0,
        }
    }

    fn order(accesses: &[Access]) -> Vec<u128> {
        let clocks: Vec<VectorClock> = accesses
            .iter()
            .map(|a| VectorClock::from_pairs(a.clock.iter().map(|(c, n)| (c.as_str(), *n))))
            .collect();
        causal_order(accesses, &clocks)
            .into_iter()
            .map(|i| accesses[i].event_id.as_u128())
            .collect()
    }

    #[test]
    fn happens_before_wins_over_timestamps() {
        // 2 happens before 1 although its host's clock stamped it later.
        let accesses = vec![
            access(1, 10, &[("a", 1), ("b", 1)]),
            access(2, 20, &[("a", 1)]),
            access(3, 15, &[("c", 1)]),
        ];
        assert_eq!(order(&accesses), vec![3, 2, 1]);
    }

    #[test]
    fn concurrent_accesses_keep_time_then_id_order() {
        let accesses = vec![
            access(3, 10, &[("c", 1)]),
            access(1, 10, &[("a", 1)]),
            access(2, 5, &[]),
        ];
        assert_eq!(order(&accesses), vec![2, 1, 3]);
        assert!(order(&[]).is_empty());
    }

    #[test]
    fn memberships_are_by_event_id_sorted_and_unique() {
        let event = Uuid::from_u128(7);
        let side = |id: &str| raceway_schemas::FindingEvent {
            event_id: id.into(),
            trace_id: String::new(),
            thread_id: String::new(),
            service: String::new(),
            instance: String::new(),
            location: String::new(),
            access_type: String::new(),
            timestamp_ns: 0,
            clock: Vec::new(),
        };
        let finding = |id: &str, a: &str, b: &str| RaceFinding {
            id: id.into(),
            kind: raceway_schemas::FindingKind::DataRace,
            environment: "test".into(),
            variable: "x".into(),
            severity: raceway_schemas::Severity::Critical,
            count: 1,
            explanation: String::new(),
            first: side(a),
            second: side(b),
            detected_at_ns: 0,
        };
        let e = event.to_string();
        let memberships = finding_memberships(&[
            finding("f-b", &e, "lock:1"),
            finding("f-a", &Uuid::from_u128(8).to_string(), &e),
            finding("f-b", &e, "lock:1"),
        ]);
        assert_eq!(memberships[&event], vec!["f-a", "f-b"]);
        assert_eq!(memberships.len(), 2);
    }

    #[test]
    fn values_are_json_when_they_parse() {
        assert_eq!(json_value("15"), json!(15));
        assert_eq!(json_value(r#"{"a":[1]}"#), json!({"a": [1]}));
        assert_eq!(json_value("not json"), json!("not json"));
    }
}

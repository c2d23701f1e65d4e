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

use axum::extract::{Path, Query, State};
use axum::Json;
use raceway_schemas::{Access, RaceFinding, VectorClock};
use raceway_store::AccessQuery;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::{ListErrors, TraceErrors};
use crate::params::{self, TimeRange};
use crate::stores::AuditStores;
use crate::tenant::Scope;
use crate::traces::rfc3339;
use crate::ApiError;

/// Accesses per audit trail when `limit` is absent.
const DEFAULT_ACCESSES: u32 = 1000;
/// Largest `limit`: ordering compares every pair of accesses, so it is quadratic.
const MAX_ACCESSES: u32 = 5000;

/// Path of `GET /api/traces/{id}/audit-trail/{variable}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct TraceVariablePath {
    /// The trace (UUID).
    id: String,
    /// The variable (URL-encode a `/`).
    variable: String,
}

/// Path of `GET /api/variables/{name}/audit-trail`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct VariablePath {
    /// The variable (URL-encode a `/`).
    name: String,
}

/// Options of the audit trails.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TrailParams {
    /// Most accesses shown, 1 to 5000 (default 1000).
    #[param(value_type = Option<u32>)]
    limit: Option<String>,
    /// Only this environment's accesses (across traces only).
    environment: Option<String>,
}

impl TrailParams {
    fn limit(&self) -> Result<u32, ApiError> {
        params::count(
            "limit",
            self.limit.as_deref(),
            DEFAULT_ACCESSES,
            1,
            MAX_ACCESSES,
        )
    }
}

/// One lock held at an access.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HeldLock {
    pub lock_id: String,
    /// `exclusive`, `shared`, ...
    pub mode: String,
}

impl From<&raceway_schemas::HeldLock> for HeldLock {
    fn from(lock: &raceway_schemas::HeldLock) -> Self {
        HeldLock {
            lock_id: lock.lock_id.clone(),
            mode: lock.mode.as_str().to_string(),
        }
    }
}

/// One access of an audit trail.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccessRow {
    pub event_id: String,
    pub trace_id: String,
    /// RFC 3339.
    pub timestamp: String,
    pub environment: String,
    pub service: String,
    pub instance: String,
    pub thread_id: String,
    pub location: String,
    /// `Read`, `Write`, `AtomicRead`, `AtomicWrite` or `AtomicRMW`.
    pub access_type: String,
    /// The value before a write (JSON when it parses, else a string); null when unknown.
    pub old_value: Option<Value>,
    /// The value read or written (JSON when it parses, else a string).
    pub new_value: Value,
    #[schema(schema_with = raceway_schemas::openapi::clock_pairs)]
    pub clock: Vec<(String, u64)>,
    pub trusted_clock: bool,
    pub locks: Vec<HeldLock>,
    /// Whether the previous access of the trail happens before this one; false on a race.
    pub causally_linked_to_previous: bool,
    /// Ids of the findings this access is a side of.
    pub in_findings: Vec<String>,
}

/// An audit trail: accesses to one variable in causal order.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditTrail {
    pub variable: String,
    pub accesses: Vec<AccessRow>,
    pub limit: u32,
    /// True when more accesses matched than `limit`.
    pub truncated: bool,
}

/// `GET /api/traces/{id}/audit-trail/{variable}`: the trail within one trace.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TraceAuditTrail {
    pub trace_id: String,
    #[serde(flatten)]
    pub trail: AuditTrail,
}

/// `GET /api/variables/{name}/audit-trail`: the trail across traces.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VariableAuditTrail {
    /// The environment filter (null: every environment).
    pub environment: Option<String>,
    #[serde(flatten)]
    pub trail: AuditTrail,
}

/// `GET /api/traces/{id}/audit-trail/{variable}`.
#[utoipa::path(get, path = "/api/traces/{id}/audit-trail/{variable}", tag = "variables",
    params(TraceVariablePath, TrailParams),
    responses((status = 200, body = TraceAuditTrail), TraceErrors))]
pub(crate) async fn trace_audit_trail(
    State(store): State<AuditStores>,
    scope: Scope,
    Path(TraceVariablePath {
        id: raw_id,
        variable,
    }): Path<TraceVariablePath>,
    Query(options): Query<TrailParams>,
) -> Result<Json<TraceAuditTrail>, ApiError> {
    let trace_id = params::trace_id(&raw_id)?;
    let limit = options.limit()?;
    scope
        .check_stored_trace(store.events.as_ref(), trace_id)
        .await?;
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
    let findings = scope.findings(store.findings.trace_findings(trace_id).await?);
    Ok(Json(TraceAuditTrail {
        trace_id: trace_id.to_string(),
        trail: AuditTrail {
            variable,
            accesses: audit_trail(accesses, &findings).await?,
            limit,
            truncated,
        },
    }))
}

/// `GET /api/variables/{name}/audit-trail?from=&to=&environment=&limit=`: the first `limit`
/// accesses in the time range (by timestamp), in causal order.
#[utoipa::path(get, path = "/api/variables/{name}/audit-trail", tag = "variables",
    params(VariablePath, TrailParams, TimeRange),
    responses((status = 200, body = VariableAuditTrail), ListErrors))]
pub(crate) async fn variable_audit_trail(
    State(store): State<AuditStores>,
    scope: Scope,
    Path(VariablePath { name: variable }): Path<VariablePath>,
    Query(options): Query<TrailParams>,
    Query(range): Query<TimeRange>,
) -> Result<Json<VariableAuditTrail>, ApiError> {
    let (from_ns, to_ns) = range.parse()?;
    let time = raceway_store::TimeRange::new(from_ns, to_ns);
    let limit = options.limit()?;
    let named = options.environment.as_deref();
    // A tenant's trail without a named environment is read per environment of the tenant and
    // merged by time; otherwise one read (`None`: every environment).
    let environments: Vec<Option<String>> = match scope.environments(named)? {
        tenant if named.is_none() && !tenant.is_empty() => tenant.into_iter().map(Some).collect(),
        _ => vec![named.map(str::to_string)],
    };
    let (mut accesses, mut findings) = (Vec::new(), Vec::new());
    for environment in environments {
        // One more than asked, to tell whether the trail was cut.
        let query = AccessQuery {
            environment: environment.clone(),
            variable: variable.clone(),
            time,
            limit: limit + 1,
        };
        accesses.extend(store.accesses.variable_accesses(&query).await?);
        findings.extend(
            store
                .findings
                .findings_for_variable(environment.as_deref(), &variable)
                .await?,
        );
    }
    accesses.sort_by_key(|a| (a.timestamp_ns, a.event_id));
    let truncated = accesses.len() > limit as usize;
    accesses.truncate(limit as usize);
    Ok(Json(VariableAuditTrail {
        environment: options.environment.clone(),
        trail: AuditTrail {
            variable,
            accesses: audit_trail(accesses, &findings).await?,
            limit,
            truncated,
        },
    }))
}

/// The rows of an audit trail: `accesses` in causal order, each with its flags. The ordering is
/// quadratic in the number of accesses, so it runs on the blocking pool.
async fn audit_trail(
    accesses: Vec<Access>,
    findings: &[RaceFinding],
) -> Result<Vec<AccessRow>, ApiError> {
    let memberships = finding_memberships(findings);
    tokio::task::spawn_blocking(move || {
        let clocks: Vec<VectorClock> = accesses.iter().map(|a| a.clock.to_vector_clock()).collect();
        let order = causal_order(&accesses, &clocks);
        order
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
            .collect()
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

pub(crate) use raceway_schemas::finding::recorded_value as json_value;

fn access_row(access: &Access, linked: bool, in_findings: Vec<String>) -> AccessRow {
    AccessRow {
        event_id: access.event_id.to_string(),
        trace_id: access.trace_id.to_string(),
        timestamp: rfc3339(access.timestamp_ns),
        environment: access.environment.to_string(),
        service: access.actor.service.clone(),
        instance: access.actor.instance.clone(),
        thread_id: access.actor.thread.clone(),
        location: access.location.to_string(),
        access_type: access.access_type.as_str().to_string(),
        old_value: access.old_value.as_deref().map(json_value),
        new_value: json_value(&access.value),
        clock: access.clock.to_pairs(),
        trusted_clock: access.trusted_clock,
        locks: access.locks.iter().map(HeldLock::from).collect(),
        causally_linked_to_previous: linked,
        in_findings,
    }
}

#[cfg(test)]
mod tests {
    use raceway_schemas::{AccessType, ActorId};
    use serde_json::json;

    use super::*;

    fn access(n: u128, ts: i64, clock: &[(&str, u64)]) -> Access {
        Access {
            event_id: Uuid::from_u128(n),
            trace_id: Uuid::from_u128(1000),
            timestamp_ns: ts,
            environment: "test".into(),
            variable: "x".into(),
            access_type: AccessType::Write,
            location: format!("x.rs:{n}").into(),
            value: n.to_string(),
            old_value: None,
            actor: ActorId {
                service: "s".into(),
                instance: String::new(),
                thread: format!("t{n}"),
            }
            .into(),
            clock: clock.iter().map(|(c, k)| (c.to_string(), *k)).collect(),
            trusted_clock: true,
            locks: Vec::new().into(),
            trace_start_ns: 0,
            trace_end_ns: 0,
        }
    }

    fn order(accesses: &[Access]) -> Vec<u128> {
        let clocks: Vec<VectorClock> = accesses.iter().map(|a| a.clock.to_vector_clock()).collect();
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
            old_value: None,
            new_value: None,
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

//! What the service-health and hotspot reads return: per-service counts over a window, one row
//! per trace of a service (the samples its health is computed from), and the variables and
//! locations involved in the most findings and anomalies.
//!
//! Each backend answers with a few grouped queries (events, findings, anomalies); the merging
//! of their groups into one row per service or location is written once here, so both backends
//! rank and tie-break alike.

use std::collections::BTreeMap;

use raceway_schemas::FindingKind;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::filter::{self, Dialect, Filter, Value};
use crate::{AnomalyQuery, FindingQuery, TimeRange};

/// What the service reads look at: a time window, confined to `environments` (every environment
/// when empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceWindow {
    pub time: TimeRange,
    pub environments: Vec<String>,
}

impl ServiceWindow {
    /// The findings query of the window: findings whose events span a time overlapping it.
    pub(crate) fn findings(&self) -> FindingQuery {
        FindingQuery {
            environments: self.environments.clone(),
            from_ns: self.time.from_ns,
            to_ns: self.time.to_ns,
            ..FindingQuery::default()
        }
    }

    /// The anomalies of the window: of traces started in it.
    pub(crate) fn anomalies(&self, dialect: Dialect) -> Filter {
        let query = AnomalyQuery {
            environments: self.environments.clone(),
            from_ns: self.time.from_ns,
            to_ns: self.time.to_ns,
            ..AnomalyQuery::default()
        };
        filter::anomalies(dialect, &query)
    }

    /// The events of the window (of `service` when given).
    pub(crate) fn events(&self, dialect: Dialect, service: Option<&str>) -> Filter {
        filter::service_events(dialect, service, self.time, &self.environments)
    }
}

/// Which traces [`crate::ServiceStore::service_traces`] returns: those of `service` in `window`,
/// the newest `limit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceTracesQuery {
    pub service: String,
    pub window: ServiceWindow,
    pub limit: u32,
}

/// Both sides of each finding of `filter` as rows `(id, service, location)`, in both dialects:
/// the filter's values are bound twice, once per side.
pub(crate) fn finding_sides(filter: &Filter) -> (String, Vec<Value>) {
    let conditions = filter.sql();
    let sql = format!(
        "SELECT id, first_service AS service, first_location AS location FROM findings \
         WHERE {conditions} \
         UNION ALL SELECT id, second_service AS service, second_location AS location \
         FROM findings WHERE {conditions}"
    );
    (sql, filter.params_with(filter.params()))
}

/// One service's activity over a window: what `GET /api/services` lists (as `ServiceRow`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ServiceRow))]
pub struct ServiceCounts {
    /// The `service_name` of its events.
    pub service: String,
    /// Distinct traces with at least one of its events in the window.
    pub trace_count: u64,
    /// Its distinct events in the window.
    pub event_count: u64,
    /// Distinct findings (newest version, not retracted) with the service on either side,
    /// whose two events span a time overlapping the window.
    pub race_count: u64,
    /// Duration anomalies of the service in traces' latest analyses, traces started in the
    /// window.
    pub anomaly_count: u64,
}

/// One trace of one service: the service's part of it, the sample its health is computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceTraceRow {
    pub trace_id: Uuid,
    /// The service's first event in the trace, ns since the epoch.
    pub first_ns: i64,
    /// The service's last event in the trace, ns since the epoch.
    pub last_ns: i64,
    /// The service's distinct events in the trace.
    pub event_count: u64,
    /// Of those, `Error` events.
    pub error_count: u64,
    /// Duration anomalies of the service in the trace's latest analysis.
    pub anomaly_count: u64,
}

/// A variable (or, for lock-order inversions, a lock pair or cycle) in findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VariableHotspot {
    pub environment: String,
    pub variable: String,
    /// Distinct findings on it, of every kind.
    pub findings: u64,
    pub data_races: u64,
    pub lost_updates: u64,
    pub lock_order_inversions: u64,
}

/// A code location (of a service) in findings (either side) and anomalies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LocationHotspot {
    pub service: String,
    pub location: String,
    /// Distinct findings with an event at it.
    pub findings: u64,
    /// Duration anomalies whose slowest step is at it.
    pub anomalies: u64,
    /// `findings + anomalies`: the ranking key.
    pub total: u64,
}

/// The variables and locations involved in the most findings and anomalies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Hotspots {
    /// Most findings first; ties by (environment, variable).
    pub variables: Vec<VariableHotspot>,
    /// Most findings + anomalies first; ties by (service, location).
    pub locations: Vec<LocationHotspot>,
}

/// Per-service groups of each query, merged into one row per service, sorted by name: events
/// `(service, traces, events)`, findings and anomalies `(service, count)`.
pub(crate) fn merge_service_counts(
    events: Vec<(String, u64, u64)>,
    findings: Vec<(String, u64)>,
    anomalies: Vec<(String, u64)>,
) -> Vec<ServiceCounts> {
    let mut merged: BTreeMap<String, ServiceCounts> = BTreeMap::new();
    fn row(merged: &mut BTreeMap<String, ServiceCounts>, service: String) -> &mut ServiceCounts {
        merged
            .entry(service.clone())
            .or_insert_with(|| ServiceCounts {
                service,
                ..ServiceCounts::default()
            })
    }
    for (service, traces, events) in events {
        let counts = row(&mut merged, service);
        counts.trace_count = traces;
        counts.event_count = events;
    }
    for (service, count) in findings {
        row(&mut merged, service).race_count = count;
    }
    for (service, count) in anomalies {
        row(&mut merged, service).anomaly_count = count;
    }
    merged.into_values().collect()
}

/// Finding groups `(environment, variable, kind, count)` as ranked variables, the first `limit`.
pub(crate) fn rank_variables(
    groups: Vec<(String, String, String, u64)>,
    limit: u32,
) -> Vec<VariableHotspot> {
    let mut merged: BTreeMap<(String, String), VariableHotspot> = BTreeMap::new();
    for (environment, variable, kind, count) in groups {
        let hotspot = merged
            .entry((environment.clone(), variable.clone()))
            .or_insert_with(|| VariableHotspot {
                environment,
                variable,
                findings: 0,
                data_races: 0,
                lost_updates: 0,
                lock_order_inversions: 0,
            });
        hotspot.findings += count;
        match FindingKind::parse(&kind) {
            Some(FindingKind::DataRace) => hotspot.data_races += count,
            Some(FindingKind::LostUpdate) => hotspot.lost_updates += count,
            Some(FindingKind::LockOrderInversion) => hotspot.lock_order_inversions += count,
            None => {}
        }
    }
    let mut ranked: Vec<VariableHotspot> = merged.into_values().collect();
    // Stable: ties keep the map's (environment, variable) order.
    ranked.sort_by_key(|v| std::cmp::Reverse(v.findings));
    ranked.truncate(limit as usize);
    ranked
}

/// Finding groups and anomaly groups `(service, location, count)` as ranked locations, the
/// first `limit`.
pub(crate) fn rank_locations(
    findings: Vec<(String, String, u64)>,
    anomalies: Vec<(String, String, u64)>,
    limit: u32,
) -> Vec<LocationHotspot> {
    let mut merged: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    for (service, location, count) in findings {
        merged.entry((service, location)).or_default().0 += count;
    }
    for (service, location, count) in anomalies {
        merged.entry((service, location)).or_default().1 += count;
    }
    let mut ranked: Vec<LocationHotspot> = merged
        .into_iter()
        .map(
            |((service, location), (findings, anomalies))| LocationHotspot {
                service,
                location,
                findings,
                anomalies,
                total: findings + anomalies,
            },
        )
        .collect();
    // Stable: ties keep the map's (service, location) order.
    ranked.sort_by_key(|l| std::cmp::Reverse(l.total));
    ranked.truncate(limit as usize);
    ranked
}

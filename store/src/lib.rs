//! raceway-store: where events, accesses and findings are kept, split by role and by backend.
//!
//! Roles ([`roles`](crate::Lifecycle)): one trait per kind of data, so that a stage or route asks
//! only for what it uses: [`EventStore`], [`FindingStore`], [`AccessStore`], [`AnalysisStore`],
//! [`ServiceStore`], [`RetentionStore`], plus [`Lifecycle`] (migrate, ping). [`Store`] is all of
//! them at once, for the binary that opens the store and hands each component its roles (`Arc<dyn Store>` coerces
//! to `Arc<dyn FindingStore>` and the others).
//!
//! Backends, each in its own folder with one file per role, and passing the same conformance
//! suite ([`conformance`], built for tests and with the `conformance` feature):
//!
//! - `clickhouse/` [`ClickHouseStore`]: production, on ClickHouse 18.16 (tested here) or current
//!   ClickHouse.
//! - `sqlite/` [`SqliteStore`]: the embedded default of `raceway up` (rusqlite, bundled).
//!
//! Both build their `WHERE` clauses with one builder (`filter`): a set of environments, a
//! service, a [`TimeRange`] and a page, bound as parameters. Writing the conditions once keeps
//! the backends answering the same question; written per query they drift (a bound inclusive in
//! one and not the other), and the conformance suite only catches the cases it tries.
//!
//! Both follow DESIGN.md "Processing guarantees": every row has a deterministic id, writes are
//! idempotent (replaying an insert is harmless) and every count is computed at query time over
//! deduplicated rows. The schema is versioned SQL under `store/migrations/`, applied by
//! [`Lifecycle::migrate`] (see [`migrations`]).

use raceway_schemas::{Access, FindingKind, RaceFinding, Severity};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

mod analyses;
mod clickhouse;
mod error;
mod filter;
pub mod migrations;
mod retention;
mod roles;
mod rows;
mod services;
mod sqlite;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
#[cfg(test)]
mod conformance_tests;

pub use crate::analyses::{
    AnomalyGrade, AnomalyKind, AnomalyPage, AnomalyQuery, ClusterRow, DependencyStats,
    DurationAnomalyRow, ModelRecord, SequenceTransition, ServiceCallRow, TraceAnalysis,
    TraceAnalysisSummary, TraceScores,
};
pub use crate::clickhouse::ClickHouseStore;
pub use crate::error::StoreError;
pub use crate::retention::PruneReport;
pub use crate::roles::{
    AccessStore, AnalysisStore, EventStore, FindingStore, Lifecycle, RetentionStore, ServiceStore,
    Store,
};
pub use crate::services::{
    Hotspots, LocationHotspot, ServiceCounts, ServiceTraceRow, ServiceTracesQuery, ServiceWindow,
    VariableHotspot,
};
pub use crate::sqlite::SqliteStore;

/// A time window in ns since the epoch; each bound inclusive, and no bound when `None`.
///
/// What "within" means is the query's: a row's own time for accesses, anomalies and calls;
/// an overlap of spans for traces and findings (see [`TraceQuery`], [`FindingQuery`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    pub from_ns: Option<i64>,
    pub to_ns: Option<i64>,
}

impl TimeRange {
    /// All time: no bound.
    pub const ALL: TimeRange = TimeRange::new(None, None);

    /// From `from_ns` to `to_ns`, each bound when given.
    pub const fn new(from_ns: Option<i64>, to_ns: Option<i64>) -> TimeRange {
        TimeRange { from_ns, to_ns }
    }
}

/// Which accesses [`AccessStore::variable_accesses`] returns: those to `variable` (in
/// `environment` when given) within `time` (the access's own timestamp), the first `limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessQuery {
    pub environment: Option<String>,
    pub variable: String,
    pub time: TimeRange,
    pub limit: u32,
}

impl AccessQuery {
    /// The first `limit` accesses to `variable`, any environment, any time.
    pub fn variable(variable: &str, limit: u32) -> AccessQuery {
        AccessQuery {
            environment: None,
            variable: variable.to_string(),
            time: TimeRange::ALL,
            limit,
        }
    }
}

/// One stored access named by the whole of the accesses table's sort key: its variable,
/// environment, trace and event. [`AccessStore::recorded_values`] reads accesses by these keys,
/// so ClickHouse reads only the granules holding them; with the event id alone it would read
/// every row of the variables named (tens of thousands for a hot variable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub variable: String,
    pub environment: String,
    pub trace_id: Uuid,
    pub event_id: Uuid,
}

impl AccessKey {
    /// The key of `access`.
    pub fn of(access: &Access) -> AccessKey {
        AccessKey {
            variable: access.variable.to_string(),
            environment: access.environment.to_string(),
            trace_id: access.trace_id,
            event_id: access.event_id,
        }
    }
}

/// What a finding's side shows of the stored access it stands for: the values it recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedValues {
    pub event_id: Uuid,
    /// The value the access read or wrote, as the SDK recorded it (JSON text).
    pub value: String,
    /// A write's previous value, when recorded.
    pub old_value: Option<String>,
}

/// A variable and how many distinct accesses to it are stored (any environment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariableCount {
    pub name: String,
    pub access_count: u64,
}

/// Which traces [`EventStore::list_traces`] returns. Every filter that is `Some` must match.
///
/// Deserializes with defaults for missing fields (no filters, `limit` [`TraceQuery::DEFAULT_LIMIT`],
/// `offset` 0), so it can be read straight from a query string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TraceQuery {
    /// Only traces with at least one event of this service (exact `service_name`).
    pub service: Option<String>,
    /// Only traces whose last event is at or after this time (ns since epoch).
    pub from_ns: Option<i64>,
    /// Only traces whose first event is at or before this time (ns since epoch).
    /// With `from_ns`: the traces whose time span overlaps `[from_ns, to_ns]`.
    pub to_ns: Option<i64>,
    /// `Some(true)`: only traces with at least one finding; `Some(false)`: only traces without.
    pub has_races: Option<bool>,
    /// Only traces with at least one event in this environment (exact name).
    pub environment: Option<String>,
    /// Only traces with at least this many distinct events.
    pub min_events: Option<u64>,
    /// Only traces whose id starts with this text (lowercase hyphenated form; a whole id
    /// matches exactly that trace). The query API asks for at least 4 characters.
    pub trace_id: Option<String>,
    /// The order of the page.
    pub sort: TraceSort,
    /// Only traces whose every event is in one of these environments (a tenant's); empty:
    /// every trace.
    pub environments: Vec<String>,
    /// At most this many traces in the page (0 gives an empty page, with the total).
    pub limit: u32,
    /// Skip this many matching traces first.
    pub offset: u32,
}

impl TraceQuery {
    /// The time filter of the query.
    pub fn time(&self) -> crate::TimeRange {
        crate::TimeRange {
            from_ns: self.from_ns,
            to_ns: self.to_ns,
        }
    }

    /// The page size of [`TraceQuery::default`].
    pub const DEFAULT_LIMIT: u32 = 50;
}

impl Default for TraceQuery {
    fn default() -> Self {
        TraceQuery {
            service: None,
            from_ns: None,
            to_ns: None,
            has_races: None,
            environment: None,
            min_events: None,
            trace_id: None,
            sort: TraceSort::Time,
            environments: Vec::new(),
            limit: Self::DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

/// The order of [`EventStore::list_traces`]: largest first, ties by trace id (ascending).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceSort {
    /// Most recent first (by the first event's timestamp).
    #[default]
    Time,
    /// Longest first (from the first event to [`TraceSummary::end_ns`]).
    Duration,
    /// Most findings first.
    Races,
}

impl TraceSort {
    /// Every order.
    pub const ALL: [TraceSort; 3] = [TraceSort::Time, TraceSort::Duration, TraceSort::Races];

    /// The name used in the API: `time`, `duration`, `races`.
    pub fn as_str(self) -> &'static str {
        match self {
            TraceSort::Time => "time",
            TraceSort::Duration => "duration",
            TraceSort::Races => "races",
        }
    }

    /// The order named `name` ([`TraceSort::as_str`]).
    pub fn parse(name: &str) -> Option<TraceSort> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The `ORDER BY` key over the per-trace summary (`first_ts`, `end_ts`, `race_count`),
    /// descending; the caller appends the trace id tie-break.
    pub(crate) fn key(self) -> &'static str {
        match self {
            TraceSort::Time => "first_ts DESC",
            TraceSort::Duration => "end_ts - first_ts DESC",
            TraceSort::Races => "race_count DESC",
        }
    }
}

/// One trace, summarised at query time over its deduplicated events and findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceSummary {
    pub trace_id: Uuid,
    /// Distinct events of the trace.
    pub event_count: u64,
    /// Distinct `service_name`s of the trace's events, sorted.
    pub services: Vec<String>,
    pub first_timestamp_ns: i64,
    pub last_timestamp_ns: i64,
    /// Where the trace ends: its last event's timestamp, or the end its latest analysis found
    /// when that is later (the end of the longest step: measured durations count).
    pub end_ns: i64,
    /// Distinct findings (of any kind) whose first or second event belongs to the trace.
    pub race_count: u64,
    /// Duration anomalies of the trace's latest analysis (0 before it is analysed).
    pub anomaly_count: u64,
}

/// A page of [`EventStore::list_traces`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TracePage {
    /// In the query's [`TraceSort`] order; ties by trace id (ascending).
    pub traces: Vec<TraceSummary>,
    /// How many traces match the filters, regardless of `limit` and `offset`.
    pub total: u64,
}

/// A trace's events as [`EventStore::trace_events_with_json`] reads them: `events` in
/// [`EventStore::trace_events`]' order and, at the same index, the event's stored Raceway JSON
/// when the store holds it as text.
///
/// Where `json[i]` is `Some`, it is exactly the text `EventJson(&event)` writes for the whole
/// stored event (what decoding it and encoding it again gives), so it can be sent as it is, and
/// `events[i]` may hold only what the happens-before analysis reads (see
/// `raceway_schemas::json::decode_happens_before_fields`): no locations, arguments or bodies. Where it is `None`, `events[i]` is the whole event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventsWithJson {
    pub events: Vec<raceway_schemas::Event>,
    pub json: Vec<Option<String>>,
}

/// Which findings [`FindingStore::list_findings`] returns. Every filter that is `Some` must match the
/// newest version of a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FindingQuery {
    /// Only findings of this kind.
    pub kind: Option<FindingKind>,
    /// Only findings in this environment.
    pub environment: Option<String>,
    /// Only findings in one of these environments (a tenant's); empty: every environment.
    pub environments: Vec<String>,
    /// Only findings on this variable (exact name).
    pub variable: Option<String>,
    /// Only findings with this service on either side.
    pub service: Option<String>,
    /// Only findings of exactly this severity.
    pub severity: Option<Severity>,
    /// Only findings whose later event is at or after this time (ns since epoch).
    pub from_ns: Option<i64>,
    /// Only findings whose earlier event is at or before this time (ns since epoch). With
    /// `from_ns`: the findings whose two events span a time overlapping `[from_ns, to_ns]`.
    pub to_ns: Option<i64>,
    /// At most this many findings in the page (0 gives an empty page, with the total).
    pub limit: u32,
    /// Skip this many matching findings first.
    pub offset: u32,
}

impl FindingQuery {
    /// The findings on `variable` (in `environment` when given), with no other filter.
    pub fn for_variable(environment: Option<&str>, variable: &str) -> FindingQuery {
        FindingQuery {
            environment: environment.map(str::to_string),
            variable: Some(variable.to_string()),
            ..FindingQuery::default()
        }
    }

    /// The time filter of the query.
    pub fn time(&self) -> TimeRange {
        TimeRange::new(self.from_ns, self.to_ns)
    }

    /// The page size of [`FindingQuery::default`].
    pub const DEFAULT_LIMIT: u32 = 50;
}

impl Default for FindingQuery {
    fn default() -> Self {
        FindingQuery {
            kind: None,
            environment: None,
            environments: Vec::new(),
            variable: None,
            service: None,
            severity: None,
            from_ns: None,
            to_ns: None,
            limit: Self::DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

/// A page of [`FindingStore::list_findings`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingPage {
    /// Newest first: by the later of the two events' timestamps, descending; ties by id
    /// (ascending).
    pub findings: Vec<RaceFinding>,
    /// How many findings match the filters, regardless of `limit` and `offset`.
    pub total: u64,
}

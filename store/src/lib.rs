//! raceway-store: where events, accesses and findings are kept, behind one [`Store`] trait.
//!
//! Two implementations pass the same conformance suite ([`conformance`], built for tests and with
//! the `conformance` feature):
//!
//! - [`ClickHouseStore`]: production, on ClickHouse 18.16 (tested here) or current ClickHouse.
//! - [`SqliteStore`]: the embedded default of `raceway up` (rusqlite, bundled).
//!
//! Both follow DESIGN.md "Processing guarantees": every row has a deterministic id, writes are
//! idempotent (replaying an insert is harmless) and every count is computed at query time over
//! deduplicated rows. The schema is versioned SQL under `store/migrations/`, applied by
//! [`Store::migrate`] (see [`migrations`]).

use async_trait::async_trait;
use raceway_schemas::{Access, Event, FindingKind, RaceFinding, Severity};
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
mod sqlite;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
#[cfg(test)]
mod conformance_tests;

pub use crate::analyses::{
    AnomalyGrade, AnomalyPage, AnomalyQuery, ClusterRow, DependencyStats, DurationAnomalyRow,
    ModelRecord, ServiceCallRow, TraceAnalysis, TraceAnalysisSummary, TraceScores,
};
pub use crate::clickhouse::ClickHouseStore;
pub use crate::error::StoreError;
pub use crate::retention::PruneReport;
pub use crate::sqlite::SqliteStore;

/// The store every Raceway component codes against.
///
/// Implementations are cheap to share (`Arc<dyn Store>`), and safe to call concurrently.
#[async_trait]
pub trait Store: Send + Sync {
    /// Applies pending migrations (idempotent).
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Checks that the store answers.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Idempotent by event id: inserting the same event twice is harmless.
    async fn insert_events(&self, events: &[Event]) -> Result<(), StoreError>;
    /// The trace's events, deduplicated by id, ordered by (timestamp_ns, id).
    async fn trace_events(&self, trace_id: Uuid) -> Result<Vec<Event>, StoreError>;
    /// The events of several traces at once, deduplicated by id, ordered by (trace_id,
    /// timestamp_ns, id): one round trip where the backend allows, for the trace stage, which
    /// completes many traces per batch.
    async fn traces_events(&self, trace_ids: &[Uuid]) -> Result<Vec<Event>, StoreError> {
        let mut ids = trace_ids.to_vec();
        ids.sort();
        ids.dedup();
        let mut events = Vec::new();
        for trace_id in ids {
            events.extend(self.trace_events(trace_id).await?);
        }
        Ok(events)
    }
    /// One page of trace summaries matching `query`, newest first; see [`TraceQuery`].
    async fn list_traces(&self, query: &TraceQuery) -> Result<TracePage, StoreError>;
    /// Upsert by finding id; the row with the largest detected_at_ns wins. A finding with
    /// `count` 0 is retracted (a re-analysis no longer reports it): reads leave it out until a
    /// newer version with a positive count comes.
    async fn upsert_findings(&self, findings: &[RaceFinding]) -> Result<(), StoreError>;
    /// Findings whose first or second event belongs to the trace, deduplicated, ordered by
    /// (severity desc, variable, id).
    async fn trace_findings(&self, trace_id: Uuid) -> Result<Vec<RaceFinding>, StoreError>;
    /// One page of findings matching `query` (the newest version of each), newest first; see
    /// [`FindingQuery`] and [`FindingPage`].
    async fn list_findings(&self, query: &FindingQuery) -> Result<FindingPage, StoreError>;
    /// The newest version of every finding on `variable` (in `environment` when given), ordered
    /// like [`Store::trace_findings`]. Lock-order inversions have no variable and never match.
    async fn findings_for_variable(
        &self,
        environment: Option<&str>,
        variable: &str,
    ) -> Result<Vec<RaceFinding>, StoreError>;
    /// Stores the accesses of a completed trace, every field of [`Access`]. Idempotent by event
    /// id: an access written again replaces the earlier row, so a trace re-analysed after a
    /// late event keeps only its latest clocks and lock sets.
    async fn insert_accesses(&self, accesses: &[Access]) -> Result<(), StoreError>;
    /// The accesses to `variable` (in `environment` when given) with `from_ns <= timestamp_ns <=
    /// to_ns` (each bound when given), across traces, deduplicated by event id, ordered by
    /// (timestamp_ns, event id); the first `limit` of them.
    async fn variable_accesses(
        &self,
        environment: Option<&str>,
        variable: &str,
        from_ns: Option<i64>,
        to_ns: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Access>, StoreError>;
    /// The trace's accesses to `variable` (any environment), deduplicated by event id, ordered
    /// by (timestamp_ns, event id).
    async fn trace_variable_accesses(
        &self,
        trace_id: Uuid,
        variable: &str,
    ) -> Result<Vec<Access>, StoreError>;
    /// Replaces the trace's stored analysis (summary, service calls, duration anomalies) with
    /// `analysis`, as one unit: readers see the previous analysis or this one, never a mix.
    /// Writing the same analysis again changes nothing a reader can see.
    async fn replace_trace_analysis(&self, analysis: &TraceAnalysis) -> Result<(), StoreError> {
        self.replace_trace_analyses(std::slice::from_ref(analysis))
            .await
    }
    /// [`Store::replace_trace_analysis`] for several traces (each replaced as one unit), in as
    /// few writes as the backend allows.
    async fn replace_trace_analyses(&self, analyses: &[TraceAnalysis]) -> Result<(), StoreError>;
    /// The summary of the trace's latest analysis, if it was analysed.
    async fn trace_analysis(
        &self,
        trace_id: Uuid,
    ) -> Result<Option<TraceAnalysisSummary>, StoreError>;
    /// The duration anomalies of the trace's latest analysis, ordered by (deviations desc, id).
    async fn trace_anomalies(&self, trace_id: Uuid) -> Result<Vec<DurationAnomalyRow>, StoreError>;
    /// One page of the anomalies of every trace's latest analysis matching `query`; see
    /// [`AnomalyQuery`] and [`AnomalyPage`].
    async fn list_anomalies(&self, query: &AnomalyQuery) -> Result<AnomalyPage, StoreError>;
    /// Service edges (caller, callee, kind) over the calls of every trace's latest analysis
    /// with `from_ns <= timestamp_ns <= to_ns` (each bound when given): distinct calls, errors,
    /// nearest-rank latency percentiles, computed in the query over deduplicated rows. Ordered
    /// by (caller, callee, kind).
    async fn dependencies(
        &self,
        from_ns: Option<i64>,
        to_ns: Option<i64>,
    ) -> Result<Vec<DependencyStats>, StoreError>;
    /// The features (JSON text) of the `limit` most recently ended analysed traces, newest
    /// first: what the trace models are retrained on.
    async fn recent_trace_features(&self, limit: u32) -> Result<Vec<(Uuid, String)>, StoreError>;
    /// Saves the checkpoint `name` (JSON text); the latest save wins.
    async fn save_checkpoint(&self, name: &str, payload: &str) -> Result<(), StoreError>;
    /// The latest checkpoint `name`, if any was saved.
    async fn load_checkpoint(&self, name: &str) -> Result<Option<String>, StoreError>;
    /// Saves one version of the trace models (idempotent by version).
    async fn save_model(&self, model: &ModelRecord) -> Result<(), StoreError>;
    /// The trace models of the largest version, if any was saved.
    async fn latest_model(&self) -> Result<Option<ModelRecord>, StoreError>;
    /// Drops what is older than `cutoff_ns` (events, findings, accesses, analyses; not
    /// checkpoints or models); see the `retention` module for what "older" means per backend.
    async fn prune_older_than(&self, cutoff_ns: i64) -> Result<PruneReport, StoreError>;
}

/// Which traces [`Store::list_traces`] returns. Every filter that is `Some` must match.
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
    /// At most this many traces in the page (0 gives an empty page, with the total).
    pub limit: u32,
    /// Skip this many matching traces first.
    pub offset: u32,
}

impl TraceQuery {
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
            limit: Self::DEFAULT_LIMIT,
            offset: 0,
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
    /// Distinct findings (of any kind) whose first or second event belongs to the trace.
    pub race_count: u64,
}

/// A page of [`Store::list_traces`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TracePage {
    /// Newest `first_timestamp_ns` first; ties by trace id (ascending).
    pub traces: Vec<TraceSummary>,
    /// How many traces match the filters, regardless of `limit` and `offset`.
    pub total: u64,
}

/// Which findings [`Store::list_findings`] returns. Every filter that is `Some` must match the
/// newest version of a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FindingQuery {
    /// Only findings of this kind.
    pub kind: Option<FindingKind>,
    /// Only findings in this environment.
    pub environment: Option<String>,
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
    /// The page size of [`FindingQuery::default`].
    pub const DEFAULT_LIMIT: u32 = 50;
}

impl Default for FindingQuery {
    fn default() -> Self {
        FindingQuery {
            kind: None,
            environment: None,
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

/// A page of [`Store::list_findings`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingPage {
    /// Newest first: by the later of the two events' timestamps, descending; ties by id
    /// (ascending).
    pub findings: Vec<RaceFinding>,
    /// How many findings match the filters, regardless of `limit` and `offset`.
    pub total: u64,
}

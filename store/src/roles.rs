//! The store's roles: one trait per kind of data, so that a stage or route asks only for what it
//! uses.
//!
//! The trace stage needs [`EventStore`], [`AccessStore`] and [`AnalysisStore`]; the race stage
//! [`AccessStore`] and [`FindingStore`]; each query route the roles of the data it shows.
//! [`Store`] bundles every role (with a blanket impl) for what wires the whole system (the binary:
//! opening, migrating, pruning). A component that names [`Store`] where one role would do is
//! coupled to every table; a new backend, or a role moved to another service, then has to be
//! wired into code that never reads that data.

use std::collections::HashMap;

use async_trait::async_trait;
use raceway_schemas::{Access, Event, RaceFinding};
use uuid::Uuid;

use crate::{
    AccessKey, AccessQuery, AnomalyPage, AnomalyQuery, DependencyStats, DurationAnomalyRow,
    EventsWithJson, FindingPage, FindingQuery, Hotspots, ModelRecord, PruneReport, RecordedValues,
    ServiceCounts, ServiceTraceRow, ServiceTracesQuery, ServiceWindow, StoreError, TimeRange,
    TraceAnalysis, TraceAnalysisSummary, TracePage, TraceQuery, VariableCount,
};

/// The schema and the connection: what the binary checks before it starts the stages.
#[async_trait]
pub trait Lifecycle: Send + Sync {
    /// Applies pending migrations (idempotent).
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Checks that the store answers.
    async fn ping(&self) -> Result<(), StoreError>;
    /// A token of everything stored: when two tokens are equal, nothing was written, pruned or
    /// rewritten between the moments they were taken, so a read made after the first answers
    /// what the same read would answer after the second. `None` when the store has no such
    /// token cheaper than a read (the default): every read must then read.
    async fn data_version(&self) -> Result<Option<String>, StoreError> {
        Ok(None)
    }
}

/// Events, as the collectors sent them, and the per-trace summaries computed over them.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Idempotent by event id: inserting the same event twice is harmless.
    async fn insert_events(&self, events: &[Event]) -> Result<(), StoreError>;
    /// The trace's events, deduplicated by id, ordered by (timestamp_ns, id).
    async fn trace_events(&self, trace_id: Uuid) -> Result<Vec<Event>, StoreError>;
    /// The trace's events as [`EventStore::trace_events`] reads them, each beside its stored
    /// Raceway JSON where the store holds that text (see [`EventsWithJson`] for what each side
    /// then holds): for a reader that sends the stored text on and decodes only what it orders
    /// the events by. The default reads whole events and no text.
    async fn trace_events_with_json(&self, trace_id: Uuid) -> Result<EventsWithJson, StoreError> {
        let events = self.trace_events(trace_id).await?;
        Ok(EventsWithJson {
            json: vec![None; events.len()],
            events,
        })
    }
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
    /// How many distinct events each of `trace_ids` has stored; a trace with none is left out.
    /// One round trip, reading no payload: the trace stage compares it with the events it holds
    /// in memory to learn whether it holds all of a trace (it may not after a restart, a
    /// rebalance or a late event), without reading the trace back.
    async fn traces_event_counts(
        &self,
        trace_ids: &[Uuid],
    ) -> Result<HashMap<Uuid, u64>, StoreError>;
    /// One page of trace summaries matching `query`, newest first; see [`TraceQuery`].
    async fn list_traces(&self, query: &TraceQuery) -> Result<TracePage, StoreError>;
}

/// Findings (data races, lost updates, lock-order inversions), one newest version per id.
#[async_trait]
pub trait FindingStore: Send + Sync {
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
    /// like [`FindingStore::trace_findings`]. Lock-order inversions have no variable and never
    /// match.
    async fn findings_for_variable(
        &self,
        environment: Option<&str>,
        variable: &str,
    ) -> Result<Vec<RaceFinding>, StoreError> {
        let query = FindingQuery {
            limit: u32::MAX,
            ..FindingQuery::for_variable(environment, variable)
        };
        let mut findings = self.list_findings(&query).await?.findings;
        crate::rows::sort_findings(&mut findings);
        Ok(findings)
    }
}

/// The accesses of completed traces, with their clocks and lock sets: what the race stage
/// compares across traces and the audit trail shows.
#[async_trait]
pub trait AccessStore: Send + Sync {
    /// Stores the accesses of a completed trace, every field of [`Access`]. Idempotent by event
    /// id: an access written again replaces the earlier row, so a trace re-analysed after a
    /// late event keeps only its latest clocks and lock sets.
    async fn insert_accesses(&self, accesses: &[Access]) -> Result<(), StoreError>;
    /// The accesses matching `query` (see [`AccessQuery`]), across traces, deduplicated by event
    /// id, ordered by (timestamp_ns, event id); the first `query.limit` of them.
    async fn variable_accesses(&self, query: &AccessQuery) -> Result<Vec<Access>, StoreError>;
    /// The recorded values of the newest stored access of each of `keys`, in no set order; a
    /// key without a stored access is left out (an access is found by its event id: the rest of
    /// the key only narrows what is read). Only the values are read, not the whole access: on
    /// ClickHouse the other columns (clocks, lock sets, names) were most of what a race page
    /// decompressed.
    async fn recorded_values(&self, keys: &[AccessKey]) -> Result<Vec<RecordedValues>, StoreError>;
    /// The accessed variables whose names start with `prefix`, accessed in one of
    /// `environments` (any environment when empty), sorted by name, the first `limit` of them,
    /// each with its count of distinct accesses there.
    async fn variables(
        &self,
        prefix: &str,
        environments: &[String],
        limit: u32,
    ) -> Result<Vec<VariableCount>, StoreError>;
    /// The trace's accesses to `variable` (any environment), deduplicated by event id, ordered
    /// by (timestamp_ns, event id).
    async fn trace_variable_accesses(
        &self,
        trace_id: Uuid,
        variable: &str,
    ) -> Result<Vec<Access>, StoreError>;
}

/// Trace analyses (summaries, service calls, duration anomalies) and what the trace models
/// need to resume: their training features, checkpoints and saved versions.
#[async_trait]
pub trait AnalysisStore: Send + Sync {
    /// Replaces the trace's stored analysis (summary, service calls, duration anomalies) with
    /// `analysis`, as one unit: readers see the previous analysis or this one, never a mix.
    /// Writing the same analysis again changes nothing a reader can see.
    async fn replace_trace_analysis(&self, analysis: &TraceAnalysis) -> Result<(), StoreError> {
        self.replace_trace_analyses(std::slice::from_ref(analysis))
            .await
    }
    /// [`AnalysisStore::replace_trace_analysis`] for several traces (each replaced as one unit),
    /// in as few writes as the backend allows.
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
    /// within `time`: distinct calls, errors, nearest-rank latency percentiles, computed in the
    /// query over deduplicated rows. Ordered by (caller, callee, kind).
    async fn dependencies(
        &self,
        time: TimeRange,
        environments: &[String],
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
}

/// Services over a window: their activity, the per-trace rows their health is computed from,
/// and the variables and locations in the most findings and anomalies.
///
/// Every read is confined to the window's environments (every environment when none): events and
/// findings by their own environment, anomalies through their trace (all of its events in the
/// set), as the other roles do.
#[async_trait]
pub trait ServiceStore: Send + Sync {
    /// One row per service with an event in the window, or a finding or anomaly counted there
    /// (see [`ServiceCounts`]), sorted by service name.
    async fn service_counts(
        &self,
        window: &ServiceWindow,
    ) -> Result<Vec<ServiceCounts>, StoreError>;
    /// One row per trace with an event of the query's service in its window, over those events
    /// only: newest first (by the service's first event in the window, ties by trace id), the
    /// first `limit`.
    async fn service_traces(
        &self,
        query: &ServiceTracesQuery,
    ) -> Result<Vec<ServiceTraceRow>, StoreError>;
    /// The `limit` variables and the `limit` locations involved in the most findings (whose
    /// events span a time overlapping the window) and anomalies of either kind (of traces started in
    /// it); see [`Hotspots`].
    async fn hotspots(&self, window: &ServiceWindow, limit: u32) -> Result<Hotspots, StoreError>;
}

/// Dropping old history (`raceway prune --older-than`).
#[async_trait]
pub trait RetentionStore: Send + Sync {
    /// Drops what is older than `cutoff_ns` (events, findings, accesses, analyses; not
    /// checkpoints or models); see the `retention` module for what "older" means per backend.
    async fn prune_older_than(&self, cutoff_ns: i64) -> Result<PruneReport, StoreError>;
}

/// Every role: what the binary opens and hands out (`Arc<dyn Store>` coerces to
/// `Arc<dyn EventStore>` and the other roles). Implemented for every type that has all roles.
pub trait Store:
    Lifecycle + EventStore + FindingStore + AccessStore + AnalysisStore + ServiceStore + RetentionStore
{
}

impl<T> Store for T where
    T: Lifecycle
        + EventStore
        + FindingStore
        + AccessStore
        + AnalysisStore
        + ServiceStore
        + RetentionStore
{
}

//! The conformance suite: what every [`Store`] implementation must do, as async checks.
//!
//! Each check takes a freshly migrated, empty store and panics on a violation. This crate runs
//! every check against [`crate::SqliteStore`] and [`crate::ClickHouseStore`] (see
//! `conformance_tests.rs`); another implementation enables the `conformance` feature and runs
//! [`CHECKS`] the same way.

use std::future::Future;
use std::pin::Pin;

use raceway_schemas::{
    Access, AccessType, ActorId, CompactClock, Custom, Event, EventKind, FindingEvent, FindingKind,
    FunctionCall, HeldLock, HttpRequest, LockEvent, LockMode, Metadata, RaceFinding, Severity,
    StateChange,
};
use uuid::Uuid;

use crate::{
    AccessKey, AccessQuery, FindingPage, FindingQuery, RecordedValues, Store, TimeRange, TracePage,
    TraceQuery, VariableCount,
};

mod accesses;
mod analyses;
mod data_version;
mod events;
mod finding_list;
mod findings;
mod retention;
mod services;
mod trace_list;
mod traces;
mod variables;

pub use accesses::*;
pub use analyses::*;
pub use data_version::*;
pub use events::*;
pub use finding_list::*;
pub use findings::*;
pub use retention::*;
pub use services::*;
pub use trace_list::*;
pub use traces::*;
pub use variables::*;

/// A check of the suite.
pub type Check = for<'a> fn(&'a dyn Store) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Calls the macro `$then!` with the name of every check, in order: the one list that [`CHECKS`]
/// and this crate's per-backend tests are made from, so a new check is never left untested.
macro_rules! with_check_names {
    ($then:ident) => {
        $then! {
            migrate_is_idempotent,
            insert_events_is_idempotent,
            event_counts_are_distinct_ids_across_writes,
            trace_events_are_ordered,
            events_round_trip,
            trace_events_with_json_match_trace_events,
            traces_events_reads_several_traces,
            list_traces_summarises,
            list_traces_filters,
            list_traces_paginates,
            list_traces_confined_to_environments,
            list_traces_narrows_sorts_and_counts_anomalies,
            list_traces_serves_the_largest_page,
            list_traces_breaks_ties_by_id,
            list_traces_follows_late_events,
            list_traces_count_the_newest_version_of_findings,
            race_count_counts_distinct_findings,
            upsert_findings_newest_wins,
            trace_findings_cross_trace,
            replay_changes_nothing,
            empty_inputs_are_noops,
            large_batch,
            prune_drops_old_days_and_keeps_recent,
            retracted_findings_are_hidden,
            list_findings_filters,
            list_findings_paginates_newest_first,
            list_findings_see_only_the_newest_version,
            findings_for_variable_newest_versions,
            accesses_round_trip,
            insert_accesses_is_idempotent_latest_wins,
            variable_accesses_filter_and_order,
            trace_variable_accesses_by_trace,
            recorded_values_by_key,
            variables_by_prefix,
            trace_analysis_round_trip,
            replace_trace_analysis_replaces_previous,
            replace_trace_analyses_writes_each_trace,
            dependencies_count_once_with_percentiles,
            list_anomalies_filters_and_paginates,
            recent_trace_features_newest_first,
            checkpoints_and_models_latest_wins,
            service_counts_per_window_and_environment,
            service_traces_one_row_per_trace,
            hotspots_rank_variables_and_locations,
            data_version_changes_with_every_write,
        }
    };
}
#[cfg(test)]
pub(crate) use with_check_names;

/// Each named check as a `(name, Check)` entry of [`CHECKS`].
macro_rules! checks {
    ($($check:ident),* $(,)?) => {
        &[$((stringify!($check), |s| Box::pin($check(s)))),*]
    };
}

/// Every check, by name.
pub const CHECKS: &[(&str, Check)] = with_check_names!(checks);

/// 2023-11-14T22:13:20Z, in ns.
pub const BASE_NS: i64 = 1_700_000_000_000_000_000;
const SECOND: i64 = 1_000_000_000;

/// A StateChange event of `trace` at `BASE_NS + offset_ns` by `service`.
pub fn event(trace: Uuid, offset_ns: i64, service: &str) -> Event {
    Event {
        id: Uuid::new_v4(),
        trace_id: trace,
        parent_id: None,
        timestamp_ns: BASE_NS + offset_ns,
        kind: EventKind::StateChange(StateChange {
            variable: "account:alice.balance".into(),
            old_value: Some("100".into()),
            new_value: "50".into(),
            location: "bank.rs:42".into(),
            access_type: AccessType::Write,
        }),
        metadata: Metadata {
            thread_id: "thread-1".into(),
            process_id: 7,
            service_name: service.into(),
            environment: "test".into(),
            ..Metadata::default()
        },
        causality_vector: vec![(format!("{service}/thread-1"), 1)],
        lock_set: Vec::new(),
    }
}

fn side(trace: &str, event_id: &str, ts: i64) -> FindingEvent {
    FindingEvent {
        event_id: event_id.into(),
        trace_id: trace.into(),
        thread_id: "thread-1".into(),
        service: "bank".into(),
        instance: "i-1".into(),
        location: "bank.rs:42".into(),
        access_type: "Write".into(),
        timestamp_ns: ts,
        clock: vec![("bank/thread-1".into(), 3), ("bank/thread-2".into(), 1)],
        old_value: None,
        new_value: None,
    }
}

/// `finding` retracted (no occurrence left), as a version detected at `detected_at_ns`.
pub fn retracted(finding: &RaceFinding, detected_at_ns: i64) -> RaceFinding {
    RaceFinding {
        count: 0,
        detected_at_ns,
        ..finding.clone()
    }
}

/// A finding `id` between an event of trace `a` and one of trace `b`.
pub fn finding(id: &str, a: Uuid, b: Uuid, variable: &str, detected_at_ns: i64) -> RaceFinding {
    RaceFinding {
        id: id.into(),
        kind: FindingKind::DataRace,
        environment: "test".into(),
        variable: variable.into(),
        severity: Severity::Critical,
        count: 1,
        explanation: format!("two unordered writes to {variable}"),
        first: side(&a.to_string(), &format!("{id}-1"), BASE_NS),
        second: side(&b.to_string(), &format!("{id}-2"), BASE_NS + 5),
        detected_at_ns,
    }
}

/// A write of `variable` in `trace` at `BASE_NS + offset_ns` by `service` (environment `test`),
/// holding one exclusive lock, with a two-component clock.
pub fn access(trace: Uuid, variable: &str, offset_ns: i64, service: &str) -> Access {
    Access {
        event_id: Uuid::new_v4(),
        trace_id: trace,
        timestamp_ns: BASE_NS + offset_ns,
        environment: "test".into(),
        variable: variable.into(),
        access_type: AccessType::Write,
        location: "bank.rs:42".into(),
        value: "50".into(),
        old_value: Some("100".into()),
        actor: ActorId {
            service: service.into(),
            instance: "i-1".into(),
            thread: "thread-1".into(),
        }
        .into(),
        clock: CompactClock::from_pairs([
            (format!("{trace}/{service}/thread-1"), 2),
            (format!("{trace}/{service}/thread-2"), 1),
        ]),
        trusted_clock: false,
        locks: vec![HeldLock {
            lock_id: "accounts".into(),
            mode: LockMode::Exclusive,
        }]
        .into(),
        trace_start_ns: BASE_NS,
        trace_end_ns: BASE_NS + offset_ns + 1,
    }
}

/// Accesses in the order the store returns them: (timestamp, event id).
pub fn sorted_accesses(mut accesses: Vec<Access>) -> Vec<Access> {
    accesses.sort_by_key(|a| (a.timestamp_ns, a.event_id));
    accesses
}

fn sorted(mut events: Vec<Event>) -> Vec<Event> {
    events.sort_by_key(|e| (e.timestamp_ns, e.id));
    events
}

async fn page(store: &dyn Store, query: TraceQuery) -> TracePage {
    store.list_traces(&query).await.expect("list_traces")
}

/// The `race_count` of `trace` in `page`, if the page lists it.
fn race_count(page: &TracePage, trace: Uuid) -> Option<u64> {
    page.traces
        .iter()
        .find(|s| s.trace_id == trace)
        .map(|s| s.race_count)
}

fn ids(page: &TracePage) -> Vec<Uuid> {
    page.traces.iter().map(|t| t.trace_id).collect()
}

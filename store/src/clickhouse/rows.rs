//! Row types of the ClickHouse tables (RowBinary, so field order = column order) and their
//! conversions. Keep in sync with `migrations/clickhouse/*.sql`.

use ::clickhouse::Row;
use raceway_schemas::json::EventJson;
use raceway_schemas::{Event, FindingEvent, RaceFinding};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::rows::{finding_version, normalize_trace_id, parse_kind_severity, severity_rank};
use crate::StoreError;

/// A row of `events`, its text borrowed from the event it is written from (no copy per column).
#[derive(Debug, Row, Serialize)]
pub(crate) struct EventRow<'a> {
    #[serde(with = "::clickhouse::serde::uuid")]
    pub id: Uuid,
    #[serde(with = "::clickhouse::serde::uuid")]
    pub trace_id: Uuid,
    #[serde(with = "::clickhouse::serde::uuid::option")]
    pub parent_id: Option<Uuid>,
    pub timestamp_ns: i64,
    pub kind: &'a str,
    pub service: &'a str,
    pub instance_id: &'a str,
    pub thread_id: &'a str,
    pub environment: &'a str,
    pub variable: &'a str,
    pub access_type: &'a str,
    pub payload: String,
}

impl<'a> EventRow<'a> {
    /// The row of `event`: its indexed columns (a StateChange's variable and access type, empty
    /// for every other kind) and its Raceway-JSON payload.
    pub fn new(event: &'a Event) -> EventRow<'a> {
        let change = event.state_change();
        EventRow {
            id: event.id,
            trace_id: event.trace_id,
            parent_id: event.parent_id,
            timestamp_ns: event.timestamp_ns,
            kind: event.kind.name(),
            service: &event.metadata.service_name,
            instance_id: event.metadata.instance_id.as_deref().unwrap_or_default(),
            thread_id: &event.metadata.thread_id,
            environment: &event.metadata.environment,
            variable: change.map(|c| c.variable.as_str()).unwrap_or_default(),
            access_type: change.map(|c| c.access_type.as_str()).unwrap_or_default(),
            payload: EventJson(event).to_json(),
        }
    }
}

/// The id and payload of an event, as read back.
#[derive(Debug, Row, Deserialize)]
pub(crate) struct PayloadRow {
    pub id: String,
    pub payload: String,
}

/// A trace and how many distinct events it has stored.
#[derive(Debug, Row, Deserialize)]
pub(crate) struct EventCountRow {
    pub trace_key: String,
    pub events: u64,
}

/// One trace's kept summary (merged `trace_summaries` states) without its event count.
#[derive(Debug, Row, Deserialize)]
pub(crate) struct KeptRow {
    pub trace_key: String,
    pub services: Vec<String>,
    pub first_ts: i64,
    pub last_ts: i64,
}

/// A trace and a count of something of it (findings, anomalies).
#[derive(Debug, Row, Deserialize)]
pub(crate) struct KeyedCount {
    pub trace_key: String,
    pub count: u64,
}

/// A trace and a time of it, ns (the end of its latest analysis).
#[derive(Debug, Row, Deserialize)]
pub(crate) struct KeyedTime {
    pub trace_key: String,
    pub time: i64,
}

/// One trace summary as computed by the list query.
#[derive(Debug, Row, Deserialize)]
pub(crate) struct SummaryRow {
    pub trace_key: String,
    pub event_count: u64,
    pub services: Vec<String>,
    pub first_ts: i64,
    pub last_ts: i64,
    pub end_ts: i64,
    pub race_count: u64,
    pub anomaly_count: u64,
}

/// A row of `findings` (one version of a finding).
#[derive(Debug, Row, Serialize, Deserialize)]
pub(crate) struct FindingRow {
    pub id: String,
    pub kind: String,
    pub environment: String,
    pub variable: String,
    pub severity: String,
    pub severity_rank: u8,
    pub occurrences: u64,
    pub explanation: String,
    pub first_event_id: String,
    pub first_trace_id: String,
    pub first_thread_id: String,
    pub first_service: String,
    pub first_instance: String,
    pub first_location: String,
    pub first_access_type: String,
    pub first_timestamp_ns: i64,
    pub first_clock_components: Vec<String>,
    pub first_clock_counters: Vec<u64>,
    pub second_event_id: String,
    pub second_trace_id: String,
    pub second_thread_id: String,
    pub second_service: String,
    pub second_instance: String,
    pub second_location: String,
    pub second_access_type: String,
    pub second_timestamp_ns: i64,
    pub second_clock_components: Vec<String>,
    pub second_clock_counters: Vec<u64>,
    pub detected_at_ns: i64,
    pub version: u64,
}

/// The column list of [`FindingRow`], in order.
pub(crate) const FINDING_COLUMNS: &str = "id, kind, environment, variable, severity, \
    severity_rank, occurrences, explanation, \
    first_event_id, first_trace_id, first_thread_id, first_service, first_instance, \
    first_location, first_access_type, first_timestamp_ns, first_clock_components, \
    first_clock_counters, \
    second_event_id, second_trace_id, second_thread_id, second_service, second_instance, \
    second_location, second_access_type, second_timestamp_ns, second_clock_components, \
    second_clock_counters, detected_at_ns, version";

fn split_clock(clock: &[(String, u64)]) -> (Vec<String>, Vec<u64>) {
    clock.iter().cloned().unzip()
}

impl From<&RaceFinding> for FindingRow {
    fn from(f: &RaceFinding) -> Self {
        let (first_clock_components, first_clock_counters) = split_clock(&f.first.clock);
        let (second_clock_components, second_clock_counters) = split_clock(&f.second.clock);
        FindingRow {
            id: f.id.clone(),
            kind: f.kind.as_str().to_string(),
            environment: f.environment.clone(),
            variable: f.variable.clone(),
            severity: f.severity.as_str().to_string(),
            severity_rank: severity_rank(f.severity),
            occurrences: f.count,
            explanation: f.explanation.clone(),
            first_event_id: f.first.event_id.clone(),
            first_trace_id: normalize_trace_id(&f.first.trace_id),
            first_thread_id: f.first.thread_id.clone(),
            first_service: f.first.service.clone(),
            first_instance: f.first.instance.clone(),
            first_location: f.first.location.clone(),
            first_access_type: f.first.access_type.clone(),
            first_timestamp_ns: f.first.timestamp_ns,
            first_clock_components,
            first_clock_counters,
            second_event_id: f.second.event_id.clone(),
            second_trace_id: normalize_trace_id(&f.second.trace_id),
            second_thread_id: f.second.thread_id.clone(),
            second_service: f.second.service.clone(),
            second_instance: f.second.instance.clone(),
            second_location: f.second.location.clone(),
            second_access_type: f.second.access_type.clone(),
            second_timestamp_ns: f.second.timestamp_ns,
            second_clock_components,
            second_clock_counters,
            detected_at_ns: f.detected_at_ns,
            version: finding_version(f),
        }
    }
}

fn join_clock(
    id: &str,
    components: Vec<String>,
    counters: Vec<u64>,
) -> Result<Vec<(String, u64)>, StoreError> {
    if components.len() != counters.len() {
        return Err(StoreError::Corrupt {
            what: "finding",
            id: id.to_string(),
            message: format!(
                "clock has {} components but {} counters",
                components.len(),
                counters.len()
            ),
        });
    }
    Ok(components.into_iter().zip(counters).collect())
}

impl FindingRow {
    /// Back to the shared type.
    pub fn into_finding(self) -> Result<RaceFinding, StoreError> {
        let (kind, severity) = parse_kind_severity(&self.id, &self.kind, &self.severity)?;
        let first_clock = join_clock(
            &self.id,
            self.first_clock_components,
            self.first_clock_counters,
        )?;
        let second_clock = join_clock(
            &self.id,
            self.second_clock_components,
            self.second_clock_counters,
        )?;
        Ok(RaceFinding {
            id: self.id,
            kind,
            environment: self.environment,
            variable: self.variable,
            severity,
            count: self.occurrences,
            explanation: self.explanation,
            first: FindingEvent {
                event_id: self.first_event_id,
                trace_id: self.first_trace_id,
                thread_id: self.first_thread_id,
                service: self.first_service,
                instance: self.first_instance,
                location: self.first_location,
                access_type: self.first_access_type,
                timestamp_ns: self.first_timestamp_ns,
                clock: first_clock,
                old_value: None,
                new_value: None,
            },
            second: FindingEvent {
                event_id: self.second_event_id,
                trace_id: self.second_trace_id,
                thread_id: self.second_thread_id,
                service: self.second_service,
                instance: self.second_instance,
                location: self.second_location,
                access_type: self.second_access_type,
                timestamp_ns: self.second_timestamp_ns,
                clock: second_clock,
                old_value: None,
                new_value: None,
            },
            detected_at_ns: self.detected_at_ns,
        })
    }
}

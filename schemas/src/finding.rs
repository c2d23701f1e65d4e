//! Findings: what the analyses report, as stored and served. Plain data shared by the analysis,
//! store and query crates, so none of them imports another's internals.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Access;

/// What kind of concurrency bug a finding reports.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    DataRace,
    LostUpdate,
    LockOrderInversion,
}

impl FindingKind {
    /// The name used in the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::DataRace => "data_race",
            FindingKind::LostUpdate => "lost_update",
            FindingKind::LockOrderInversion => "lock_order_inversion",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<FindingKind> {
        [
            FindingKind::DataRace,
            FindingKind::LostUpdate,
            FindingKind::LockOrderInversion,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }
}

/// How bad a finding is: write-write races are critical, read-write ones a warning.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Critical,
}

impl Severity {
    /// The name used in the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Severity> {
        [Severity::Warning, Severity::Critical]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// One side of a finding: the access (or lock acquisition) involved.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingEvent {
    pub event_id: String,
    pub trace_id: String,
    pub thread_id: String,
    pub service: String,
    pub instance: String,
    pub location: String,
    pub access_type: String,
    pub timestamp_ns: i64,
    /// The event's final vector clock as (component, counter) pairs.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::clock_pairs))]
    pub clock: Vec<(String, u64)>,
    /// The value before the access (a write's previous value) as recorded, JSON when it parses;
    /// null when it was not recorded, and for a lock acquisition. The store does not keep it with
    /// the finding: it is read from the stored access (see [`FindingEvent::with_values_of`]).
    #[serde(default)]
    pub old_value: Option<Value>,
    /// The value the access read or wrote, as [`FindingEvent::old_value`]; null when unknown.
    #[serde(default)]
    pub new_value: Option<Value>,
}

impl FindingEvent {
    /// This side with the recorded values of `access`, the access it stands for.
    pub fn with_values_of(self, access: &Access) -> FindingEvent {
        self.with_values(&access.value, access.old_value.as_deref())
    }

    /// This side with the recorded `value` and `old_value` of the access it stands for.
    pub fn with_values(mut self, value: &str, old_value: Option<&str>) -> FindingEvent {
        self.old_value = old_value.map(recorded_value);
        self.new_value = Some(recorded_value(value));
        self
    }
}

/// A recorded value (JSON text from the SDK) as JSON: text that parses becomes that value,
/// anything else stays a string.
pub fn recorded_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// A deduplicated finding: one per (kind, variable, location pair, trace pair), with the number of
/// distinct event pairs seen and one representative pair.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaceFinding {
    /// Deterministic: the same bug found twice has the same id.
    pub id: String,
    pub kind: FindingKind,
    pub environment: String,
    pub variable: String,
    pub severity: Severity,
    pub count: u64,
    pub explanation: String,
    pub first: FindingEvent,
    pub second: FindingEvent,
    /// When this version of the finding was produced (ns since epoch); the newest row wins.
    pub detected_at_ns: i64,
}

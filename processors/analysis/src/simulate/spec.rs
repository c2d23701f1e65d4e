//! What a simulation asks for: delays, failures and SLA budgets, as the API receives them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The changes to simulate. Every field is optional.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimulationSpec {
    /// Steps that take longer.
    pub delays: Vec<Delay>,
    /// Calls that fail.
    pub failures: Vec<Failure>,
    /// Budgets of the services' requests, in ms.
    pub sla_ms: Option<SlaSpec>,
}

/// A delay: every call into a service, or one event, takes `ms` longer.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Delay {
    /// Each call into `service` takes `ms` longer.
    Service {
        /// The service called.
        service: String,
        /// Added once per call, in ms.
        ms: u64,
    },
    /// The event takes `ms` longer.
    Event {
        /// The event.
        event_id: Uuid,
        /// Added to the event, in ms.
        ms: u64,
    },
}

/// How a failed call ends.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureMode {
    /// The call fails at once; the caller resumes immediately.
    Error,
    /// The call hangs until the caller gives up after `timeout_ms`.
    Timeout,
}

/// Every call into `service` fails.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failure {
    /// The service whose calls fail.
    pub service: String,
    /// How they fail.
    pub mode: FailureMode,
    /// For `timeout`: how long the caller waits, in ms.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// SLA budgets in ms: one per service, and a default for the others.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlaSpec {
    /// The budget of services not listed.
    pub default: Option<u64>,
    /// Budgets by service.
    pub services: BTreeMap<String, u64>,
}

impl SlaSpec {
    /// The budget of `service`'s requests, if any.
    pub fn budget_ms(&self, service: &str) -> Option<u64> {
        self.services.get(service).copied().or(self.default)
    }
}

/// Why a simulation cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimulationError {
    /// No step of the trace is a call into the service.
    #[error("the trace makes no call into service `{0}` (services called: {1})")]
    NoCallsInto(String, String),
    /// The event is not in the trace.
    #[error("event {0} is not in this trace")]
    UnknownEvent(Uuid),
    /// A timeout failure without its duration.
    #[error("failure of `{0}` in mode timeout needs timeout_ms")]
    TimeoutWithoutDuration(String),
}

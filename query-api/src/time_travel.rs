//! Time travel over stored traces, with the pure replay of [`raceway_analysis::time_travel`]:
//!
//! - `GET /api/traces/{id}/steps`: the trace's events in causal order, so clients step by index;
//! - `GET /api/traces/{id}/state?at=STEP`: the state after a step (`STEP` is an index into the
//!   steps or an event id): the event, the variables, the threads with their locks and the ids of
//!   the findings one of whose sides is this event;
//! - `GET /api/state/compare?left=TRACE@STEP&right=TRACE@STEP`: the variables whose values differ.
//!
//! State is rebuilt from the stored events on every request (O(events)), never stored. A bad
//! trace id or step is a 400; a trace, event or step that does not exist is a 404.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::Json;
use raceway_analysis::time_travel::{
    compare_states, state_after, step_of_event, trace_steps, TraceState, VariableState,
};
use raceway_analysis::trace_causality;
use raceway_schemas::json::encode_event;
use raceway_schemas::{ActorId, Event};
use raceway_store::{EventStore, FindingStore};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::analyses::blocking;
use crate::audit::{json_value, HeldLock};
use crate::error::TraceErrors;
use crate::params::{self, StoredTrace};
use crate::traces::{rfc3339, TraceIdPath};
use crate::ApiError;

/// The service, instance and thread of an actor.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ActorRow {
    pub service: String,
    pub instance: String,
    pub thread_id: String,
}

impl From<&ActorId> for ActorRow {
    fn from(actor: &ActorId) -> Self {
        ActorRow {
            service: actor.service.clone(),
            instance: actor.instance.clone(),
            thread_id: actor.thread.clone(),
        }
    }
}

/// One step of the causal order.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StepRow {
    /// Index into the steps (0, 1, ...).
    pub step: usize,
    pub event_id: String,
    #[serde(flatten)]
    pub actor: ActorRow,
    /// The event's kind, e.g. `StateChange`.
    pub kind: String,
    /// A short description such as `write balance = 15`.
    pub label: String,
    pub timestamp: String,
}

/// `GET /api/traces/{id}/steps`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TraceSteps {
    pub trace_id: String,
    pub total_steps: usize,
    pub steps: Vec<StepRow>,
}

/// The event that last wrote a variable.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WriterRow {
    pub event_id: String,
    #[serde(flatten)]
    pub actor: ActorRow,
}

/// A variable at a step.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VariableRow {
    /// The last write's value, or the value the last read saw before any write (JSON when it
    /// parses, else a string).
    pub value: Value,
    /// Null when the variable was only read.
    pub last_writer: Option<WriterRow>,
    pub written_at_step: Option<usize>,
}

/// A thread at a step.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ThreadRow {
    #[serde(flatten)]
    pub actor: ActorRow,
    pub last_event_id: String,
    pub last_step: usize,
    pub locks_held: Vec<HeldLock>,
}

/// `GET /api/traces/{id}/state`: the state after a step.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TraceStateBody {
    pub trace_id: String,
    pub step: usize,
    pub total_steps: usize,
    /// The event of this step, in the Raceway JSON wire format.
    #[schema(value_type = raceway_schemas::openapi::WireEvent)]
    pub event: Value,
    /// Keyed by the recorded variable name.
    pub variables: BTreeMap<String, VariableRow>,
    pub threads: Vec<ThreadRow>,
    /// Ids of the findings one of whose two events is this step's.
    pub races_at_step: Vec<String>,
}

/// One side of a comparison.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ComparePoint {
    pub trace_id: String,
    pub step: usize,
}

/// A variable whose value differs; a side is null where the variable does not exist yet.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DifferenceRow {
    pub variable: String,
    pub left: Option<VariableRow>,
    pub right: Option<VariableRow>,
}

/// `GET /api/state/compare`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StateComparison {
    pub left: ComparePoint,
    pub right: ComparePoint,
    pub differences: Vec<DifferenceRow>,
}

/// The `at` query parameter of the state.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StateParams {
    /// A step index (0, 1, ...) or an event id (UUID). Required.
    at: Option<String>,
}

/// The two points of a comparison.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CompareParams {
    /// `TRACE_ID@STEP` (a step index or an event id). Required.
    left: Option<String>,
    /// `TRACE_ID@STEP`, of the same trace or another. Required.
    right: Option<String>,
}

/// `GET /api/traces/{id}/steps`: the trace's events in causal order.
#[utoipa::path(get, path = "/api/traces/{id}/steps", tag = "time-travel", params(TraceIdPath),
    responses((status = 200, body = TraceSteps), TraceErrors))]
pub(crate) async fn steps(
    StoredTrace { id, events }: StoredTrace,
) -> Result<Json<TraceSteps>, ApiError> {
    blocking(move || {
        let causality = trace_causality(&events);
        let steps: Vec<StepRow> = trace_steps(&events, &causality)
            .into_iter()
            .map(|step| StepRow {
                step: step.step,
                event_id: step.event_id.to_string(),
                actor: ActorRow::from(&step.actor),
                kind: step.kind.to_string(),
                label: step.label,
                timestamp: rfc3339(events[step.event_index].timestamp_ns),
            })
            .collect();
        Ok(Json(TraceSteps {
            trace_id: id.to_string(),
            total_steps: steps.len(),
            steps,
        }))
    })
    .await
}

/// `GET /api/traces/{id}/state?at=STEP`: the state after a step.
#[utoipa::path(get, path = "/api/traces/{id}/state", tag = "time-travel",
    params(TraceIdPath, StateParams),
    responses((status = 200, body = TraceStateBody), TraceErrors))]
pub(crate) async fn state(
    State(findings): State<Arc<dyn FindingStore>>,
    Query(query): Query<StateParams>,
    StoredTrace { id, events }: StoredTrace,
) -> Result<Json<TraceStateBody>, ApiError> {
    let at = query
        .at
        .ok_or_else(|| ApiError::bad_request("`at` is required: a step index or an event id"))?;
    let at = StepRef::parse("at", &at)?;
    let findings = findings.trace_findings(id).await?;
    blocking(move || {
        let state = state_of(&events, at)?;
        let event = &events[state.event_index];
        let event_id = event.id.to_string();
        let races_at_step = findings
            .iter()
            .filter(|f| f.first.event_id == event_id || f.second.event_id == event_id)
            .map(|f| f.id.clone())
            .collect();
        Ok(Json(TraceStateBody {
            trace_id: id.to_string(),
            step: state.step,
            total_steps: state.total_steps,
            event: encode_event(event),
            variables: state
                .variables
                .iter()
                .map(|(name, variable)| (name.clone(), variable_row(variable)))
                .collect(),
            threads: state.threads.iter().map(thread_row).collect(),
            races_at_step,
        }))
    })
    .await
}

/// `GET /api/state/compare?left=TRACE@STEP&right=TRACE@STEP`: the variables whose values differ.
#[utoipa::path(get, path = "/api/state/compare", tag = "time-travel", params(CompareParams),
    responses((status = 200, body = StateComparison), TraceErrors))]
pub(crate) async fn compare(
    State(store): State<Arc<dyn EventStore>>,
    Query(query): Query<CompareParams>,
) -> Result<Json<StateComparison>, ApiError> {
    let point = |name: &str, raw: Option<&str>| -> Result<(Uuid, StepRef), ApiError> {
        let raw = raw
            .ok_or_else(|| ApiError::bad_request(format!("`{name}` is required: TRACE_ID@STEP")))?;
        let (trace, step) = raw
            .rsplit_once('@')
            .ok_or_else(|| ApiError::bad_request(format!("`{name}={raw}` is not TRACE_ID@STEP")))?;
        Ok((params::trace_id(trace)?, StepRef::parse(name, step)?))
    };
    let (left_trace, left_at) = point("left", query.left.as_deref())?;
    let (right_trace, right_at) = point("right", query.right.as_deref())?;
    let left_events = events_of(store.as_ref(), left_trace).await?;
    let right_events = if right_trace == left_trace {
        None
    } else {
        Some(events_of(store.as_ref(), right_trace).await?)
    };
    blocking(move || {
        let left = state_of(&left_events, left_at)?;
        let right = state_of(right_events.as_deref().unwrap_or(&left_events), right_at)?;
        let differences = compare_states(&left, &right)
            .into_iter()
            .map(|d| DifferenceRow {
                variable: d.variable,
                left: d.left.as_ref().map(variable_row),
                right: d.right.as_ref().map(variable_row),
            })
            .collect();
        Ok(Json(StateComparison {
            left: ComparePoint {
                trace_id: left_trace.to_string(),
                step: left.step,
            },
            right: ComparePoint {
                trace_id: right_trace.to_string(),
                step: right.step,
            },
            differences,
        }))
    })
    .await
}

/// The events of a trace; 404 when there are none.
async fn events_of(store: &dyn EventStore, trace_id: Uuid) -> Result<Vec<Event>, ApiError> {
    let events = store.trace_events(trace_id).await?;
    if events.is_empty() {
        return Err(ApiError::not_found(format!("no trace {trace_id}")));
    }
    Ok(events)
}

/// A step named by its index in the causal order or by its event's id.
#[derive(Debug, Clone, Copy)]
enum StepRef {
    Index(usize),
    Event(Uuid),
}

impl StepRef {
    fn parse(name: &str, raw: &str) -> Result<StepRef, ApiError> {
        if let Ok(index) = raw.parse::<usize>() {
            return Ok(StepRef::Index(index));
        }
        Uuid::parse_str(raw).map(StepRef::Event).map_err(|_| {
            ApiError::bad_request(format!(
                "`{name}={raw}` is neither a step index (0, 1, ...) nor an event id (UUID)"
            ))
        })
    }
}

/// The state after the step `at` names: 404 when the trace has no such step or event.
fn state_of(events: &[Event], at: StepRef) -> Result<TraceState, ApiError> {
    let causality = trace_causality(events);
    let step = match at {
        StepRef::Index(index) => index,
        StepRef::Event(id) => step_of_event(events, &causality, id)
            .ok_or_else(|| ApiError::not_found(format!("the trace has no event {id}")))?,
    };
    state_after(events, &causality, step).ok_or_else(|| {
        ApiError::not_found(format!(
            "no step {step}: the trace has {} steps (0 to {})",
            events.len(),
            events.len().saturating_sub(1)
        ))
    })
}

/// A thread: its actor, last event and the locks it holds.
fn thread_row(thread: &raceway_analysis::time_travel::ThreadState) -> ThreadRow {
    ThreadRow {
        actor: ActorRow::from(&thread.actor),
        last_event_id: thread.last_event_id.to_string(),
        last_step: thread.last_step,
        locks_held: thread.locks_held.iter().map(HeldLock::from).collect(),
    }
}

/// One variable: its value (JSON when it parses), last writer and the step it was written at.
fn variable_row(variable: &VariableState) -> VariableRow {
    VariableRow {
        value: json_value(&variable.value),
        last_writer: variable.last_writer.as_ref().map(|writer| WriterRow {
            event_id: writer.event_id.to_string(),
            actor: ActorRow::from(&writer.actor),
        }),
        written_at_step: variable.written_at_step,
    }
}

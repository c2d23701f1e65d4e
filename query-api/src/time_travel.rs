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

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::Json;
use raceway_analysis::time_travel::{
    compare_states, state_after, step_of_event, trace_steps, TraceState, VariableState,
};
use raceway_analysis::trace_causality;
use raceway_schemas::json::encode_event;
use raceway_schemas::{ActorId, Event};
use raceway_store::Store;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::analyses::{blocking, events_of};
use crate::audit::json_value;
use crate::traces::rfc3339;
use crate::{params, ApiError};

type AppStore = State<Arc<dyn Store>>;

/// `GET /api/traces/{id}/steps`.
pub(crate) async fn steps(
    State(store): AppStore,
    Path(raw_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (trace_id, events) = events_of(&store, &raw_id).await?;
    blocking(move || {
        let causality = trace_causality(&events);
        let steps: Vec<Value> = trace_steps(&events, &causality)
            .into_iter()
            .map(|step| {
                let event = &events[step.event_index];
                let mut row = actor_json(&step.actor);
                row.insert("step".into(), json!(step.step));
                row.insert("event_id".into(), json!(step.event_id.to_string()));
                row.insert("kind".into(), json!(step.kind));
                row.insert("label".into(), json!(step.label));
                row.insert("timestamp".into(), json!(rfc3339(event.timestamp_ns)));
                Value::Object(row)
            })
            .collect();
        Ok(Json(json!({
            "trace_id": trace_id.to_string(),
            "total_steps": steps.len(),
            "steps": steps,
        })))
    })
    .await
}

/// `GET /api/traces/{id}/state?at=STEP`.
pub(crate) async fn state(
    State(store): AppStore,
    Path(raw_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let at = query
        .get("at")
        .ok_or_else(|| ApiError::bad_request("`at` is required: a step index or an event id"))?;
    let at = StepRef::parse("at", at)?;
    let (trace_id, events) = events_of(&store, &raw_id).await?;
    let findings = store.trace_findings(trace_id).await?;
    blocking(move || {
        let state = state_of(&events, at)?;
        let event = &events[state.event_index];
        let id = event.id.to_string();
        let races: Vec<&str> = findings
            .iter()
            .filter(|f| f.first.event_id == id || f.second.event_id == id)
            .map(|f| f.id.as_str())
            .collect();
        let mut body = state_json(&state);
        body.insert("trace_id".into(), json!(trace_id.to_string()));
        body.insert("event".into(), encode_event(event));
        body.insert("races_at_step".into(), json!(races));
        Ok(Json(Value::Object(body)))
    })
    .await
}

/// `GET /api/state/compare?left=TRACE@STEP&right=TRACE@STEP`.
pub(crate) async fn compare(
    State(store): AppStore,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let point = |name: &str| -> Result<(String, StepRef), ApiError> {
        let raw = query
            .get(name)
            .ok_or_else(|| ApiError::bad_request(format!("`{name}` is required: TRACE_ID@STEP")))?;
        let (trace, step) = raw
            .rsplit_once('@')
            .ok_or_else(|| ApiError::bad_request(format!("`{name}={raw}` is not TRACE_ID@STEP")))?;
        params::trace_id(trace)?;
        Ok((trace.to_string(), StepRef::parse(name, step)?))
    };
    let (left_trace, left_at) = point("left")?;
    let (right_trace, right_at) = point("right")?;
    let (_, left_events) = events_of(&store, &left_trace).await?;
    let right_events = if right_trace == left_trace {
        None
    } else {
        Some(events_of(&store, &right_trace).await?.1)
    };
    blocking(move || {
        let left = state_of(&left_events, left_at)?;
        let right = state_of(right_events.as_deref().unwrap_or(&left_events), right_at)?;
        let differences: Vec<Value> = compare_states(&left, &right)
            .into_iter()
            .map(|d| {
                json!({
                    "variable": d.variable,
                    "left": d.left.as_ref().map(variable_json),
                    "right": d.right.as_ref().map(variable_json),
                })
            })
            .collect();
        Ok(Json(json!({
            "left": {"trace_id": left_trace, "step": left.step},
            "right": {"trace_id": right_trace, "step": right.step},
            "differences": differences,
        })))
    })
    .await
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

/// `step`, `total_steps`, `variables` and `threads` of a state.
fn state_json(state: &TraceState) -> Map<String, Value> {
    let variables: Map<String, Value> = state
        .variables
        .iter()
        .map(|(name, variable)| (name.clone(), variable_json(variable)))
        .collect();
    let threads: Vec<Value> = state
        .threads
        .iter()
        .map(|thread| {
            let mut row = actor_json(&thread.actor);
            row.insert(
                "last_event_id".into(),
                json!(thread.last_event_id.to_string()),
            );
            row.insert("last_step".into(), json!(thread.last_step));
            let locks: Vec<Value> = thread
                .locks_held
                .iter()
                .map(|lock| json!({"lock_id": lock.lock_id, "mode": lock.mode.as_str()}))
                .collect();
            row.insert("locks_held".into(), json!(locks));
            Value::Object(row)
        })
        .collect();
    let mut body = Map::new();
    body.insert("step".into(), json!(state.step));
    body.insert("total_steps".into(), json!(state.total_steps));
    body.insert("variables".into(), Value::Object(variables));
    body.insert("threads".into(), json!(threads));
    body
}

/// One variable: its value (JSON when it parses), last writer and the step it was written at.
fn variable_json(variable: &VariableState) -> Value {
    let writer = variable.last_writer.as_ref().map(|writer| {
        let mut row = actor_json(&writer.actor);
        row.insert("event_id".into(), json!(writer.event_id.to_string()));
        Value::Object(row)
    });
    json!({
        "value": json_value(&variable.value),
        "last_writer": writer,
        "written_at_step": variable.written_at_step,
    })
}

/// `service`, `instance` and `thread_id` of an actor.
fn actor_json(actor: &ActorId) -> Map<String, Value> {
    let mut row = Map::new();
    row.insert("service".into(), json!(actor.service));
    row.insert("instance".into(), json!(actor.instance));
    row.insert("thread_id".into(), json!(actor.thread));
    row
}

//! [`Actor`]: one thread or task of the service, with its vector clock; the thing that records.

use std::panic::Location;

use std::sync::Arc;

use raceway_schemas::{AccessType, AsyncAwait, AsyncSpawn, EventKind, StateChange};
use serde::Serialize;
use uuid::Uuid;

pub(crate) use crate::recorded::to_json;
use crate::recorded::{location, random_id, Access, ActorLabel, Recorded, Snapshot, What};
use crate::tracer::{now_ns, Tracer};
use raceway_schemas::VectorClock;

/// One actor (a thread or task of this service instance) recording into one trace.
///
/// An actor is a sequential thread of events: it is `Send` (move it into the thread or task it
/// stands for) but not `Clone`, and recording takes `&mut self`. Every recorded event increments
/// the actor's own clock component, carries the actor's clock as `causality_vector`, and has the
/// actor's previous event as `parent_id`.
///
/// Synchronisation joins clocks: [`Actor::spawn_child`] (the child inherits the parent's clock),
/// [`Actor::join`] (the parent joins the finished child's clock), and
/// [`crate::TrackedMutex::lock`] (the acquirer joins the last releaser's clock).
#[derive(Debug)]
pub struct Actor {
    tracer: Tracer,
    label: Arc<ActorLabel>,
    component: Arc<str>,
    trace_id: Uuid,
    clock: VectorClock,
    /// The clock's own component (`clock.get(component)`), kept beside it for the hot path.
    own: u64,
    /// The label and clock the next events share, until the clock changes other than by an own
    /// step (`None`: to be taken at the next event). See `recorded`'s module doc.
    snapshot: Option<Arc<Snapshot>>,
    last_event: Option<Uuid>,
    /// False in a trace that sampling left out: nothing is recorded, clocks still flow.
    sampled: bool,
}

/// What is left of an actor that ended: enough to [`Actor::join`] it.
///
/// `Actor` converts into it, so `parent.join(child)` works with either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedActor {
    /// The actor's unique name (its events' `thread_id`).
    pub name: String,
    /// The actor's trace.
    pub trace_id: Uuid,
    /// The actor's clock after its last event.
    pub clock: VectorClock,
    /// Id of the actor's last recorded event.
    pub last_event: Option<Uuid>,
}

impl From<Actor> for FinishedActor {
    fn from(actor: Actor) -> FinishedActor {
        actor.finish()
    }
}

/// The name of a recorded variable.
///
/// A plain string names an in-process variable; it is recorded qualified with the service and
/// instance (`"{service}#{instance}::{name}"`), because a variable is named per environment and
/// two instances do not share their memory (DESIGN.md "Clocks"). [`Var::shared`] names state
/// that several instances or services really share (a database row such as
/// `account:alice.balance`); it is recorded as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Var<'a> {
    name: &'a str,
    shared: bool,
}

impl<'a> Var<'a> {
    /// An in-process variable (the default for a plain string).
    pub fn local(name: &'a str) -> Var<'a> {
        Var {
            name,
            shared: false,
        }
    }

    /// A variable shared across instances and services, recorded under exactly `name`.
    pub fn shared(name: &'a str) -> Var<'a> {
        Var { name, shared: true }
    }
}

impl<'a> From<&'a str> for Var<'a> {
    fn from(name: &'a str) -> Var<'a> {
        Var::local(name)
    }
}

impl<'a> From<&'a String> for Var<'a> {
    fn from(name: &'a String) -> Var<'a> {
        Var::local(name)
    }
}

impl Actor {
    pub(crate) fn new(
        tracer: Tracer,
        name: String,
        trace_id: Uuid,
        clock: VectorClock,
        sampled: bool,
    ) -> Actor {
        let component: Arc<str> = Arc::from(tracer.component(&name));
        let own = clock.get(&component);
        Actor {
            tracer,
            label: Arc::new(ActorLabel {
                name,
                component: Arc::clone(&component),
                span: None,
                upstream: None,
            }),
            component,
            trace_id,
            clock,
            own,
            snapshot: None,
            last_event: None,
            sampled,
        }
    }

    /// The distributed span the actor works in, when it continues a trace from a caller.
    pub fn span_id(&self) -> Option<&str> {
        self.label.span.as_deref()
    }

    /// Sets the span ids recorded in `metadata.distributed_span_id` / `upstream_span_id`.
    pub(crate) fn set_spans(&mut self, span: Option<String>, upstream: Option<String>) {
        self.label = Arc::new(ActorLabel {
            name: self.label.name.clone(),
            component: Arc::clone(&self.component),
            span,
            upstream,
        });
        self.snapshot = None;
    }

    /// True when this actor records events: the tracer is enabled and the trace is sampled.
    pub fn is_recording(&self) -> bool {
        self.sampled && self.tracer.is_enabled()
    }

    /// True when the actor's trace was sampled (propagated to callees as the trace flag).
    pub fn is_sampled(&self) -> bool {
        self.sampled
    }

    /// The actor's unique name: its label plus a sequence number (the events' `thread_id`).
    pub fn name(&self) -> &str {
        &self.label.name
    }

    /// The actor's clock component, `"{service}#{instance}/{name}"`.
    pub fn component(&self) -> &str {
        &self.component
    }

    /// The trace the actor records into.
    pub fn trace_id(&self) -> Uuid {
        self.trace_id
    }

    /// The actor's current clock (that of its last event, joined with what it synchronised with).
    pub fn clock(&self) -> &VectorClock {
        &self.clock
    }

    /// Id of the last event recorded, the `parent_id` of the next one.
    pub fn last_event_id(&self) -> Option<Uuid> {
        self.last_event
    }

    /// The tracer the actor records through.
    pub fn tracer(&self) -> &Tracer {
        &self.tracer
    }

    /// Records an `AsyncSpawn` event and returns the child actor, labelled `name`, in the same
    /// trace. The child starts with the parent's clock (including the spawn event), so
    /// everything the parent did before the spawn happens before everything the child does.
    #[track_caller]
    pub fn spawn_child(&mut self, name: &str) -> Actor {
        self.spawn_child_at(name, caller_location())
    }

    /// [`Actor::spawn_child`] located at `location`.
    pub(crate) fn spawn_child_at(&mut self, name: &str, location: String) -> Actor {
        let child_name = self.tracer.unique_name(name);
        self.record(EventKind::AsyncSpawn(AsyncSpawn {
            task_id: child_name.clone(),
            spawned_by: self.label.name.clone(),
            task_name: Some(name.to_string()),
            spawned_at: Some(location),
        }));
        let mut child = Actor::new(
            self.tracer.clone(),
            child_name,
            self.trace_id,
            self.clock.clone(),
            self.sampled,
        );
        child.last_event = self.last_event;
        if self.label.span.is_some() || self.label.upstream.is_some() {
            child.set_spans(self.label.span.clone(), self.label.upstream.clone());
        }
        child
    }

    /// Ends the actor and keeps what a parent needs to [`Actor::join`] it. Records nothing.
    ///
    /// The actor's clock component becomes prunable: once it finished longer ago than
    /// [`crate::TracerConfig::prune_finished_after`], clocks that grew large forget it.
    pub fn finish(self) -> FinishedActor {
        self.tracer.actor_finished(&self.component);
        FinishedActor {
            name: self.label.name.clone(),
            trace_id: self.trace_id,
            clock: self.clock,
            last_event: self.last_event,
        }
    }

    /// Joins a finished child (an [`Actor`] or a [`FinishedActor`]): merges its clock into this
    /// actor's and records an `AsyncAwait` event, so everything the child did happens before
    /// what this actor does next.
    #[track_caller]
    pub fn join(&mut self, child: impl Into<FinishedActor>) {
        self.join_at(child, caller_location());
    }

    /// [`Actor::join`] located at `location`.
    pub(crate) fn join_at(&mut self, child: impl Into<FinishedActor>, location: String) {
        let child = child.into();
        if !self.tracer.is_enabled() {
            return;
        }
        self.join_clock(&child.clock);
        self.record(EventKind::AsyncAwait(AsyncAwait {
            future_id: child.name,
            awaited_at: location,
        }));
    }

    /// Records a read of `variable` that saw `value`, located at the caller's `file:line`.
    #[track_caller]
    pub fn read<'v, V: Serialize + ?Sized>(&mut self, variable: impl Into<Var<'v>>, value: &V) {
        let site = Location::caller();
        self.record_access(variable.into(), None::<&V>, value, site, AccessType::Read);
    }

    /// Records a write of `variable` from `old` to `new`, located at the caller's `file:line`.
    #[track_caller]
    pub fn write<'v, O, N>(&mut self, variable: impl Into<Var<'v>>, old: &O, new: &N)
    where
        O: Serialize + ?Sized,
        N: Serialize + ?Sized,
    {
        let site = Location::caller();
        self.record_access(variable.into(), Some(old), new, site, AccessType::Write);
    }

    /// Records a read with the value already as JSON text and an explicit location.
    pub fn read_at<'v>(
        &mut self,
        variable: impl Into<Var<'v>>,
        value_json: String,
        location: &str,
    ) {
        self.access(
            variable.into(),
            None,
            value_json,
            location,
            AccessType::Read,
        );
    }

    /// Records a write with the values already as JSON text (`old_json` when known) and an
    /// explicit location.
    pub fn write_at<'v>(
        &mut self,
        variable: impl Into<Var<'v>>,
        old_json: Option<String>,
        new_json: String,
        location: &str,
    ) {
        let variable = variable.into();
        self.access(variable, old_json, new_json, location, AccessType::Write);
    }

    /// Records a read or write of `variable` at `site`, the values written as JSON straight into
    /// the event (see `recorded`'s module doc): nothing is allocated for short names and values.
    pub(crate) fn record_access<O, N>(
        &mut self,
        variable: Var<'_>,
        old: Option<&O>,
        new: &N,
        site: &'static Location<'static>,
        access_type: AccessType,
    ) where
        O: Serialize + ?Sized,
        N: Serialize + ?Sized,
    {
        if !self.is_recording() {
            return;
        }
        let access = Access::new(variable.name, variable.shared, old, new, access_type, site);
        self.record_what(What::Access(access));
    }

    /// Records a state change whose values are already JSON text.
    pub(crate) fn access(
        &mut self,
        variable: Var<'_>,
        old_value: Option<String>,
        new_value: String,
        location: &str,
        access_type: AccessType,
    ) {
        if !self.is_recording() {
            return;
        }
        let variable = if variable.shared {
            variable.name.to_string()
        } else {
            self.tracer.qualify(variable.name)
        };
        let kind = EventKind::StateChange(StateChange {
            variable,
            old_value,
            new_value,
            location: location.to_string(),
            access_type,
        });
        self.record(kind);
    }

    /// Records an event of any kind as this actor's next step and returns its id (`None` when
    /// recording is disabled). The higher-level methods all go through here.
    pub fn record(&mut self, kind: EventKind) -> Option<Uuid> {
        self.record_what(What::Kind(kind))
    }

    /// Records `what` as this actor's next step: increments the own clock component and queues
    /// the event with the actor's snapshot and counter.
    pub(crate) fn record_what(&mut self, what: What) -> Option<Uuid> {
        if !self.is_recording() {
            return None;
        }
        self.clock.increment_shared(&self.component);
        self.own = self.own.saturating_add(1);
        let snapshot = match &self.snapshot {
            Some(snapshot) => Arc::clone(snapshot),
            None => {
                let snapshot = Arc::new(Snapshot {
                    label: Arc::clone(&self.label),
                    clock: self.clock.clone(),
                });
                self.snapshot = Some(Arc::clone(&snapshot));
                snapshot
            }
        };
        let id = random_id();
        let event = Recorded {
            id,
            trace_id: self.trace_id,
            parent_id: self.last_event,
            timestamp_ns: now_ns(),
            what,
            actor: snapshot,
            counter: self.own,
        };
        self.last_event = Some(id);
        self.tracer.emit(event);
        Some(id)
    }

    /// Merges a clock learned through synchronisation (a lock's release clock, a joined child,
    /// a response's clock), then forgets long-finished actors if the clock grew large.
    pub fn join_clock(&mut self, clock: &VectorClock) {
        let grew = !clock.le(&self.clock);
        if grew {
            self.clock.join(clock);
        }
        let pruned = self.tracer.prune(&mut self.clock, &self.component);
        if grew || pruned > 0 {
            // The events after this carry a clock the snapshot does not hold.
            self.snapshot = None;
            self.own = self.clock.get(&self.component);
        }
    }
}

/// The caller's location as `file:line` (through every `#[track_caller]` frame).
#[track_caller]
pub(crate) fn caller_location() -> String {
    location(Location::caller())
}

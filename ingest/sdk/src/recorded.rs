//! [`Recorded`]: an event as the hot path queues it, made into a schemas `Event` on the
//! delivery thread. Recording only snapshots what changes per event (kind, clock, ids, time);
//! the per-service metadata and the clock's wire form are built off the application's threads.

use std::panic::Location;
use std::sync::Arc;

use raceway_schemas::{Event, EventKind, Metadata, VectorClock};
use rand::Rng;
use uuid::Uuid;

/// Who recorded: an actor's name and distributed spans, shared by all its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ActorLabel {
    /// The actor's unique name (`metadata.thread_id`).
    pub name: String,
    /// `metadata.distributed_span_id`.
    pub span: Option<String>,
    /// `metadata.upstream_span_id`.
    pub upstream: Option<String>,
}

/// One recorded event, not yet in its wire form.
pub(crate) struct Recorded {
    pub id: Uuid,
    pub trace_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub timestamp_ns: i64,
    pub kind: EventKind,
    pub actor: Arc<ActorLabel>,
    pub clock: VectorClock,
    /// The source location of a state change, when the caller's (see [`CallSite`]): formatted
    /// into the event's `location` here, off the application's thread.
    pub call_site: Option<&'static Location<'static>>,
}

/// Where a state change was recorded. The caller's location is kept as the compiler's static
/// `Location` and formatted as `file:line` on the delivery thread: formatting and allocating
/// the text on the recording thread was a third of recording a write.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CallSite<'a> {
    /// The caller's location (through `#[track_caller]` frames).
    Caller(&'static Location<'static>),
    /// A location the application gave as text.
    Text(&'a str),
}

impl Recorded {
    /// The event, with `template` (the tracer's metadata) completed by the actor's label.
    pub(crate) fn into_event(self, template: &Metadata) -> Event {
        let mut kind = self.kind;
        if let (Some(site), EventKind::StateChange(change)) = (self.call_site, &mut kind) {
            change.location = format!("{}:{}", site.file(), site.line());
        }
        let mut metadata = template.clone();
        metadata.thread_id.clone_from(&self.actor.name);
        metadata.distributed_span_id.clone_from(&self.actor.span);
        metadata.upstream_span_id.clone_from(&self.actor.upstream);
        Event {
            id: self.id,
            trace_id: self.trace_id,
            parent_id: self.parent_id,
            timestamp_ns: self.timestamp_ns,
            kind,
            metadata,
            causality_vector: self.clock.to_pairs(),
            lock_set: Vec::new(),
        }
    }
}

/// A random (v4) UUID from the thread's fast generator: `Uuid::new_v4` asks the OS for every
/// id, which costs more than the rest of recording an event.
pub(crate) fn random_id() -> Uuid {
    let bytes: [u8; 16] = rand::thread_rng().gen();
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

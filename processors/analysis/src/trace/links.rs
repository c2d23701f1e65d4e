//! Structural links between the events of one trace: which event a step hangs under.
//!
//! The tree, the service dependencies and the graph export all ask the same questions (who is
//! this event's parent, which step called this service, which send did this receive consume),
//! so the answers are decided here once. Events are numbered as in [`crate::causality`] ((timestamp,
//! id, input index), each actor's events in the order its SDK stated), so nothing depends on
//! arrival order and an actor's previous event is the one its SDK ran before. An actor is (service, instance,
//! thread), as [`raceway_schemas::Event::actor`].
//!
//! # Tree rule: the one link an event hangs by (first that applies)
//!
//! 1. **Parent**: its `parent_id` names an event of the trace.
//! 2. **Placeholder**: its `parent_id` names an event the trace does not hold (not received yet,
//!    or lost): it waits under a placeholder for that id, never dropped and never guessed
//!    elsewhere, so a re-analysis after the late parent arrives moves it to the right place.
//! 3. **RemoteCall**: it is its actor's first event carrying `upstream_span_id = S`: it hangs
//!    under the caller's latest step in span S numbered before it (another actor's event with
//!    `distributed_span_id = S`), or the caller's first step in S when clock skew put all of
//!    them later.
//! 4. **Spawn**: it is its actor's first event, and an `AsyncSpawn` of the same service and
//!    instance named this thread as its `task_id` (how our SDK and the Go SDK name tasks).
//! 5. **Message**: it is a `MessageReceive` and the send it consumed is known (see
//!    [`EventIndex::message_source`]).
//! 6. **ProgramOrder**: under its actor's previous event.
//! 7. Otherwise it is a root.
//!
//! Cycles (parent links can form them) are broken by the tree, not here.

use foldhash::HashMap;
use raceway_schemas::{Event, EventKind, MessageEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::causality::{indexed_program_order, ActorOrder, IdMap, IndexedOrder};

/// How a tree node hangs under its parent, or how one graph node leads to another.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// The event's `parent_id`.
    Parent,
    /// An actor's first step in a downstream span, under the caller's step in that span.
    RemoteCall,
    /// A spawned task's first event, under the `AsyncSpawn` that named it.
    Spawn,
    /// A `MessageReceive`, under the `MessageSend` it consumed.
    Message,
    /// An event without a parent link, under its actor's previous event.
    ProgramOrder,
    /// An event under a placeholder: its parent is missing, or its parent links formed a cycle.
    Placeholder,
}

/// Where the tree rule put one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attachment {
    /// Under another event (an input index).
    Linked { parent: usize, kind: LinkKind },
    /// Its `parent_id` names an event the trace does not hold.
    MissingParent(Uuid),
    /// A root of the trace.
    Root,
}

/// Lookups over the events of one trace, built once in O(n log n).
pub(crate) struct EventIndex<'a> {
    events: &'a [Event],
    /// Input indices in program order: (timestamp, id, input index), each actor's events in the
    /// order its SDK stated (see [`crate::causality::actor_program_order`]).
    pub(crate) order: Vec<usize>,
    /// Per input index: when the event started at the latest, given its actor's later steps
    /// (see [`ActorOrder::effective_ns`]).
    pub(crate) effective_ns: Vec<i64>,
    /// Position of every input index in `order`.
    pub(crate) position: Vec<usize>,
    /// Actor number of every input index.
    pub(crate) actor: Vec<usize>,
    /// The events of every actor, as input indices in `order`.
    actor_events: Vec<Vec<usize>>,
    /// Previous and next event of the same actor, by input index.
    prev: Vec<Option<usize>>,
    next: Vec<Option<usize>>,
    /// (service, instance, thread) -> actor number.
    actor_numbers: HashMap<(&'a str, &'a str, &'a str), usize>,
    /// First input index of every event id.
    by_id: IdMap,
    /// No two events share an id: an id found by comparison is the one `by_id` holds.
    unique_ids: bool,
    /// distributed_span_id -> its number in `span_events`.
    span_numbers: HashMap<&'a str, usize>,
    /// Input indices carrying each numbered span, in `order`.
    span_events: Vec<Vec<usize>>,
    /// (service, instance, task_id) -> the first `AsyncSpawn` naming that task.
    spawns: HashMap<(&'a str, &'a str, &'a str), usize>,
    /// topic -> `MessageSend` input indices, in `order`.
    sends_by_topic: HashMap<&'a str, Vec<usize>>,
    /// The `MessageReceive` input indices, in `order`.
    pub(crate) receives: Vec<usize>,
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|s| !s.is_empty())
}

fn instance(event: &Event) -> &str {
    event.metadata.instance_id.as_deref().unwrap_or_default()
}

impl<'a> EventIndex<'a> {
    /// Indexes `events` (one trace, any order).
    pub(crate) fn new(events: &'a [Event]) -> Self {
        let n = events.len();
        let IndexedOrder {
            order: ActorOrder {
                order,
                effective_ns,
            },
            actor_of,
            by_id,
            one_trace,
        } = indexed_program_order(events);
        // The program order numbered actors by (trace, service, instance, thread): the same
        // actors as here when the events are of one trace, as they are but for bad input.
        let shared_ids = by_id.is_some();
        let mut index = EventIndex {
            events,
            effective_ns,
            position: vec![0; n],
            actor: vec![0; n],
            actor_events: Vec::new(),
            prev: vec![None; n],
            next: vec![None; n],
            actor_numbers: HashMap::default(),
            by_id: by_id
                .unwrap_or_else(|| HashMap::with_capacity_and_hasher(n, Default::default())),
            unique_ids: shared_ids,
            span_numbers: HashMap::default(),
            span_events: Vec::new(),
            spawns: HashMap::default(),
            sends_by_topic: HashMap::default(),
            receives: Vec::new(),
            order: Vec::new(),
        };
        // The last span of each actor, with its number.
        let mut last_span: Vec<Option<(&str, usize)>> = Vec::new();
        for (position, &i) in order.iter().enumerate() {
            let event = &events[i];
            index.position[i] = position;
            // Read from the event only where needed: its actor's first event, or a spawn.
            let key = || {
                (
                    event.metadata.service_name.as_str(),
                    instance(event),
                    event.metadata.thread_id.as_str(),
                )
            };
            let actor = if one_trace {
                let actor = actor_of[i];
                if actor >= index.actor_events.len() {
                    index.actor_numbers.insert(key(), actor);
                }
                actor
            } else {
                let next_actor = index.actor_numbers.len();
                *index.actor_numbers.entry(key()).or_insert(next_actor)
            };
            if actor >= index.actor_events.len() {
                index.actor_events.resize_with(actor + 1, Vec::new);
            }
            index.actor[i] = actor;
            if let Some(&previous) = index.actor_events[actor].last() {
                index.prev[i] = Some(previous);
                index.next[previous] = Some(i);
            }
            index.actor_events[actor].push(i);
            if !shared_ids {
                index.by_id.entry(event.id.as_u128()).or_insert(i);
            }
            if let Some(span) = non_empty(&event.metadata.distributed_span_id) {
                // An actor's events mostly stay in one span: reuse its last span's number
                // instead of hashing the id again.
                let number = match last_span.get(actor) {
                    Some(&Some((last, number))) if last == span => number,
                    _ => {
                        let next = index.span_events.len();
                        let number = *index.span_numbers.entry(span).or_insert(next);
                        if number == next {
                            index.span_events.push(Vec::new());
                        }
                        number
                    }
                };
                if actor >= last_span.len() {
                    last_span.resize(actor + 1, None);
                }
                last_span[actor] = Some((span, number));
                index.span_events[number].push(i);
            }
            match &event.kind {
                EventKind::AsyncSpawn(spawn) => {
                    let (service, instance, _) = key();
                    let task = (service, instance, spawn.task_id.as_str());
                    index.spawns.entry(task).or_insert(i);
                }
                EventKind::MessageSend(message) => {
                    let sends = index.sends_by_topic.entry(message.topic.as_str());
                    sends.or_default().push(i);
                }
                EventKind::MessageReceive(_) => index.receives.push(i),
                _ => {}
            }
        }
        index.order = order;
        index
    }

    /// Number of actors.
    pub(crate) fn actor_count(&self) -> usize {
        self.actor_events.len()
    }

    /// The input index of the event with this id (its first copy), if the trace holds it.
    pub(crate) fn by_id(&self, id: &Uuid) -> Option<usize> {
        self.by_id.get(&id.as_u128()).copied()
    }

    /// The input index of event `i`'s parent `parent_id`, if the trace holds it: as
    /// [`EventIndex::by_id`], with the usual case (the actor's previous event, as the SDKs chain
    /// their steps) found by comparing one id instead of a lookup.
    pub(crate) fn parent_of(&self, i: usize, parent_id: &Uuid) -> Option<usize> {
        match self.prev[i] {
            Some(previous) if self.unique_ids && self.events[previous].id == *parent_id => {
                Some(previous)
            }
            _ => self.by_id(parent_id),
        }
    }

    /// The previous event of the same actor.
    pub(crate) fn prev_in_actor(&self, i: usize) -> Option<usize> {
        self.prev[i]
    }

    /// The next event of the same actor.
    pub(crate) fn next_in_actor(&self, i: usize) -> Option<usize> {
        self.next[i]
    }

    /// The caller's step for event `i` entering span `span`: the latest event of another actor
    /// carrying `distributed_span_id = span` numbered before `i`, else the first such event.
    pub(crate) fn span_caller(&self, span: &str, i: usize) -> Option<usize> {
        let candidates = &self.span_events[*self.span_numbers.get(span)?];
        self.latest_before_else_first(candidates, i, |c| self.actor[c] != self.actor[i])
    }

    /// Of `events` (sorted by number), the latest numbered before `i` that is `wanted`, else the
    /// first after it.
    fn latest_before_else_first(
        &self,
        events: &[usize],
        i: usize,
        wanted: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        let before = events.partition_point(|&e| self.position[e] < self.position[i]);
        events[..before]
            .iter()
            .rev()
            .find(|&&e| wanted(e))
            .or_else(|| events[before..].iter().find(|&&e| wanted(e)))
            .copied()
    }

    /// The `AsyncSpawn` that named event `i`'s thread as its task, in the same service instance.
    pub(crate) fn spawn_of(&self, i: usize) -> Option<usize> {
        let event = &self.events[i];
        let key = (
            event.metadata.service_name.as_str(),
            instance(event),
            event.metadata.thread_id.as_str(),
        );
        self.spawns.get(&key).copied().filter(|&s| s != i)
    }

    /// The actor number of task `task` of `event`'s service instance (a task is the actor whose
    /// thread is the task id).
    fn task_actor(&self, event: &Event, task: &str) -> Option<usize> {
        let key = (event.metadata.service_name.as_str(), instance(event), task);
        self.actor_numbers.get(&key).copied()
    }

    /// The first event of the task an `AsyncSpawn` at `spawn` named.
    pub(crate) fn spawned_first(&self, spawn: usize) -> Option<usize> {
        let event = &self.events[spawn];
        let EventKind::AsyncSpawn(task) = &event.kind else {
            return None;
        };
        let actor = self.task_actor(event, &task.task_id)?;
        self.actor_events[actor]
            .first()
            .copied()
            .filter(|&f| f != spawn)
    }

    /// For an `AsyncAwait` at `wait`: the awaited task's last event numbered before it (the task
    /// is the actor of the same service instance whose thread is the awaited `future_id`).
    pub(crate) fn awaited_last(&self, wait: usize) -> Option<usize> {
        let event = &self.events[wait];
        let EventKind::AsyncAwait(awaited) = &event.kind else {
            return None;
        };
        let actor = self.task_actor(event, &awaited.future_id)?;
        let events = &self.actor_events[actor];
        let before = events.partition_point(|&e| self.position[e] < self.position[wait]);
        before.checked_sub(1).map(|last| events[last])
    }

    /// For a `MessageReceive` at `receive`, the `MessageSend` it consumed, first that applies:
    /// a send with the same topic, partition and offset (when both know them); the caller step
    /// of its upstream span when that step is a send; the latest send numbered before it on the
    /// same topic with a compatible key (equal, or one of them keyless), else the first later one.
    pub(crate) fn message_source(&self, receive: usize) -> Option<usize> {
        let event = &self.events[receive];
        let EventKind::MessageReceive(received) = &event.kind else {
            return None;
        };
        let sends = self.sends_by_topic.get(received.topic.as_str());
        let message = |i: usize| match &self.events[i].kind {
            EventKind::MessageSend(sent) => Some(sent),
            _ => None,
        };
        if let (Some(sends), Some(_), Some(_)) = (sends, received.partition, received.offset) {
            let exact = sends.iter().copied().find(|&s| {
                message(s).is_some_and(|sent| {
                    sent.partition == received.partition && sent.offset == received.offset
                })
            });
            if exact.is_some() {
                return exact;
            }
        }
        if let Some(span) = non_empty(&event.metadata.upstream_span_id) {
            let caller = self.span_caller(span, receive);
            if let Some(caller) = caller.filter(|&c| message(c).is_some()) {
                return Some(caller);
            }
        }
        let sends = sends?;
        let compatible = |s: usize| message(s).is_some_and(|sent| keys_match(sent, received));
        self.latest_before_else_first(sends, receive, compatible)
    }

    /// Where the tree rule (module doc) puts every event, by input index.
    pub(crate) fn attachments(&self) -> Vec<Attachment> {
        let mut attachments = vec![Attachment::Root; self.events.len()];
        let mut entered = EnteredSpans::new(self.actor_count());
        for &i in &self.order {
            let event = &self.events[i];
            let upstream = non_empty(&event.metadata.upstream_span_id);
            let first_in_span = upstream.filter(|span| entered.enter(self.actor[i], span));
            let linked = |parent: usize, kind: LinkKind| Attachment::Linked { parent, kind };
            attachments[i] = if let Some(parent_id) = event.parent_id.filter(|p| *p != event.id) {
                match self.parent_of(i, &parent_id) {
                    Some(parent) => linked(parent, LinkKind::Parent),
                    None => Attachment::MissingParent(parent_id),
                }
            } else if let Some(caller) = first_in_span.and_then(|s| self.span_caller(s, i)) {
                linked(caller, LinkKind::RemoteCall)
            } else if let Some(spawn) = self.first_of_actor(i).then(|| self.spawn_of(i)).flatten() {
                linked(spawn, LinkKind::Spawn)
            } else if let Some(send) = self.message_source(i) {
                linked(send, LinkKind::Message)
            } else if let Some(previous) = self.prev_in_actor(i) {
                linked(previous, LinkKind::ProgramOrder)
            } else {
                Attachment::Root
            };
        }
        attachments
    }

    /// Every remote-call link: (caller step, actor's first step in the downstream span).
    pub(crate) fn remote_calls(&self) -> Vec<(usize, usize)> {
        let mut entered = EnteredSpans::new(self.actor_count());
        let mut calls = Vec::new();
        for &i in &self.order {
            let upstream = non_empty(&self.events[i].metadata.upstream_span_id);
            if let Some(span) = upstream.filter(|span| entered.enter(self.actor[i], span)) {
                if let Some(caller) = self.span_caller(span, i) {
                    calls.push((caller, i));
                }
            }
        }
        calls
    }

    fn first_of_actor(&self, i: usize) -> bool {
        self.prev[i].is_none()
    }
}

/// The upstream spans each actor has entered. An actor rarely serves more than a few requests,
/// so a short list per actor beats hashing every event's span id.
struct EnteredSpans<'a> {
    by_actor: Vec<Vec<&'a str>>,
}

impl<'a> EnteredSpans<'a> {
    fn new(actors: usize) -> Self {
        EnteredSpans {
            by_actor: vec![Vec::new(); actors],
        }
    }

    /// True the first time `actor` enters `span`.
    fn enter(&mut self, actor: usize, span: &'a str) -> bool {
        let Some(entered) = self.by_actor.get_mut(actor) else {
            return false;
        };
        if entered.contains(&span) {
            return false;
        }
        entered.push(span);
        true
    }
}

/// Kafka keys: equal, or unknown on one side.
fn keys_match(sent: &MessageEvent, received: &MessageEvent) -> bool {
    match (&sent.key, &received.key) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

#[cfg(test)]
#[path = "links_tests.rs"]
mod tests;

//! Time travel: the state of one trace after any step of its causal order, and the differences
//! between two such states.
//!
//! # Rule
//!
//! The steps of a trace are its events in [`TraceCausality::causal_order`], the deterministic
//! topological order of happens-before that every other analysis and `GET /api/traces/{id}` use.
//! The state after step `k` is what replaying steps `0..=k` leaves:
//!
//! - **Variables**, keyed by the name the SDK recorded: the `new_value` of the last replayed write
//!   (`Write`, `AtomicWrite`, `AtomicRMW`), with that write's event, actor and step as its last
//!   writer. Before the variable's first write, the value the last replayed read saw (a read
//!   records the value it read as `new_value`), with no writer.
//! - **Threads** (actors: service, instance, thread): the last replayed event of each, and the
//!   locks it held there, as [`causality`](crate::causality) rebuilt them (an acquire holds the
//!   lock it took, a release no longer holds the lock it gave back), and the semaphore permits
//!   it held: causality leaves semaphores out, because they exclude nobody
//!   ([`LockKind::excludes`]), so they are replayed here, one permit per acquire until its
//!   release. A user stepping to a stuck request must see the permit it holds.
//!
//! [`compare_states`] lists the variables whose values differ between two states, of one trace
//! or of two (a variable present on one side only differs).
//!
//! # Reason
//!
//! Replaying along happens-before shows a state some execution could have had: every step's
//! causes were replayed before it. Timestamps cannot promise that, because clocks of different
//! hosts are skewed. Using the same order as the other analyses lets a client step by the index
//! of `GET /api/traces/{id}/steps` and meet the events in the order the API lists them.
//!
//! # What breaks otherwise
//!
//! Replaying by timestamp or arrival would show values no run produced (a callee's write before
//! the request that caused it). Keying variables by anything but the recorded name (say,
//! qualified by environment or service) would make the same variable of a racy and a safe run of
//! one request incomparable. Keeping a read's value after a write would show a stale read as the
//! variable's value, hiding which write the state came from.
//!
//! Cost: one pass over the replayed steps, O(events) per state; nothing is stored.

use std::collections::{BTreeMap, HashMap};

use raceway_schemas::{ActorId, Event, EventKind, HeldLock, LockKind};
use uuid::Uuid;

use crate::TraceCausality;

/// One step of a trace: an event at its index in the causal order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Index in the causal order (what a client steps by).
    pub step: usize,
    /// Index of the event in the slice given.
    pub event_index: usize,
    /// The event's id.
    pub event_id: Uuid,
    /// Who performed it.
    pub actor: ActorId,
    /// The event kind's name (`StateChange`, `LockAcquire`, ...).
    pub kind: &'static str,
    /// A short human label: `write balance = 15`, `acquire m`, `call app::handle`.
    pub label: String,
}

/// Who last wrote a variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Writer {
    /// The write's event id.
    pub event_id: Uuid,
    /// Who wrote.
    pub actor: ActorId,
}

/// A variable's value after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableState {
    /// JSON text of the value, as recorded.
    pub value: String,
    /// The last replayed write; `None` while the variable was only read.
    pub last_writer: Option<Writer>,
    /// The step of that write.
    pub written_at_step: Option<usize>,
}

/// Where one actor is after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadState {
    /// The actor.
    pub actor: ActorId,
    /// Its last replayed event.
    pub last_event_id: Uuid,
    /// The step of that event.
    pub last_step: usize,
    /// The locks it holds there, sorted by lock id.
    pub locks_held: Vec<HeldLock>,
}

/// The state of a trace after one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceState {
    /// The step replayed last.
    pub step: usize,
    /// How many steps the trace has.
    pub total_steps: usize,
    /// Index of the step's event in the slice given.
    pub event_index: usize,
    /// By recorded variable name.
    pub variables: BTreeMap<String, VariableState>,
    /// Every actor seen so far, sorted by actor.
    pub threads: Vec<ThreadState>,
}

/// A variable whose value differs between two states; `None` where it does not exist yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableDifference {
    /// The variable's recorded name.
    pub variable: String,
    /// Its state on the left.
    pub left: Option<VariableState>,
    /// Its state on the right.
    pub right: Option<VariableState>,
}

/// The steps of a trace, in causal order.
pub fn trace_steps(events: &[Event], causality: &TraceCausality) -> Vec<Step> {
    causality
        .causal_order
        .iter()
        .enumerate()
        .filter_map(|(step, &event_index)| {
            let event = events.get(event_index)?;
            Some(Step {
                step,
                event_index,
                event_id: event.id,
                actor: event.actor(),
                kind: event.kind.name(),
                label: step_label(event),
            })
        })
        .collect()
}

/// The step of the event with id `event_id`, if the trace has it.
pub fn step_of_event(
    events: &[Event],
    causality: &TraceCausality,
    event_id: Uuid,
) -> Option<usize> {
    causality
        .causal_order
        .iter()
        .position(|&index| events.get(index).is_some_and(|e| e.id == event_id))
}

/// The state after step `step` (see the module doc); `None` when the trace has no such step.
pub fn state_after(
    events: &[Event],
    causality: &TraceCausality,
    step: usize,
) -> Option<TraceState> {
    let order = &causality.causal_order;
    let event_index = *order.get(step)?;
    // Positions (steps) of the last write and last read per variable, and the last step per
    // actor: owned values are built once at the end, not once per replayed event.
    let mut last_access: HashMap<&str, (Option<usize>, Option<usize>)> = HashMap::new();
    let mut last_of_actor: HashMap<(&str, &str, &str), usize> = HashMap::new();
    let mut permits = SemaphorePermits::default();
    for (position, &index) in order[..=step].iter().enumerate() {
        let event = events.get(index)?;
        let metadata = &event.metadata;
        let instance = metadata.instance_id.as_deref().unwrap_or_default();
        let actor = (
            metadata.service_name.as_str(),
            instance,
            metadata.thread_id.as_str(),
        );
        last_of_actor.insert(actor, position);
        permits.replay(actor, &event.kind);
        if let EventKind::StateChange(change) = &event.kind {
            let entry = last_access.entry(&change.variable).or_default();
            if change.access_type.is_write() {
                entry.0 = Some(position);
            } else {
                entry.1 = Some(position);
            }
        }
    }
    let at = |position: usize| &events[order[position]];
    let variables = last_access
        .into_iter()
        .filter_map(|(name, (write, read))| {
            let position = write.or(read)?;
            let event = at(position);
            let value = event.state_change()?.new_value.clone();
            let last_writer = write.map(|_| Writer {
                event_id: event.id,
                actor: event.actor(),
            });
            let state = VariableState {
                value,
                last_writer,
                written_at_step: write,
            };
            Some((name.to_string(), state))
        })
        .collect();
    let mut threads: Vec<ThreadState> = last_of_actor
        .into_iter()
        .map(|(actor, position)| {
            let index = order[position];
            let mut locks_held: Vec<HeldLock> = causality
                .per_event
                .get(index)
                .map(|c| c.locks.to_vec())
                .unwrap_or_default();
            locks_held.extend(permits.held_by(actor));
            locks_held.sort_by(|a, b| a.lock_id.cmp(&b.lock_id));
            ThreadState {
                actor: events[index].actor(),
                last_event_id: events[index].id,
                last_step: position,
                locks_held,
            }
        })
        .collect();
    threads.sort_by(|a, b| a.actor.cmp(&b.actor));
    Some(TraceState {
        step,
        total_steps: order.len(),
        event_index,
        variables,
        threads,
    })
}

/// The variables whose values differ between `left` and `right`, by name. Only values count: the
/// same value written by another actor is no difference.
pub fn compare_states(left: &TraceState, right: &TraceState) -> Vec<VariableDifference> {
    let mut names: Vec<&String> = left
        .variables
        .keys()
        .chain(right.variables.keys())
        .collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter_map(|name| {
            let (l, r) = (left.variables.get(name), right.variables.get(name));
            let same = match (l, r) {
                (Some(l), Some(r)) => l.value == r.value,
                _ => false,
            };
            (!same).then(|| VariableDifference {
                variable: name.clone(),
                left: l.cloned(),
                right: r.cloned(),
            })
        })
        .collect()
}

/// A short label for a step: what it did, on what.
pub fn step_label(event: &Event) -> String {
    match &event.kind {
        EventKind::StateChange(change) => {
            let verb = if change.access_type.is_write() {
                "write"
            } else {
                "read"
            };
            format!("{verb} {} = {}", change.variable, change.new_value)
        }
        EventKind::LockAcquire(lock) => format!("acquire {}", lock.lock_id),
        EventKind::LockRelease(lock) => format!("release {}", lock.lock_id),
        EventKind::FunctionCall(_) => format!("call {}", crate::trace::event_location(event)),
        EventKind::HttpResponse(response) => format!("response {}", response.status),
        _ => {
            let location = crate::trace::event_location(event);
            if location.is_empty() {
                event.kind.name().to_string()
            } else {
                format!("{} {location}", event.kind.name())
            }
        }
    }
}

#[cfg(test)]
mod tests;

/// (service, instance, thread) of an actor, borrowed from its events.
type ActorKey<'e> = (&'e str, &'e str, &'e str);

/// Semaphore permits held per actor while steps are replayed (see the module doc).
#[derive(Default)]
struct SemaphorePermits<'e> {
    /// Permits held: (actor, semaphore id) -> (mode of the last acquire, permits).
    held: BTreeMap<(ActorKey<'e>, &'e str), (raceway_schemas::LockMode, usize)>,
}

impl<'e> SemaphorePermits<'e> {
    fn replay(&mut self, actor: ActorKey<'e>, kind: &'e EventKind) {
        match kind {
            EventKind::LockAcquire(lock) if !LockKind::of(&lock.lock_type).excludes() => {
                let entry = self
                    .held
                    .entry((actor, lock.lock_id.as_str()))
                    .or_insert((lock.mode, 0));
                entry.0 = lock.mode;
                entry.1 += 1;
            }
            EventKind::LockRelease(lock) if !LockKind::of(&lock.lock_type).excludes() => {
                let key = (actor, lock.lock_id.as_str());
                if let Some(entry) = self.held.get_mut(&key) {
                    entry.1 -= 1;
                    if entry.1 == 0 {
                        self.held.remove(&key);
                    }
                }
            }
            _ => {}
        }
    }

    /// The semaphores `actor` holds a permit of.
    fn held_by(&self, actor: ActorKey<'e>) -> impl Iterator<Item = HeldLock> + '_ {
        self.held
            .range((actor, "")..)
            .take_while(move |((holder, _), _)| *holder == actor)
            .map(|((_, lock_id), (mode, _))| HeldLock {
                lock_id: lock_id.to_string(),
                mode: *mode,
            })
    }
}

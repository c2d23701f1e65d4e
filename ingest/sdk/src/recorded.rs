//! [`Recorded`]: an event as the hot path queues it, made into a schemas `Event` on the
//! delivery thread. Recording only snapshots what changes per event (kind, clock, ids, time);
//! the per-service metadata and the clock's wire form are built off the application's threads.

use std::cell::RefCell;
use std::panic::Location;
use std::sync::Arc;

use raceway_schemas::{Event, EventKind, Metadata, VectorClock};
use rand::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
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
    /// The source location of a state change or lock event, when the caller's (see
    /// [`CallSite`]): formatted into the event's `location` here, off the application's thread.
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
        if let Some(site) = self.call_site {
            let location = match &mut kind {
                EventKind::StateChange(change) => Some(&mut change.location),
                EventKind::LockAcquire(lock) | EventKind::LockRelease(lock) => {
                    Some(&mut lock.location)
                }
                _ => None,
            };
            if let Some(location) = location {
                *location = format!("{}:{}", site.file(), site.line());
            }
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

/// A random (v4) UUID from a per-thread xoshiro256++ generator, seeded once per thread from
/// the OS-seeded `thread_rng`.
///
/// Event ids only need to be unique, not unpredictable: 122 random bits from a generator with
/// 256 bits of state, seeded independently per thread, make a collision as unlikely as with
/// `Uuid::new_v4`. `Uuid::new_v4` asks the OS for every id, and `thread_rng` (ChaCha12) spent
/// about 310 instructions per id, a third of recording an event; xoshiro spends a few dozen.
pub(crate) fn random_id() -> Uuid {
    thread_local! {
        static IDS: RefCell<Xoshiro256PlusPlus> = RefCell::new(Xoshiro256PlusPlus::from_rng(rand::thread_rng())
            .unwrap_or_else(|_| Xoshiro256PlusPlus::seed_from_u64(rand::random())));
    }
    let bytes = IDS.with(|ids| {
        let mut ids = ids.borrow_mut();
        let mut bytes = [0_u8; 16];
        bytes[..8].copy_from_slice(&ids.next_u64().to_le_bytes());
        bytes[8..].copy_from_slice(&ids.next_u64().to_le_bytes());
        bytes
    });
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::random_id;

    #[test]
    fn ids_are_version_4_and_distinct_across_threads() {
        let per_thread = |_| (0..10_000).map(|_| random_id()).collect::<Vec<_>>();
        let threads: Vec<_> = (0..4)
            .map(|t| std::thread::spawn(move || per_thread(t)))
            .collect();
        let mut seen = HashSet::new();
        for thread in threads {
            for id in thread.join().expect("thread") {
                assert_eq!(id.get_version_num(), 4);
                assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
                assert!(seen.insert(id), "duplicate id {id}");
            }
        }
        assert_eq!(seen.len(), 40_000);
    }
}

//! [`Recorded`]: an event as the hot path queues it, made into a schemas `Event` on the
//! delivery thread.
//!
//! # Rule
//!
//! Recording a read, a write or a lock event allocates nothing on the application's thread:
//! the variable or lock name and the values' JSON text are written into one inline buffer
//! ([`Text`], spilling to the heap only past [`INLINE_TEXT`] bytes), names are qualified and
//! locations formatted on the delivery thread, and the clock travels as the actor's last
//! [`Snapshot`] (shared, taken only when the clock changed other than by the actor's own steps)
//! plus the actor's own counter.
//!
//! # Reason
//!
//! Each allocation made on the recording thread is freed on the delivery thread. Four of them
//! per write (two values, the qualified name, the clock's vector) were most of a recording's
//! cost besides the queue, and their frees from the other thread are what made the allocator's
//! slow paths (page collection, and on glibc arena contention) land on the application's next
//! allocations: the tail of the recording time.
//!
//! # What breaks otherwise
//!
//! The clock is exact only while the snapshot is taken again after every change that is not the
//! actor's own increment ([`crate::Actor::join_clock`] and the span setters do so): an event
//! whose snapshot predates a join would be delivered with the clock before the join, and the
//! processors would report a race the synchronisation excludes.

use std::cell::RefCell;
use std::panic::Location;
use std::sync::Arc;

use raceway_schemas::{
    AccessType, Event, EventKind, LockEvent, LockMode, Metadata, StateChange, VectorClock,
};
use rand::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;
use smallvec::SmallVec;
use uuid::Uuid;

/// Bytes of names and JSON text an event holds without allocating.
pub(crate) const INLINE_TEXT: usize = 64;

/// Text recorded with an event (names, JSON values), inline up to [`INLINE_TEXT`] bytes.
pub(crate) type Text = SmallVec<[u8; INLINE_TEXT]>;

/// Who recorded: an actor's name, clock component and distributed spans, shared by all its
/// events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ActorLabel {
    /// The actor's unique name (`metadata.thread_id`).
    pub name: String,
    /// The actor's own clock component.
    pub component: Arc<str>,
    /// `metadata.distributed_span_id`.
    pub span: Option<String>,
    /// `metadata.upstream_span_id`.
    pub upstream: Option<String>,
}

/// An actor's label and clock as they stood at its last change other than an own step: every
/// event recorded until the next change shares it, with its own counter beside it.
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub label: Arc<ActorLabel>,
    pub clock: VectorClock,
}

/// One recorded event, not yet in its wire form.
pub(crate) struct Recorded {
    pub id: Uuid,
    pub trace_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub timestamp_ns: i64,
    pub what: What,
    pub actor: Arc<Snapshot>,
    /// The actor's own clock component at this event; the rest of the clock is the snapshot's.
    pub counter: u64,
}

/// What happened, in the form cheapest to record.
pub(crate) enum What {
    /// A read or write recorded through [`crate::Actor::read`] / [`crate::Actor::write`].
    Access(Access),
    /// A lock acquired or released.
    Lock(Lock),
    /// Any other event, already in its wire form.
    Kind(EventKind),
}

/// A state change: `text` holds the variable's name as given, then the old value's JSON (when
/// known), then the new value's JSON.
pub(crate) struct Access {
    pub text: Text,
    pub variable_end: u32,
    /// End of the old value's text; `None` when the old value is not known.
    pub old_end: Option<u32>,
    /// Recorded under exactly its name ([`crate::Var::shared`]), not qualified.
    pub shared: bool,
    pub access_type: AccessType,
    pub site: &'static Location<'static>,
}

/// A `LockAcquire` or `LockRelease` of the lock named `lock_id` (not yet qualified).
pub(crate) struct Lock {
    pub lock_id: Text,
    pub release: bool,
    pub mode: LockMode,
    pub lock_type: &'static str,
    pub site: &'static Location<'static>,
}

impl Access {
    /// The state change of `variable`, with the old value when given; the values' canonical
    /// JSON text is written straight into the event's inline text.
    pub(crate) fn new<O, N>(
        variable: &str,
        shared: bool,
        old: Option<&O>,
        new: &N,
        access_type: AccessType,
        site: &'static Location<'static>,
    ) -> Access
    where
        O: Serialize + ?Sized,
        N: Serialize + ?Sized,
    {
        let mut text = Text::new();
        text.extend_from_slice(variable.as_bytes());
        let variable_end = offset(&text);
        let old_end = old.map(|old| {
            write_json(&mut text, old);
            offset(&text)
        });
        write_json(&mut text, new);
        Access {
            text,
            variable_end,
            old_end,
            shared,
            access_type,
            site,
        }
    }

    fn into_kind(self, qualifier: &str) -> EventKind {
        let variable_end = self.variable_end as usize;
        let name = text(&self.text[..variable_end]);
        let variable = if self.shared {
            name
        } else {
            qualified(qualifier, &name)
        };
        let (old_value, new_start) = match self.old_end {
            Some(end) => (
                Some(text(&self.text[variable_end..end as usize])),
                end as usize,
            ),
            None => (None, variable_end),
        };
        EventKind::StateChange(StateChange {
            variable,
            old_value,
            new_value: text(&self.text[new_start..]),
            location: location(self.site),
            access_type: self.access_type,
        })
    }
}

impl Lock {
    fn into_kind(self, qualifier: &str) -> EventKind {
        let event = LockEvent {
            lock_id: qualified(qualifier, &text(&self.lock_id)),
            mode: self.mode,
            lock_type: self.lock_type.to_string(),
            location: location(self.site),
        };
        if self.release {
            EventKind::LockRelease(event)
        } else {
            EventKind::LockAcquire(event)
        }
    }
}

impl Recorded {
    /// The event, with `template` (the tracer's metadata) completed by the actor's label, and
    /// in-process names qualified with `qualifier` (`"{service}#{instance}::"`).
    pub(crate) fn into_event(self, template: &Metadata, qualifier: &str) -> Event {
        let kind = match self.what {
            What::Access(access) => access.into_kind(qualifier),
            What::Lock(lock) => lock.into_kind(qualifier),
            What::Kind(kind) => kind,
        };
        let label = &self.actor.label;
        let mut metadata = template.clone();
        metadata.thread_id.clone_from(&label.name);
        metadata.distributed_span_id.clone_from(&label.span);
        metadata.upstream_span_id.clone_from(&label.upstream);
        Event {
            id: self.id,
            trace_id: self.trace_id,
            parent_id: self.parent_id,
            timestamp_ns: self.timestamp_ns,
            kind,
            metadata,
            causality_vector: clock_pairs(&self.actor.clock, &label.component, self.counter),
            lock_set: Vec::new(),
        }
    }
}

/// The clock's pairs with the component `own` set to `counter` (the snapshot's clock differs
/// from the event's only there).
fn clock_pairs(clock: &VectorClock, own: &str, counter: u64) -> Vec<(String, u64)> {
    let mut pairs = Vec::with_capacity(clock.len() + 1);
    let mut placed = counter == 0;
    for (component, value) in clock.iter() {
        if !placed && component >= own {
            pairs.push((own.to_string(), counter));
            placed = true;
            if component == own {
                continue;
            }
        }
        pairs.push((component.to_string(), value));
    }
    if !placed {
        pairs.push((own.to_string(), counter));
    }
    pairs
}

/// A caller's location as `file:line`.
pub(crate) fn location(site: &'static Location<'static>) -> String {
    format!("{}:{}", site.file(), site.line())
}

/// `"{qualifier}{name}"`.
pub(crate) fn qualified(qualifier: &str, name: &str) -> String {
    let mut qualified = String::with_capacity(qualifier.len() + name.len());
    qualified.push_str(qualifier);
    qualified.push_str(name);
    qualified
}

/// Recorded text as a `String`. Names come from `&str` and values from serde_json, so the bytes
/// are UTF-8; a lossy conversion keeps a broken value readable rather than failing the event.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The text's length as an offset. Recorded text past 4 GiB is cut at the offset (no event is
/// that large: the gateway refuses bodies far smaller).
fn offset(text: &Text) -> u32 {
    u32::try_from(text.len()).unwrap_or(u32::MAX)
}

/// Appends the canonical JSON text of `value` to `out`: what [`to_json`] returns, without its
/// own allocation for the common values (scalars and arrays of scalars, which serialise
/// canonically as they are).
pub(crate) fn write_json<V: Serialize + ?Sized>(out: &mut Text, value: &V) {
    let start = out.len();
    if serde_json::to_writer(&mut *out, value).is_ok() && !out[start..].contains(&b'{') {
        return;
    }
    out.truncate(start);
    out.extend_from_slice(canonical_through_value(value).as_bytes());
}

/// Canonical JSON text of a value (as the schemas' JSON codec stores it, so equal values give
/// equal text); `null` (and a warning) when it cannot be serialised.
pub(crate) fn to_json<V: Serialize + ?Sized>(value: &V) -> String {
    // Scalars and arrays of scalars serialise canonically as they are; only objects need their
    // keys sorted, through a `Value`.
    if let Ok(text) = serde_json::to_string(value) {
        if !text.contains('{') {
            return text;
        }
    }
    canonical_through_value(value)
}

/// The canonical text of a value holding objects (or one that failed to serialise directly):
/// through a `Value`, whose keys the schemas' codec writes sorted.
fn canonical_through_value<V: Serialize + ?Sized>(value: &V) -> String {
    match serde_json::to_value(value) {
        Ok(value) => raceway_schemas::json::canonical_json_text(&value),
        Err(error) => {
            tracing::warn!(%error, "raceway: recorded value is not serialisable, recording null");
            "null".to_string()
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

    use raceway_schemas::VectorClock;

    use super::{clock_pairs, random_id};

    #[test]
    fn the_own_counter_replaces_or_joins_the_snapshots_component_in_order() {
        let snapshot = VectorClock::from_pairs([("b", 2_u64), ("d", 4)]);
        let pairs = |own: &str, counter: u64| {
            clock_pairs(&snapshot, own, counter)
                .into_iter()
                .map(|(c, n)| format!("{c}={n}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        assert_eq!(pairs("a", 1), "a=1,b=2,d=4");
        assert_eq!(pairs("b", 7), "b=7,d=4");
        assert_eq!(pairs("c", 3), "b=2,c=3,d=4");
        assert_eq!(pairs("d", 5), "b=2,d=5");
        assert_eq!(pairs("e", 1), "b=2,d=4,e=1");
        assert_eq!(
            clock_pairs(&VectorClock::new(), "a", 1),
            [("a".to_string(), 1)]
        );
    }

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

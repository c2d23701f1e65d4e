//! The retained forms of an access and of an update span (see the `retention` module doc), and
//! the domination rule between two retained accesses.

use std::hash::BuildHasher;
use std::sync::{Arc, OnceLock};

use compact_str::CompactString;
use raceway_schemas::{
    Access, AccessType, ActorId, CompactClock, HeldLock, UpdateRead, UpdateSpan,
};
use uuid::Uuid;

use super::{Age, CanonicalPieces, Clock, ComponentIds};
use crate::pairs::UpdateContext;
use crate::rules::{Side, SpanSide};

/// What the race rules read of a retained access: its own facts inline, the pieces that repeat
/// across accesses shared (see `interning`), its environment and variable left to the
/// caller, who keys the access by them anyway.
#[derive(Debug)]
pub(crate) struct Facts {
    pub(crate) event_id: Uuid,
    pub(crate) trace_id: Uuid,
    pub(crate) timestamp_ns: i64,
    pub(crate) trace_start_ns: i64,
    pub(crate) trace_end_ns: i64,
    pub(crate) access_type: AccessType,
    pub(crate) trusted_clock: bool,
    pub(crate) actor: Arc<ActorId>,
    pub(crate) location: Arc<str>,
    /// Sorted and deduplicated, so lock sets compare with `==`.
    pub(crate) locks: Arc<[HeldLock]>,
    /// Inline when short (the usual value), so that the entry holds it in its own bytes.
    value: CompactString,
    old_value: Option<CompactString>,
}

/// An access kept for comparison, normalised once on arrival.
#[derive(Debug)]
pub(crate) struct Retained {
    /// The access without environment, variable and clock pairs.
    pub(crate) access: Facts,
    pub(crate) clock: Clock,
    /// Hash of the domination key (see [`dominates`]), computed once.
    pub(super) key: u64,
    /// The whole access, rebuilt the first time it is part of a pair.
    whole: OnceLock<Arc<Access>>,
}

impl Retained {
    /// Normalises `access` for comparisons, numbering its clock components through `names` and
    /// sharing its repeated pieces through `pieces`, first trying the pieces of `neighbour` (the
    /// newest retained access of the same variable, usually at the same location under the same
    /// locks): one comparison with memory the caller just read instead of a lookup in the shared
    /// sets.
    ///
    /// The pieces it keeps are taken out of `access` rather than the access moved in: an access
    /// is about 250 bytes, and moving it through each step copied it every time.
    #[inline(always)]
    pub(crate) fn interned_near(
        access: &mut Access,
        names: &mut ComponentIds,
        pieces: &mut CanonicalPieces,
        neighbour: Option<&Retained>,
    ) -> Self {
        let clock = names.take_clock(&mut access.clock);
        let access = Facts::new(access, pieces, neighbour.map(|n| &n.access));
        Retained {
            key: domination_key(&access),
            access,
            clock,
            whole: OnceLock::new(),
        }
    }

    /// What the race rules read of the access.
    pub(crate) fn side(&self) -> Side<'_, Clock> {
        self.access.side(&self.clock)
    }

    /// (timestamp, event id): the order retained accesses are kept in.
    pub(super) fn age(&self) -> Age {
        (self.access.timestamp_ns, self.access.event_id)
    }

    /// The access as findings report it, with its (normalised) lock set and clock pairs;
    /// `names` must be the [`ComponentIds`] the access was interned with, and `environment`
    /// and `variable` those it arrived with.
    pub(crate) fn shared(
        &self,
        names: &ComponentIds,
        environment: &Arc<str>,
        variable: &Arc<str>,
    ) -> Arc<Access> {
        Arc::clone(self.whole.get_or_init(|| {
            Arc::new(
                self.access
                    .whole(environment, variable, names.pairs(&self.clock)),
            )
        }))
    }
}

impl Facts {
    /// The facts of `access` (its environment, variable and clock pairs are not read), with the
    /// lock set sorted and deduplicated and the repeated pieces canonical through `pieces`, first
    /// trying `neighbour`'s (the same allocation, or equal content). The values are taken out of
    /// `access`, which is left with empty ones.
    #[inline(always)]
    fn new(access: &mut Access, pieces: &mut CanonicalPieces, neighbour: Option<&Facts>) -> Self {
        let location = match neighbour {
            Some(near) if same(&near.location, &access.location) => Arc::clone(&near.location),
            _ => pieces.shared().location(&access.location),
        };
        let locks = if access.locks.windows(2).all(|w| w[0] < w[1]) {
            match neighbour {
                Some(near) if same(&near.locks, &access.locks) => Arc::clone(&near.locks),
                _ => pieces.shared().locks(&access.locks),
            }
        } else {
            let mut sorted = access.locks.to_vec();
            sorted.sort();
            sorted.dedup();
            pieces.shared().sorted_locks(&Arc::from(sorted))
        };
        let actor = match neighbour {
            Some(near) if Arc::ptr_eq(&near.actor, &access.actor) => Arc::clone(&near.actor),
            _ => pieces.actor(&access.actor),
        };
        Facts {
            event_id: access.event_id,
            trace_id: access.trace_id,
            timestamp_ns: access.timestamp_ns,
            trace_start_ns: access.trace_start_ns,
            trace_end_ns: access.trace_end_ns,
            access_type: access.access_type,
            trusted_clock: access.trusted_clock,
            actor,
            location,
            locks,
            value: CompactString::from(std::mem::take(&mut access.value)),
            old_value: access.old_value.take().map(CompactString::from),
        }
    }

    /// What the race rules read of the access, with its `clock`.
    fn side<'a>(&'a self, clock: &'a Clock) -> Side<'a, Clock> {
        Side {
            event_id: self.event_id,
            trace_id: self.trace_id,
            trace_span: (self.trace_start_ns, self.trace_end_ns),
            access_type: self.access_type,
            actor: &self.actor,
            locks: &self.locks,
            clock,
        }
    }

    /// The whole access again, with the given environment, variable and clock pairs.
    fn whole(&self, environment: &Arc<str>, variable: &Arc<str>, clock: CompactClock) -> Access {
        Access {
            event_id: self.event_id,
            trace_id: self.trace_id,
            timestamp_ns: self.timestamp_ns,
            environment: Arc::clone(environment),
            variable: Arc::clone(variable),
            access_type: self.access_type,
            location: Arc::clone(&self.location),
            value: self.value.to_string(),
            old_value: self.old_value.as_ref().map(CompactString::to_string),
            actor: Arc::clone(&self.actor),
            clock,
            trusted_clock: self.trusted_clock,
            locks: Arc::clone(&self.locks),
            trace_start_ns: self.trace_start_ns,
            trace_end_ns: self.trace_end_ns,
        }
    }
}

/// True when `a` and `b` are one allocation or equal. `Arc`'s own `==` looks at the pointers
/// first only for sized contents, not for `str` or slices.
fn same<T: PartialEq + ?Sized>(a: &Arc<T>, b: &Arc<T>) -> bool {
    Arc::ptr_eq(a, b) || **a == **b
}

/// True when `later` makes `earlier` redundant for race detection (see the module doc).
pub(crate) fn dominates(later: &Retained, earlier: &Retained) -> bool {
    let (l, e) = (&later.access, &earlier.access);
    later.key == earlier.key
        && l.event_id != e.event_id
        && l.trace_id == e.trace_id
        && l.trace_start_ns == e.trace_start_ns
        && l.trace_end_ns == e.trace_end_ns
        && same(&l.actor, &e.actor)
        && same(&l.location, &e.location)
        && l.access_type == e.access_type
        && same(&l.locks, &e.locks)
        && earlier.clock.happens_before(&later.clock)
        && earlier.clock.differing_components(&later.clock) == 1
}

/// An update span kept for comparison with later writes, clocks normalised once.
#[derive(Debug)]
pub(crate) struct RetainedSpan {
    /// The span's write and read without their clock pairs, which are the compact clocks below
    /// (a span would otherwise own two allocations per clock component); the write's repeated
    /// pieces are shared as for [`Retained`], its environment and variable left to the caller.
    pub(crate) write: Facts,
    pub(crate) read: UpdateRead,
    pub(crate) read_clock: Clock,
    pub(crate) write_clock: Clock,
    /// Sorted and deduplicated, and the shared copy of that lock set (`interning`): usually
    /// the very copy the other writes of the variable hold, so the lock test compares addresses.
    pub(crate) held_throughout: Arc<[HeldLock]>,
    /// The write and the update context as findings report them, rebuilt on first use.
    whole: OnceLock<(Arc<Access>, Arc<UpdateContext>)>,
}

impl RetainedSpan {
    /// Normalises `span` for comparisons, numbering its clock components through `names`.
    pub(crate) fn interned(
        mut span: UpdateSpan,
        names: &mut ComponentIds,
        pieces: &mut CanonicalPieces,
    ) -> Self {
        let read_clock = names.take_clock(&mut span.read.clock);
        let write_clock = names.take_clock(&mut span.write.clock);
        let write = Facts::new(&mut span.write, pieces, None);
        let mut held = span.held_throughout;
        held.sort();
        held.dedup();
        // Usually the write's own lock set (the lock taken for the read is still held at the
        // write, and nothing else): its shared copy, without a lookup.
        let held_throughout = if *held == *write.locks {
            Arc::clone(&write.locks)
        } else {
            pieces.shared().sorted_locks(&Arc::from(held))
        };
        RetainedSpan {
            write,
            read: span.read,
            read_clock,
            write_clock,
            held_throughout,
            whole: OnceLock::new(),
        }
    }

    /// What the lost-update rule reads of the span.
    pub(crate) fn side(&self) -> SpanSide<'_, Clock> {
        SpanSide {
            read_event_id: self.read.event_id,
            read_clock: &self.read_clock,
            write: self.write.side(&self.write_clock),
            held_throughout: &self.held_throughout,
        }
    }

    /// The span's write and its update context with their (normalised) clock pairs; `names`
    /// must be the [`ComponentIds`] the span was interned with, and `environment` and
    /// `variable` those its write arrived with.
    pub(crate) fn whole(
        &self,
        names: &ComponentIds,
        environment: &Arc<str>,
        variable: &Arc<str>,
    ) -> (Arc<Access>, Arc<UpdateContext>) {
        let (write, context) = self.whole.get_or_init(|| {
            let write = (self.write).whole(environment, variable, names.pairs(&self.write_clock));
            let mut read = self.read.clone();
            read.clock = names.pairs(&self.read_clock);
            let context = UpdateContext {
                write_event_id: write.event_id,
                read,
            };
            (Arc::new(write), Arc::new(context))
        });
        (Arc::clone(write), Arc::clone(context))
    }

    pub(super) fn age(&self) -> Age {
        (self.write.timestamp_ns, self.write.event_id)
    }
}

/// Hash of everything [`dominates`] requires to be equal, to find domination candidates. One
/// seed per process, so that the keys of one detector agree; a collision costs only time, since
/// [`dominates`] compares the fields themselves. The actor, location and lock set are hashed by
/// the address of their shared copy (`interning`), not by content: equal pieces share one
/// copy, except across a clear of the shared pieces, where an entry and a later equal one get
/// different keys and neither dominates the other, which only keeps one more entry.
fn domination_key(access: &Facts) -> u64 {
    static STATE: OnceLock<foldhash::fast::RandomState> = OnceLock::new();
    STATE.get_or_init(Default::default).hash_one((
        access.trace_id,
        access.trace_start_ns,
        access.trace_end_ns,
        Arc::as_ptr(&access.actor),
        Arc::as_ptr(&access.location).cast::<u8>(),
        access.access_type,
        Arc::as_ptr(&access.locks).cast::<HeldLock>(),
    ))
}

//! The retained forms of an access and of an update span (see the `retention` module doc), and
//! the domination rule between two retained accesses.

use std::sync::{Arc, OnceLock};

use raceway_schemas::{Access, CompactClock, HeldLock, UpdateRead, UpdateSpan};
use uuid::Uuid;

use super::shared_facts::{Site, Who};
use super::values::Values;
use super::{Age, CanonicalPieces, Clock, ComponentIds};
use crate::pairs::UpdateContext;
use crate::rules::{Side, SpanSide};

/// An access kept for comparison, normalised once on arrival: its own facts, the facts it
/// shares with other accesses behind two pointers ([`Who`], [`Site`]), and its clock; its
/// environment and variable are left to the caller, who keys the access by them anyway.
///
/// Rule: 128 bytes at most (two cache lines; a test holds it). Reason: the race stage is memory
/// bound, and every insertion writes the form into a cold slot of its variable's deque and every
/// eviction reads the oldest one back: each line more is a miss more per access. So the shared
/// facts are pointers, the values take 16 bytes, and the whole access a finding reports is kept
/// by the variable only for the entries in findings (`VariableAccesses::whole`).
#[derive(Debug)]
pub(crate) struct Retained {
    pub(crate) who: Arc<Who>,
    pub(crate) site: Arc<Site>,
    pub(crate) event_id: Uuid,
    pub(crate) timestamp_ns: i64,
    values: Values,
    pub(crate) clock: Clock,
}

impl Retained {
    /// Normalises `access` for comparisons, numbering its clock components through `names` and
    /// sharing its repeated facts through `pieces`, first trying the site of `neighbour` (the
    /// newest retained access of the same variable, usually at the same location under the same
    /// locks): one comparison with memory the caller just read instead of a lookup.
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
        let site = match neighbour {
            Some(near)
                if same(&near.site.location, &access.location)
                    && same(&near.site.locks, &access.locks) =>
            {
                Arc::clone(&near.site)
            }
            _ if access.locks.windows(2).all(|w| w[0] < w[1]) => {
                pieces.site(&access.location, &access.locks, false)
            }
            _ => {
                let mut sorted = access.locks.to_vec();
                sorted.sort();
                sorted.dedup();
                pieces.site(&access.location, &Arc::from(sorted), true)
            }
        };
        Retained {
            who: pieces.who(access),
            site,
            event_id: access.event_id,
            timestamp_ns: access.timestamp_ns,
            values: Values::new(&mut access.value, access.old_value.take()),
            clock,
        }
    }

    /// What the race rules read of the access.
    pub(crate) fn side(&self) -> Side<'_, Clock> {
        Side {
            event_id: self.event_id,
            trace_id: self.who.trace_id,
            trace_span: (self.who.trace_start_ns, self.who.trace_end_ns),
            access_type: self.who.access_type,
            actor: &self.who.actor,
            locks: &self.site.locks,
            clock: &self.clock,
        }
    }

    /// (timestamp, event id): the order retained accesses are kept in.
    pub(crate) fn age(&self) -> Age {
        (self.timestamp_ns, self.event_id)
    }

    /// Hash of everything [`dominates`] requires to be equal, to find domination candidates:
    /// the addresses of the canonical [`Who`] and [`Site`] (see `shared_facts`), which the
    /// entry holds, so neither address can stand for other facts while it is retained. Equal
    /// facts under two copies (across a clear of the tables) give two keys, and the two entries
    /// are kept apart: more memory, the same verdicts.
    pub(super) fn key(&self) -> u64 {
        let who = Arc::as_ptr(&self.who) as u64;
        let site = Arc::as_ptr(&self.site) as u64;
        let mixed = (who ^ site.rotate_left(32)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        mixed ^ (mixed >> 29)
    }

    /// The access as findings report it, with its (normalised) lock set and clock pairs;
    /// `names` must be the [`ComponentIds`] the access was interned with, and `environment`
    /// and `variable` those it arrived with.
    pub(crate) fn whole(
        &self,
        names: &ComponentIds,
        environment: &Arc<str>,
        variable: &Arc<str>,
    ) -> Access {
        self.whole_with_clock(environment, variable, names.pairs(&self.clock))
    }

    /// The whole access again, with the given environment, variable and clock pairs.
    fn whole_with_clock(
        &self,
        environment: &Arc<str>,
        variable: &Arc<str>,
        clock: CompactClock,
    ) -> Access {
        let (who, site) = (&*self.who, &*self.site);
        Access {
            event_id: self.event_id,
            trace_id: who.trace_id,
            timestamp_ns: self.timestamp_ns,
            environment: Arc::clone(environment),
            variable: Arc::clone(variable),
            access_type: who.access_type,
            location: Arc::clone(&site.location),
            value: self.values.value().to_string(),
            old_value: self.values.old_value().map(str::to_string),
            actor: Arc::clone(&who.actor),
            clock,
            trusted_clock: who.trusted_clock,
            locks: Arc::clone(&site.locks),
            trace_start_ns: who.trace_start_ns,
            trace_end_ns: who.trace_end_ns,
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
    later.event_id != earlier.event_id
        && same(&later.who, &earlier.who)
        && same(&later.site, &earlier.site)
        && earlier.clock.happens_before(&later.clock)
        && earlier.clock.differing_components(&later.clock) == 1
}

/// An update span kept for comparison with later writes, clocks normalised once.
#[derive(Debug)]
pub(crate) struct RetainedSpan {
    /// The span's write, retained as an access is (its clock is the write's clock), and its
    /// read without its clock pairs, which are the compact clock below (a span would otherwise
    /// own two allocations per clock component).
    pub(crate) write: Retained,
    pub(crate) read: UpdateRead,
    pub(crate) read_clock: Clock,
    /// Sorted and deduplicated, and the shared copy of that lock set (`interning`): usually
    /// the very copy the other writes of the variable hold, so the lock test compares addresses.
    pub(crate) held_throughout: Arc<[HeldLock]>,
    /// The write and the update context as findings report them, rebuilt on first use.
    whole: OnceLock<(Arc<Access>, Arc<UpdateContext>)>,
}

impl RetainedSpan {
    /// Normalises `span` for comparisons, numbering its clock components through `names` and
    /// sharing its write's facts as [`Retained::interned_near`] does, first trying the site of
    /// `neighbour` (the newest retained access of the variable: usually the span's own write,
    /// observed as an access).
    pub(crate) fn interned(
        mut span: UpdateSpan,
        names: &mut ComponentIds,
        pieces: &mut CanonicalPieces,
        neighbour: Option<&Retained>,
    ) -> Self {
        let read_clock = names.take_clock(&mut span.read.clock);
        let write = Retained::interned_near(&mut span.write, names, pieces, neighbour);
        let mut held = span.held_throughout;
        held.sort();
        held.dedup();
        // Usually the write's own lock set (the lock taken for the read is still held at the
        // write, and nothing else): its shared copy, without a lookup.
        let held_throughout = if *held == *write.site.locks {
            Arc::clone(&write.site.locks)
        } else {
            pieces.shared().sorted_locks(&Arc::from(held))
        };
        RetainedSpan {
            write,
            read: span.read,
            read_clock,
            held_throughout,
            whole: OnceLock::new(),
        }
    }

    /// What the lost-update rule reads of the span.
    pub(crate) fn side(&self) -> SpanSide<'_, Clock> {
        SpanSide {
            read_event_id: self.read.event_id,
            read_clock: &self.read_clock,
            write: self.write.side(),
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
            let write = self.write.whole(names, environment, variable);
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
        self.write.age()
    }
}

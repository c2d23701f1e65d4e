//! The three race rules of DESIGN.md "Race semantics", side by side: when two accesses are a
//! data race ([`is_data_race`]), when a write is lost against a read-modify-write
//! ([`is_lost_update`]) and when two lock-order edges are an inversion
//! ([`is_lock_order_inversion`]). The detectors ([`crate::RaceDetector`],
//! [`crate::LockOrderDetector`]) decide only *which* pairs to compare, as accesses arrive in any
//! order; every verdict is one of these functions.
//!
//! All three rules report what *another schedule* can do, not what this run did: a pair is
//! reported when nothing this run recorded (clocks, locks, actors, time) rules its interleaving
//! out. They share four tests:
//!
//! - **Different actors.** One actor runs its steps one after the other, whatever the trace, so
//!   its own accesses never interleave. Counting them would report every read-then-write.
//! - **Not ordered by the clocks.** An access that happens before the other cannot overlap it.
//!   Empty clocks are never ordered, so unclocked accesses always qualify. Trusted clocks can
//!   order two traces (a lock handed from one request to another); derived ones never do, because
//!   their components are scoped to their trace.
//! - **No lock in common in an excluding mode.** A lock held by both sides keeps them apart when
//!   at least one holds it exclusively: then the two critical sections cannot overlap, whatever the
//!   other's mode. Two shared (RwLock read) holds can overlap, so they protect only two reads, and
//!   two reads are never a race anyway: a read lock protects reads from writers that take the write
//!   lock, never writes from each other. Without the mode test, every pair under one RwLock would
//!   be either always or never reported.
//! - **Same trace, or overlapping traces.** Requests without a common clock are never ordered, so
//!   time is the only evidence that they could have interleaved: a pair from two traces counts
//!   only when the traces' time spans overlap, widened by
//!   [`RaceConfig::cross_trace_slack_ns`]. Without it, any two requests that ever touched a shared
//!   variable, hours apart, would race.
//!
//! # Data race
//!
//! Two accesses of the same variable race when at least one writes, they are not both atomic
//! (atomics are race free among themselves; an atomic and a plain access can race), and the four
//! shared tests hold. Severity (critical for write-write, warning for read-write) is set by the
//! findings.
//!
//! # Lost update
//!
//! An [`UpdateSpan`] is actor A's read `r` of variable x and A's later write `w` of x that
//! completes it (paired by the trace stage, see `crate::updates`). Another write `o` of x is
//! *lost* against the span when `o` is by another actor, `o` is neither before `r` nor after `w`
//! by the clocks (in some schedule `o` lands between the read and the write, and `w` overwrites it
//! with a value computed from the stale read), both are in one trace or overlapping traces, and no
//! lock held by A without a break from `r` through `w` is also held by `o` in an excluding mode.
//! Holding a lock for the read and taking it again for the write does not protect: that is the
//! "locked separately" banking bug, which no data race reveals, and why the trace stage computes
//! holds rather than lock sets. All kinds of writes qualify as `o`, atomic ones included (an atomic
//! store between a load and a store is lost all the same). Values are not part of the verdict:
//! they only describe this run, and appear in the explanation instead.
//!
//! # Lock-order inversion
//!
//! Edges `e` (X holds A, takes B) and `f` (Y holds B, takes A) are an inversion, a deadlock in
//! another schedule even if this run did not deadlock, when X and Y are different actors, both
//! waits would block (X's request for B conflicts with Y's hold of B and Y's request for A with
//! X's hold of A: two read locks never block), no common guard lock is held by both through their
//! whole nested sections in an excluding mode, the traces overlap, and the two nested sections are
//! not ordered by anything but these locks: neither inner acquisition happens before the other
//! actor's `start_clock` (what it knew before it went for its first lock), so a task spawned after
//! the other was joined is ordered. Ordering through an *earlier, separate* use of the same locks
//! also counts as ordered (clocks cannot tell which synchronisation carried it), which can miss an
//! inversion but never reports a false one.
//!
//! Longer cycles follow the same rule ([`is_lock_order_cycle`]): edges `e1` (X1 holds L1, takes
//! L2), `e2` (X2 holds L2, takes L3), ... `en` (Xn holds Ln, takes L1) deadlock in another
//! schedule when every wait would block (each request conflicts with the next edge's hold), the
//! locks are distinct (an elementary cycle), and *every pair* of edges passes the pair tests above
//! (different actors, overlapping traces, no common guard lock, not ordered): a guard shared by
//! any two of the sections keeps those two apart, and then the cycle cannot close. Two edges in
//! opposite directions are the cycle of length 2, so [`is_lock_order_inversion`] is that case.
//!
//! # Two forms of every access
//!
//! The public predicates take the schema types. The race detector keeps accesses in a compact
//! form (interned pieces, clocks over dense component ids) and applies the same rules to
//! [`Side`]s borrowed from it, through [`CausalClock`], so that there is one statement of each
//! rule for both.

use raceway_schemas::{
    Access, AccessType, ActorId, HeldLock, LockMode, LockOrderEdge, UpdateSpan, VectorClock,
};
use uuid::Uuid;

use crate::config::RaceConfig;

/// The happens-before relation the rules need of a clock.
pub(crate) trait CausalClock {
    /// True iff `self` happens before `other`; empty clocks are never ordered.
    fn happens_before(&self, other: &Self) -> bool;
    /// True iff neither happens before the other.
    fn concurrent_with(&self, other: &Self) -> bool;
}

impl CausalClock for VectorClock {
    fn happens_before(&self, other: &Self) -> bool {
        VectorClock::happens_before(self, other)
    }

    fn concurrent_with(&self, other: &Self) -> bool {
        VectorClock::concurrent_with(self, other)
    }
}

/// What the rules read of one access of a known variable, borrowed from wherever it is kept.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Side<'a, C> {
    pub(crate) event_id: Uuid,
    pub(crate) trace_id: Uuid,
    /// The access's trace's (start, end), in ns.
    pub(crate) trace_span: (i64, i64),
    pub(crate) access_type: AccessType,
    pub(crate) actor: &'a ActorId,
    pub(crate) locks: &'a [HeldLock],
    pub(crate) clock: &'a C,
}

impl<'a> Side<'a, VectorClock> {
    /// The side of `access`, whose clock pairs the caller turned into `clock`.
    fn of(access: &'a Access, clock: &'a VectorClock) -> Self {
        Side {
            event_id: access.event_id,
            trace_id: access.trace_id,
            trace_span: (access.trace_start_ns, access.trace_end_ns),
            access_type: access.access_type,
            actor: &access.actor,
            locks: &access.locks,
            clock,
        }
    }
}

/// What the lost-update rule reads of an update span: its read's id and clock, and its write.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpanSide<'a, C> {
    pub(crate) read_event_id: Uuid,
    pub(crate) read_clock: &'a C,
    pub(crate) write: Side<'a, C>,
    /// Locks held without a break from the read through the write.
    pub(crate) held_throughout: &'a [HeldLock],
}

/// The data race rule of the module doc for two accesses, with `config`'s cross-trace slack.
pub fn is_data_race(a: &Access, b: &Access, config: &RaceConfig) -> bool {
    a.environment == b.environment && a.variable == b.variable && {
        let (a_clock, b_clock) = (a.clock.to_vector_clock(), b.clock.to_vector_clock());
        let slack = config.cross_trace_slack_ns;
        is_data_race_between(&Side::of(a, &a_clock), &Side::of(b, &b_clock), slack)
    }
}

/// The data race rule for two accesses of one variable; cheap tests first (the lock test
/// before the actors': the detector's lock sets are shared copies, so a common one is settled
/// by their addresses, where different actors of one service compare their names as text).
pub(crate) fn is_data_race_between<C: CausalClock>(
    a: &Side<C>,
    b: &Side<C>,
    slack_ns: i64,
) -> bool {
    a.event_id != b.event_id
        && (a.access_type.is_write() || b.access_type.is_write())
        && !(a.access_type.is_atomic() && b.access_type.is_atomic())
        && !locks_protect((a.locks, a.access_type), (b.locks, b.access_type))
        && could_interleave(a, b, slack_ns)
        && a.clock.concurrent_with(b.clock)
}

/// The lost-update rule of the module doc for `span` and another write `other`, with `config`'s
/// cross-trace slack.
pub fn is_lost_update(span: &UpdateSpan, other: &Access, config: &RaceConfig) -> bool {
    span.write.environment == other.environment && span.write.variable == other.variable && {
        let read_clock = span.read.clock.to_vector_clock();
        let write_clock = span.write.clock.to_vector_clock();
        let other_clock = other.clock.to_vector_clock();
        let span = SpanSide {
            read_event_id: span.read.event_id,
            read_clock: &read_clock,
            write: Side::of(&span.write, &write_clock),
            held_throughout: &span.held_throughout,
        };
        let slack = config.cross_trace_slack_ns;
        is_lost_update_between(&span, &Side::of(other, &other_clock), slack)
    }
}

/// The lost-update rule for a span and another access of its variable; cheap tests first (as
/// for [`is_data_race_between`]).
pub(crate) fn is_lost_update_between<C: CausalClock>(
    span: &SpanSide<C>,
    other: &Side<C>,
    slack_ns: i64,
) -> bool {
    let (w, o) = (&span.write, other);
    o.access_type.is_write()
        && o.event_id != w.event_id
        && o.event_id != span.read_event_id
        && !held_locks_protect(span.held_throughout, o.locks)
        && could_interleave(w, o, slack_ns)
        && !o.clock.happens_before(span.read_clock)
        && !w.clock.happens_before(o.clock)
}

/// The lock-order inversion rule of the module doc for two edges, with `config`'s cross-trace
/// slack: the cycle of length 2.
pub fn is_lock_order_inversion(a: &LockOrderEdge, b: &LockOrderEdge, config: &RaceConfig) -> bool {
    is_lock_order_cycle(&[a, b], config)
}

/// The lock-order rule of the module doc for a cycle: `edges[i]` takes the lock `edges[i + 1]`
/// holds, and the last takes the lock the first holds.
pub fn is_lock_order_cycle(edges: &[&LockOrderEdge], config: &RaceConfig) -> bool {
    let n = edges.len();
    let closes = (0..n).all(|i| lock_order_step(edges[i], edges[(i + 1) % n]));
    let distinct =
        (0..n).all(|i| (i + 1..n).all(|j| edges[i].held.lock_id != edges[j].held.lock_id));
    n >= 2
        && closes
        && distinct
        && (0..n).all(|i| (i + 1..n).all(|j| could_deadlock_together(edges[i], edges[j], config)))
}

/// True when `a` takes a lock `b` holds and that wait would block: the link from one edge of a
/// cycle to the next.
pub(crate) fn lock_order_step(a: &LockOrderEdge, b: &LockOrderEdge) -> bool {
    a.held.lock_id != a.acquired.lock_id
        && a.acquired.lock_id == b.held.lock_id
        && excludes(a.acquired.mode, b.held.mode)
}

/// The pair tests of the lock-order rule: two nested sections of different actors in one
/// environment, in overlapping traces, with no common guard lock, neither ordered before the
/// other's start.
pub(crate) fn could_deadlock_together(
    a: &LockOrderEdge,
    b: &LockOrderEdge,
    config: &RaceConfig,
) -> bool {
    let guarded = a.guards.iter().any(|g| {
        b.guards
            .iter()
            .any(|h| g.lock_id == h.lock_id && excludes(g.mode, h.mode))
    });
    let (a_span, b_span) = (
        (a.trace_start_ns, a.trace_end_ns),
        (b.trace_start_ns, b.trace_end_ns),
    );
    a.environment == b.environment
        && a.actor != b.actor
        && (a.trace_id == b.trace_id || spans_overlap(a_span, b_span, config.cross_trace_slack_ns))
        && !guarded
        && !clock_of(&a.acquired.clock).happens_before(&clock_of(&b.start_clock))
        && !clock_of(&b.acquired.clock).happens_before(&clock_of(&a.start_clock))
}

/// True when a lock held by both accesses keeps them apart (the lock test of the module doc):
/// at least one side holds it exclusively, or both hold it shared and neither writes.
pub fn common_lock_protects(a: &Access, b: &Access) -> bool {
    locks_protect((&a.locks, a.access_type), (&b.locks, b.access_type))
}

/// True when a lock held throughout an update span is also held by `other` in an excluding
/// mode.
pub fn span_lock_protects(held_throughout: &[HeldLock], other: &Access) -> bool {
    held_locks_protect(held_throughout, &other.locks)
}

/// True when the traces of `a` and `b` overlap in time, widened by `slack_ns`.
pub fn trace_spans_overlap(a: &Access, b: &Access, slack_ns: i64) -> bool {
    spans_overlap(
        (a.trace_start_ns, a.trace_end_ns),
        (b.trace_start_ns, b.trace_end_ns),
        slack_ns,
    )
}

/// The actor and trace tests of the module doc: different actors, in one trace or in traces that
/// overlap in time (widened by `slack_ns`).
fn could_interleave<C>(a: &Side<C>, b: &Side<C>, slack_ns: i64) -> bool {
    !same_actor(a.actor, b.actor)
        && (a.trace_id == b.trace_id || spans_overlap(a.trace_span, b.trace_span, slack_ns))
}

/// Whether two holds of one lock exclude each other: at least one is exclusive.
fn excludes(a: LockMode, b: LockMode) -> bool {
    a == LockMode::Exclusive || b == LockMode::Exclusive
}

/// Pointer equality first: the race detector shares one copy of each actor. Otherwise the
/// fields, thread first: the actors compared are mostly threads of one service and instance, so
/// the thread settles most comparisons at its first string.
fn same_actor(a: &ActorId, b: &ActorId) -> bool {
    std::ptr::eq(a, b)
        || (a.thread == b.thread && a.instance == b.instance && a.service == b.service)
}

/// [`common_lock_protects`] on (lock set, access type) pairs.
fn locks_protect(
    (a_locks, a_type): (&[HeldLock], AccessType),
    (b_locks, b_type): (&[HeldLock], AccessType),
) -> bool {
    let neither_writes = !a_type.is_write() && !b_type.is_write();
    if std::ptr::eq(a_locks, b_locks) {
        // One lock set (the detector shares one copy of each): every lock is common, and it
        // protects when held exclusively (by both) or when neither writes. Two holds of one
        // lock in different modes include an exclusive one, which protects with itself.
        return a_locks
            .iter()
            .any(|lock| lock.mode == LockMode::Exclusive || neither_writes);
    }
    a_locks.iter().any(|mine| {
        b_locks.iter().any(|theirs| {
            mine.lock_id == theirs.lock_id && (excludes(mine.mode, theirs.mode) || neither_writes)
        })
    })
}

/// [`span_lock_protects`] on the other write's lock set.
fn held_locks_protect(held_throughout: &[HeldLock], other: &[HeldLock]) -> bool {
    if std::ptr::eq(held_throughout, other) {
        // One lock set (see `locks_protect`): an exclusive hold protects with itself.
        return held_throughout
            .iter()
            .any(|lock| lock.mode == LockMode::Exclusive);
    }
    held_throughout.iter().any(|mine| {
        other
            .iter()
            .any(|theirs| mine.lock_id == theirs.lock_id && excludes(mine.mode, theirs.mode))
    })
}

/// [`trace_spans_overlap`] on (start, end) pairs.
fn spans_overlap(
    (a_start, a_end): (i64, i64),
    (b_start, b_end): (i64, i64),
    slack_ns: i64,
) -> bool {
    a_start <= b_end.saturating_add(slack_ns) && b_start <= a_end.saturating_add(slack_ns)
}

fn clock_of(pairs: &[(String, u64)]) -> VectorClock {
    VectorClock::from_pairs(pairs.iter().map(|(c, n)| (c.as_str(), *n)))
}

#[cfg(test)]
mod tests;

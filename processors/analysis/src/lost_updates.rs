//! The lost-update rule (DESIGN.md "Race semantics": atomicity violations, the banking bug).
//!
//! # Rule
//!
//! An [`UpdateSpan`] is actor A's read `r` of variable x and A's later write `w` of x that
//! completes it (paired by the trace stage, see [`crate::updates`]). Another write `o` of x is
//! *lost* against the span when:
//!
//! - `o` is by another actor (one actor's own steps never interleave with each other);
//! - `o` is neither before `r` nor after `w` by their clocks: in some schedule `o` lands between
//!   the read and the write, and `w` overwrites it with a value computed from the stale read.
//!   Empty clocks are never ordered, so unclocked writes always qualify;
//! - no lock held by A without a break from `r` through `w` is also held by `o` in a mode that
//!   excludes it (at least one side exclusive): such a lock makes the span one critical section
//!   `o` cannot enter. Holding a lock for the read and taking it again for the write does not
//!   count (the "locked separately" bug), which is why the trace stage computes holds rather than
//!   lock sets;
//! - `o` is in the span's trace, or the two traces' time spans overlap within the cross-trace
//!   slack (the same guard as data races: requests without a common clock are never ordered).
//!
//! Values are not part of the verdict: like data races, a lost update is what *another schedule*
//! can do, and the values only describe this run. They appear in the explanation instead. All
//! kinds of writes qualify as `o`, atomic ones included (an atomic store or increment between a
//! load and a store is lost all the same).
//!
//! The check is symmetric in arrival order: the race detector runs it when the span arrives
//! (against retained writes) and when a write arrives (against retained spans).

use raceway_schemas::{Access, HeldLock, LockMode, UpdateSpan};

use crate::interning::SharedPieces;
use crate::races::{spans_overlap, RaceConfig};
use crate::retention::{ComponentIds, Retained, RetainedSpan};

/// The rule of the module doc for `span` and another write `other`, with `config`'s
/// cross-trace slack.
pub fn is_lost_update(span: &UpdateSpan, other: &Access, config: &RaceConfig) -> bool {
    span.write.environment == other.environment && span.write.variable == other.variable && {
        let (mut names, mut pieces) = (ComponentIds::default(), SharedPieces::default());
        lost(
            &RetainedSpan::interned(span.clone(), &mut names, &mut pieces),
            &Retained::interned(other.clone(), &mut names, &mut pieces),
            config.cross_trace_slack_ns,
        )
    }
}

/// True when a lock held throughout the span is also held by `other` in an excluding mode.
pub fn span_lock_protects(held_throughout: &[HeldLock], other: &Access) -> bool {
    held_locks_protect(held_throughout, &other.locks)
}

/// [`span_lock_protects`] on the other write's lock set.
fn held_locks_protect(held_throughout: &[HeldLock], other: &[HeldLock]) -> bool {
    held_throughout.iter().any(|mine| {
        other.iter().any(|theirs| {
            mine.lock_id == theirs.lock_id
                && (mine.mode == LockMode::Exclusive || theirs.mode == LockMode::Exclusive)
        })
    })
}

/// The rule on normalised values of the same variable; cheap tests first.
pub(crate) fn lost(span: &RetainedSpan, other: &Retained, slack_ns: i64) -> bool {
    let (w, o) = (&span.write, &other.access);
    o.access_type.is_write()
        && o.event_id != w.event_id
        && o.event_id != span.read.event_id
        && o.actor != w.actor
        && (o.trace_id == w.trace_id
            || spans_overlap(
                (w.trace_start_ns, w.trace_end_ns),
                (o.trace_start_ns, o.trace_end_ns),
                slack_ns,
            ))
        && !held_locks_protect(&span.held_throughout, &o.locks)
        && !other.clock.happens_before(&span.read_clock)
        && !span.write_clock.happens_before(&other.clock)
}

#[cfg(test)]
mod tests {
    use raceway_schemas::{AccessType, UpdateRead};

    use super::*;
    use crate::testing::{access, held, id};

    /// Actor `a`'s read (clock a=1) and write (a=2) of the test variable.
    fn span(held_throughout: Vec<HeldLock>) -> UpdateSpan {
        UpdateSpan {
            read: UpdateRead {
                event_id: id(1),
                timestamp_ns: 10,
                location: "a.rs:1".into(),
                value: "100".into(),
                clock: vec![("a".into(), 1)],
            },
            write: access(2, "a", 30, AccessType::Write, &[("a", 2)]),
            held_throughout,
        }
    }

    fn other(clock: &[(&str, u64)]) -> Access {
        access(3, "b", 20, AccessType::Write, clock)
    }

    #[test]
    fn a_concurrent_write_is_lost() {
        let config = RaceConfig::default();
        assert!(is_lost_update(&span(vec![]), &other(&[("b", 1)]), &config));
    }

    #[test]
    fn a_write_before_the_read_or_after_the_write_is_not() {
        let config = RaceConfig::default();
        let before = other(&[("b", 1)]);
        let mut span_after = span(vec![]);
        span_after.read.clock = vec![("a".into(), 1), ("b".into(), 1)];
        span_after.write.clock = vec![("a".into(), 2), ("b".into(), 1)];
        assert!(!is_lost_update(&span_after, &before, &config));
        let after = other(&[("a", 2), ("b", 1)]);
        assert!(!is_lost_update(&span(vec![]), &after, &config));
    }

    #[test]
    fn a_write_between_read_and_write_is_lost() {
        // o saw the read (a=1) and the write saw o: the textbook interleaving.
        let config = RaceConfig::default();
        let mut between = span(vec![]);
        between.write.clock = vec![("a".into(), 2), ("b".into(), 1)];
        assert!(is_lost_update(
            &between,
            &other(&[("a", 1), ("b", 1)]),
            &config
        ));
    }

    #[test]
    fn same_actor_reads_and_other_kinds_are_not() {
        let config = RaceConfig::default();
        let mut own = other(&[("b", 1)]);
        own.actor.thread = "a".into();
        assert!(!is_lost_update(&span(vec![]), &own, &config));
        let read = access(3, "b", 20, AccessType::Read, &[("b", 1)]);
        assert!(!is_lost_update(&span(vec![]), &read, &config));
        let atomic = access(3, "b", 20, AccessType::AtomicRMW, &[("b", 1)]);
        assert!(is_lost_update(&span(vec![]), &atomic, &config));
    }

    #[test]
    fn a_lock_held_throughout_protects_in_excluding_modes() {
        let config = RaceConfig::default();
        let mut locked = other(&[("b", 1)]);
        locked.locks = vec![held("m", LockMode::Shared)];
        let exclusive = span(vec![held("m", LockMode::Exclusive)]);
        assert!(!is_lost_update(&exclusive, &locked, &config));
        let shared = span(vec![held("m", LockMode::Shared)]);
        assert!(is_lost_update(&shared, &locked, &config));
        assert!(is_lost_update(&span(vec![]), &locked, &config));
    }

    #[test]
    fn other_traces_count_only_when_they_overlap() {
        let config = RaceConfig::default();
        let mut far = other(&[("b", 1)]);
        far.trace_id = id(77);
        far.trace_start_ns = 10_000_000_000;
        far.trace_end_ns = 11_000_000_000;
        assert!(!is_lost_update(&span(vec![]), &far, &config));
        far.trace_start_ns = 500;
        assert!(is_lost_update(&span(vec![]), &far, &config));
    }
}

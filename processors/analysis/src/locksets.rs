//! Lock sets rebuilt from LockAcquire/LockRelease events, per actor in program order.
//!
//! The SDKs send an empty `lock_set` (DESIGN.md "Event model"), so the locks an actor held at each
//! of its events are replayed from its acquire and release events, keeping each lock's mode
//! (exclusive, or shared for an RwLock read lock) because the race rule depends on it.
//!
//! - An acquire of a lock the actor already holds is re-entrant: it deepens the hold, and the hold
//!   keeps the stronger of the two modes (exclusive wins), since a mix can only mean the actor
//!   excluded everyone at some point of the hold and treating it as shared would be the weaker,
//!   noisier claim.
//! - A release ends the hold only when the depth returns to zero.
//! - A release of a lock not held (its acquire was not recorded) changes nothing in the lock set.
//! - A lock whose type excludes nobody ([`LockKind::excludes`]: semaphores, whose permit counts
//!   the SDKs do not record) is not held at all as far as the analyses go: it is never a common
//!   lock that protects a pair, never a guard, never one end of a lock-order edge (a semaphore
//!   with permits to spare cannot deadlock, and nothing says it had none), and its release
//!   hands nothing over to the next acquirer (that acquirer may have taken another permit).
//!   Counting it would hide real races behind a lock that let both sides in.

use std::sync::Arc;

use raceway_schemas::{Event, HeldLock, LockEvent, LockKind, LockMode, SharedNames};
use smallvec::SmallVec;
use uuid::Uuid;

use crate::short_text;

/// An actor of a trace, borrowed from its events: (trace, service, instance, thread), the key
/// of every per-actor replay.
pub(crate) type ActorKey<'a> = (Uuid, &'a str, &'a str, &'a str);

/// The actor of `event`, without allocating (see [`Event::actor`]).
pub(crate) fn actor_key(event: &Event) -> ActorKey<'_> {
    let metadata = &event.metadata;
    (
        event.trace_id,
        metadata.service_name.as_str(),
        metadata.instance_id.as_deref().unwrap_or_default(),
        metadata.thread_id.as_str(),
    )
}

/// The locks one actor currently holds, their ids and types borrowed from the lock events
/// replayed (every replay reads one trace's events, which outlive it): an acquire copies no
/// lock id, and a snapshot of the holds ([`HeldLocks::holds`]) allocates nothing.
#[derive(Debug, Clone, Default)]
pub(crate) struct HeldLocks<'a> {
    /// (lock id, (mode, re-entrancy depth >= 1, hold number)), sorted by lock id so snapshots
    /// are deterministic. A vector, not a map: an actor holds a few locks at a time, and a
    /// vector keeps its allocation when the last lock is released, where a map freed its node
    /// and allocated a new one at the next acquire (one of the three lock replays' largest
    /// costs).
    held: Vec<(&'a str, (LockMode, u32, u64))>,
    /// Number of the next hold: a lock released and taken again is a new hold, so two events
    /// holding the same hold number were inside one uninterrupted critical section.
    next_hold: u64,
    /// The last lock type seen and whether it excludes: an actor's locks are usually of one
    /// type, and comparing the name is cheaper than reading it again (`LockKind::of`).
    last_type: Option<(&'a str, bool)>,
}

/// One lock hold: the lock (borrowed from its acquire event), its mode and which
/// uninterrupted hold of the actor it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hold<'a> {
    pub(crate) lock_id: &'a str,
    pub(crate) mode: LockMode,
    /// Increases with every new (non re-entrant) acquisition by the actor.
    pub(crate) number: u64,
}

impl Hold<'_> {
    /// The held lock, its id copied.
    pub(crate) fn held_lock(&self) -> HeldLock {
        HeldLock {
            lock_id: self.lock_id.to_owned(),
            mode: self.mode,
        }
    }
}

/// The holds of an actor at one event: a few at most, kept without an allocation.
pub(crate) type Holds<'a> = SmallVec<[Hold<'a>; 4]>;

/// What an acquire or release did, as far as synchronisation between actors is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockStep {
    /// The actor took the lock it did not hold, in this mode: it synchronises with releases.
    Acquired(LockMode),
    /// The lock is free again (or was released without a recorded acquire), last held in this
    /// mode: later acquirers synchronise with this point.
    Released(LockMode),
    /// A re-entrant acquire or an inner release: no hand-over between actors.
    Nested,
    /// A lock type that excludes nobody (a semaphore): not tracked.
    NotExcluding,
}

impl<'a> HeldLocks<'a> {
    /// Records an acquire.
    pub(crate) fn acquire(&mut self, lock: &'a LockEvent) -> LockStep {
        if !self.excludes(&lock.lock_type) {
            return LockStep::NotExcluding;
        }
        match self.find(&lock.lock_id) {
            Ok(at) => {
                let (mode, depth, _) = &mut self.held[at].1;
                *depth = depth.saturating_add(1);
                if lock.mode == LockMode::Exclusive {
                    *mode = LockMode::Exclusive;
                }
                LockStep::Nested
            }
            Err(at) => {
                self.held
                    .insert(at, (lock.lock_id.as_str(), (lock.mode, 1, self.next_hold)));
                self.next_hold += 1;
                LockStep::Acquired(lock.mode)
            }
        }
    }

    /// Records a release.
    pub(crate) fn release(&mut self, lock: &'a LockEvent) -> LockStep {
        if !self.excludes(&lock.lock_type) {
            return LockStep::NotExcluding;
        }
        match self.find(&lock.lock_id) {
            Ok(at) => {
                let (mode, depth, _) = &mut self.held[at].1;
                if *depth > 1 {
                    *depth -= 1;
                    return LockStep::Nested;
                }
                let mode = *mode;
                self.held.remove(at);
                LockStep::Released(mode)
            }
            // Not held: the lock set is unchanged, but the event is still evidence that the
            // lock was handed back at this point.
            Err(_) => LockStep::Released(lock.mode),
        }
    }

    /// [`LockKind::excludes`] of `lock_type`, remembered for the last type.
    fn excludes(&mut self, lock_type: &'a str) -> bool {
        match self.last_type {
            Some((last, excludes)) if short_text::same(last, lock_type) => excludes,
            _ => {
                let excludes = LockKind::of(lock_type).excludes();
                self.last_type = Some((lock_type, excludes));
                excludes
            }
        }
    }

    /// Where `lock_id` is in `held`: `Ok` with its place when held, `Err` with the place that
    /// keeps the order when not.
    /// An actor usually holds one lock at a time: that one is compared by key, without a call.
    fn find(&self, lock_id: &str) -> Result<usize, usize> {
        match self.held.as_slice() {
            [] => Err(0),
            [(only, _)] if short_text::same(only, lock_id) => Ok(0),
            _ => self.held.binary_search_by(|(held, _)| (*held).cmp(lock_id)),
        }
    }

    /// True when no lock is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// The number of locks held.
    pub(crate) fn len(&self) -> usize {
        self.held.len()
    }

    /// The locks held now, sorted by lock id, as the shared copy `names` holds of that lock set
    /// (no lock id copied when the trace has met the set before).
    pub(crate) fn shared(&self, names: &mut SharedNames) -> Arc<[HeldLock]> {
        let members: SmallVec<[(&str, LockMode); 4]> = self
            .held
            .iter()
            .map(|&(lock_id, (mode, _, _))| (lock_id, mode))
            .collect();
        names.lock_set(&members)
    }

    /// The locks held now, sorted by lock id.
    #[cfg(test)]
    pub(crate) fn snapshot(&self) -> Vec<HeldLock> {
        self.held
            .iter()
            .map(|&(lock_id, (mode, _, _))| HeldLock {
                lock_id: lock_id.to_owned(),
                mode,
            })
            .collect()
    }

    /// The holds now, sorted by lock id, with their hold numbers.
    pub(crate) fn holds(&self) -> Holds<'a> {
        self.held
            .iter()
            .map(|&(lock_id, (mode, _, number))| Hold {
                lock_id,
                mode,
                number,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(id: &str, mode: LockMode) -> LockEvent {
        LockEvent {
            lock_id: id.into(),
            mode,
            lock_type: "test".into(),
            location: "t.rs:1".into(),
        }
    }

    #[test]
    fn a_semaphore_is_never_held() {
        let semaphore = LockEvent {
            lock_type: "Semaphore".into(),
            ..lock("s", LockMode::Exclusive)
        };
        let m = lock("m", LockMode::Exclusive);
        let mut locks = HeldLocks::default();
        locks.acquire(&m);
        assert_eq!(locks.acquire(&semaphore), LockStep::NotExcluding);
        assert_eq!(locks.snapshot(), vec![held("m", LockMode::Exclusive)]);
        assert_eq!(locks.release(&semaphore), LockStep::NotExcluding);
        assert_eq!(locks.snapshot(), vec![held("m", LockMode::Exclusive)]);
    }

    fn held(id: &str, mode: LockMode) -> HeldLock {
        HeldLock {
            lock_id: id.into(),
            mode,
        }
    }

    #[test]
    fn acquire_and_release_track_modes() {
        let (a, b) = (lock("a", LockMode::Exclusive), lock("b", LockMode::Shared));
        let mut locks = HeldLocks::default();
        assert_eq!(locks.acquire(&b), LockStep::Acquired(LockMode::Shared));
        locks.acquire(&a);
        assert_eq!(
            locks.snapshot(),
            vec![held("a", LockMode::Exclusive), held("b", LockMode::Shared)]
        );
        assert_eq!(locks.release(&b), LockStep::Released(LockMode::Shared));
        assert_eq!(locks.snapshot(), vec![held("a", LockMode::Exclusive)]);
    }

    #[test]
    fn reentrant_hold_ends_at_the_outer_release() {
        let (shared, exclusive) = (lock("m", LockMode::Shared), lock("m", LockMode::Exclusive));
        let mut locks = HeldLocks::default();
        locks.acquire(&shared);
        assert_eq!(locks.acquire(&exclusive), LockStep::Nested);
        assert_eq!(locks.snapshot(), vec![held("m", LockMode::Exclusive)]);
        assert_eq!(locks.release(&shared), LockStep::Nested);
        assert_eq!(locks.snapshot(), vec![held("m", LockMode::Exclusive)]);
        assert_eq!(
            locks.release(&shared),
            LockStep::Released(LockMode::Exclusive)
        );
        assert!(locks.snapshot().is_empty());
    }

    #[test]
    fn a_lock_taken_again_is_a_new_hold() {
        let m = lock("m", LockMode::Exclusive);
        let mut locks = HeldLocks::default();
        locks.acquire(&m);
        let first = locks.holds();
        locks.acquire(&m);
        assert_eq!(locks.holds(), first, "re-entrant: the same hold");
        locks.release(&m);
        locks.release(&m);
        locks.acquire(&m);
        let second = locks.holds();
        assert_eq!(
            (second[0].lock_id, second[0].mode),
            (first[0].lock_id, first[0].mode)
        );
        assert_eq!(second[0].held_lock(), held("m", LockMode::Exclusive));
        assert_ne!(second[0].number, first[0].number);
    }

    #[test]
    fn release_of_a_lock_not_held_is_ignored_for_the_lock_set() {
        let (a, x) = (lock("a", LockMode::Exclusive), lock("x", LockMode::Shared));
        let mut locks = HeldLocks::default();
        locks.acquire(&a);
        assert_eq!(locks.release(&x), LockStep::Released(LockMode::Shared));
        assert_eq!(locks.snapshot(), vec![held("a", LockMode::Exclusive)]);
    }

    /// The sorted vector keeps the lock set a map by lock id kept: random acquires and releases
    /// of four locks in both modes give the steps and the snapshots of a `BTreeMap` replay.
    #[test]
    fn the_lock_set_is_the_one_a_map_by_lock_id_keeps() {
        use rand::Rng;
        use std::collections::BTreeMap;
        crate::testing::random_rounds(31, 200, |rng, _| {
            let events: Vec<(LockEvent, bool)> = (0..30)
                .map(|_| {
                    let id = ["d", "b", "a", "c"][rng.gen_range(0..4)];
                    let mode = [LockMode::Exclusive, LockMode::Shared][rng.gen_range(0..2)];
                    (lock(id, mode), rng.gen_bool(0.5))
                })
                .collect();
            let mut locks = HeldLocks::default();
            let mut model: BTreeMap<String, (LockMode, u32)> = BTreeMap::new();
            for (event, acquire) in &events {
                let (id, mode) = (event.lock_id.as_str(), event.mode);
                if *acquire {
                    let step = locks.acquire(event);
                    match model.get_mut(id) {
                        Some((held_mode, depth)) => {
                            *depth += 1;
                            if mode == LockMode::Exclusive {
                                *held_mode = LockMode::Exclusive;
                            }
                            assert_eq!(step, LockStep::Nested);
                        }
                        None => {
                            model.insert(id.into(), (mode, 1));
                            assert_eq!(step, LockStep::Acquired(mode));
                        }
                    }
                } else {
                    let step = locks.release(event);
                    match model.get_mut(id) {
                        Some((_, depth)) if *depth > 1 => {
                            *depth -= 1;
                            assert_eq!(step, LockStep::Nested);
                        }
                        Some(_) => {
                            let (held_mode, _) = model.remove(id).expect("held");
                            assert_eq!(step, LockStep::Released(held_mode));
                        }
                        None => assert_eq!(step, LockStep::Released(mode)),
                    }
                }
                let expected: Vec<HeldLock> = model
                    .iter()
                    .map(|(id, (mode, _))| held(id, *mode))
                    .collect();
                assert_eq!(locks.snapshot(), expected);
            }
        });
    }
}

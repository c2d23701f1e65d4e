//! [`TrackedRwLock`]: a `std::sync::RwLock` that records its lock mode and orders clocks.

use std::panic::Location;
use std::sync::{
    LockResult, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard,
    TryLockResult,
};

use raceway_schemas::{LockMode, VectorClock};

use crate::actor::Actor;
use crate::held::{debug_by_id, map_lock, map_try_lock, tracked_guard, Held, Locked, LockedMut};

/// A reader-writer lock that records `LockAcquire`/`LockRelease` with the mode
/// (`RwLock::Read` shared, `RwLock::Write` exclusive) and orders clocks like the lock orders
/// threads: a reader joins the clock of the last writer's release; a writer joins that and the
/// releases of every reader since. Readers are not ordered among themselves.
///
/// The lock id is qualified with the service and instance, like [`crate::TrackedMutex`]'s.
pub struct TrackedRwLock<T> {
    id: String,
    inner: RwLock<T>,
    clocks: Mutex<ReleaseClocks>,
}

#[derive(Default)]
struct ReleaseClocks {
    /// Clock of the last write release.
    write: VectorClock,
    /// Join of the read releases since the last write release.
    reads: VectorClock,
}

impl<T> TrackedRwLock<T> {
    /// A new unlocked lock named `id` holding `value`.
    pub fn new(id: impl Into<String>, value: T) -> TrackedRwLock<T> {
        TrackedRwLock {
            id: id.into(),
            inner: RwLock::new(value),
            clocks: Mutex::new(ReleaseClocks::default()),
        }
    }

    /// The lock id as given to [`TrackedRwLock::new`].
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Locks for reading, blocking like `std::sync::RwLock::read`; records `LockAcquire` in
    /// mode `RwLock::Read` at the caller's location.
    #[track_caller]
    pub fn read<'a>(&'a self, actor: &'a mut Actor) -> LockResult<TrackedReadGuard<'a, T>> {
        let location = Location::caller();
        map_lock(self.inner.read(), |g| {
            TrackedReadGuard(self.hold(g, actor, location))
        })
    }

    /// Tries to lock for reading without blocking, like `std::sync::RwLock::try_read`. Nothing
    /// is recorded when a writer holds the lock.
    #[track_caller]
    pub fn try_read<'a>(&'a self, actor: &'a mut Actor) -> TryLockResult<TrackedReadGuard<'a, T>> {
        let location = Location::caller();
        map_try_lock(self.inner.try_read(), |g| {
            TrackedReadGuard(self.hold(g, actor, location))
        })
    }

    /// Locks for writing, blocking like `std::sync::RwLock::write`; records `LockAcquire` in
    /// mode `RwLock::Write` at the caller's location.
    #[track_caller]
    pub fn write<'a>(&'a self, actor: &'a mut Actor) -> LockResult<TrackedWriteGuard<'a, T>> {
        let location = Location::caller();
        map_lock(self.inner.write(), |g| {
            TrackedWriteGuard(self.hold(g, actor, location))
        })
    }

    /// Tries to lock for writing without blocking, like `std::sync::RwLock::try_write`.
    /// Nothing is recorded when the lock is held.
    #[track_caller]
    pub fn try_write<'a>(
        &'a self,
        actor: &'a mut Actor,
    ) -> TryLockResult<TrackedWriteGuard<'a, T>> {
        let location = Location::caller();
        map_try_lock(self.inner.try_write(), |g| {
            TrackedWriteGuard(self.hold(g, actor, location))
        })
    }

    /// The protected value, through exclusive access to the lock (nothing is recorded).
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

    /// Consumes the lock and returns the value (nothing is recorded).
    pub fn into_inner(self) -> T {
        self.inner
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn hold<'a, G>(
        &'a self,
        guard: G,
        actor: &'a mut Actor,
        location: &'static Location<'static>,
    ) -> Held<'a, Hold<'a, G>>
    where
        Hold<'a, G>: Locked,
    {
        let hold = Hold {
            guard,
            clocks: &self.clocks,
        };
        Held::acquire(hold, actor, &self.id, location)
    }
}

debug_by_id!(TrackedRwLock);

fn release_clocks(clocks: &Mutex<ReleaseClocks>) -> MutexGuard<'_, ReleaseClocks> {
    clocks.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A std read or write guard with the lock's release clocks.
struct Hold<'a, G> {
    guard: G,
    clocks: &'a Mutex<ReleaseClocks>,
}

impl<'a, T> Locked for Hold<'a, RwLockReadGuard<'a, T>> {
    const LOCK_TYPE: &'static str = "RwLock::Read";
    const MODE: LockMode = LockMode::Shared;
    type Value = T;

    fn join_releases(&self, actor: &mut Actor) {
        actor.join_clock(&release_clocks(self.clocks).write);
    }

    fn publish_release(&mut self, clock: &VectorClock) {
        // Still holding the read lock: a writer cannot acquire before this clock is published.
        release_clocks(self.clocks).reads.join(clock);
    }

    fn value(&self) -> &T {
        &self.guard
    }
}

impl<'a, T> Locked for Hold<'a, RwLockWriteGuard<'a, T>> {
    const LOCK_TYPE: &'static str = "RwLock::Write";
    const MODE: LockMode = LockMode::Exclusive;
    type Value = T;

    fn join_releases(&self, actor: &mut Actor) {
        let clocks = release_clocks(self.clocks);
        actor.join_clock(&clocks.write);
        actor.join_clock(&clocks.reads);
    }

    fn publish_release(&mut self, clock: &VectorClock) {
        let mut clocks = release_clocks(self.clocks);
        // The writer joined every earlier release, so its clock alone now dominates them all.
        clocks.write.clone_from(clock);
        clocks.reads = VectorClock::new();
    }

    fn value(&self) -> &T {
        &self.guard
    }
}

impl<'a, T> LockedMut for Hold<'a, RwLockWriteGuard<'a, T>> {
    fn value_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

/// Shared access to a [`TrackedRwLock`]'s value; records the read release when dropped or
/// [`unlocked`](TrackedReadGuard::unlock).
pub struct TrackedReadGuard<'a, T>(Held<'a, Hold<'a, RwLockReadGuard<'a, T>>>);

tracked_guard!(TrackedReadGuard, shared);

/// Exclusive access to a [`TrackedRwLock`]'s value; records the write release when dropped or
/// [`unlocked`](TrackedWriteGuard::unlock).
pub struct TrackedWriteGuard<'a, T>(Held<'a, Hold<'a, RwLockWriteGuard<'a, T>>>);

tracked_guard!(TrackedWriteGuard, mut);

#[cfg(test)]
mod tests {
    use std::sync::{MutexGuard, RwLockReadGuard, RwLockWriteGuard};

    use raceway_schemas::LockMode;

    use super::Hold;
    use crate::held::{Locked, Slot};

    /// The mode each guard records is the one the pipeline reads from its lock type.
    #[test]
    fn recorded_modes_match_the_lock_types() {
        fn check<G: Locked>() {
            assert_eq!(
                G::MODE,
                LockMode::from_lock_type(G::LOCK_TYPE),
                "{}",
                G::LOCK_TYPE
            );
        }
        check::<Hold<'static, RwLockReadGuard<'static, u8>>>();
        check::<Hold<'static, RwLockWriteGuard<'static, u8>>>();
        check::<MutexGuard<'static, Slot<u8>>>();
        check::<tokio::sync::MutexGuard<'static, Slot<u8>>>();
    }
}

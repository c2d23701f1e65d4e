//! [`TrackedRwLock`]: a `std::sync::RwLock` that records its lock mode and orders clocks.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{
    LockResult, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard,
};

use raceway_schemas::{EventKind, VectorClock};

use crate::actor::{caller_location, Actor};
use crate::mutex::lock_event;

/// Lock type recorded for a read (shared) acquisition.
const READ: &str = "RwLock::Read";
/// Lock type recorded for a write (exclusive) acquisition.
const WRITE: &str = "RwLock::Write";

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
        let location = caller_location();
        let (guard, poisoned) = match self.inner.read() {
            Ok(guard) => (guard, false),
            Err(poisoned) => (poisoned.into_inner(), true),
        };
        if actor.is_recording() {
            actor.join_clock(&self.clocks().write);
            let event = lock_event(actor, &self.id, READ, &location);
            actor.record(EventKind::LockAcquire(event));
        }
        let guard = TrackedReadGuard {
            lock: self,
            guard,
            actor,
            location,
        };
        if poisoned {
            Err(PoisonError::new(guard))
        } else {
            Ok(guard)
        }
    }

    /// Locks for writing, blocking like `std::sync::RwLock::write`; records `LockAcquire` in
    /// mode `RwLock::Write` at the caller's location.
    #[track_caller]
    pub fn write<'a>(&'a self, actor: &'a mut Actor) -> LockResult<TrackedWriteGuard<'a, T>> {
        let location = caller_location();
        let (guard, poisoned) = match self.inner.write() {
            Ok(guard) => (guard, false),
            Err(poisoned) => (poisoned.into_inner(), true),
        };
        if actor.is_recording() {
            {
                let clocks = self.clocks();
                actor.join_clock(&clocks.write);
                actor.join_clock(&clocks.reads);
            }
            let event = lock_event(actor, &self.id, WRITE, &location);
            actor.record(EventKind::LockAcquire(event));
        }
        let guard = TrackedWriteGuard {
            lock: self,
            guard,
            actor,
            location,
        };
        if poisoned {
            Err(PoisonError::new(guard))
        } else {
            Ok(guard)
        }
    }

    /// Consumes the lock and returns the value (nothing is recorded).
    pub fn into_inner(self) -> T {
        self.inner
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn clocks(&self) -> MutexGuard<'_, ReleaseClocks> {
        self.clocks.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T> fmt::Debug for TrackedRwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrackedRwLock")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Shared access to a [`TrackedRwLock`]'s value; records the read release when dropped.
pub struct TrackedReadGuard<'a, T> {
    lock: &'a TrackedRwLock<T>,
    guard: RwLockReadGuard<'a, T>,
    actor: &'a mut Actor,
    location: String,
}

impl<T> TrackedReadGuard<'_, T> {
    /// The value and the actor holding the lock, to record accesses inside the section.
    pub fn split(&mut self) -> (&T, &mut Actor) {
        (&*self.guard, self.actor)
    }
}

impl<T> Drop for TrackedReadGuard<'_, T> {
    fn drop(&mut self) {
        if !self.actor.is_recording() {
            return;
        }
        let event = lock_event(self.actor, &self.lock.id, READ, &self.location);
        self.actor.record(EventKind::LockRelease(event));
        // Still holding the read lock: a writer cannot acquire before this clock is published.
        self.lock.clocks().reads.join(self.actor.clock());
    }
}

impl<T> Deref for TrackedReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.guard
    }
}

/// Exclusive access to a [`TrackedRwLock`]'s value; records the write release when dropped.
pub struct TrackedWriteGuard<'a, T> {
    lock: &'a TrackedRwLock<T>,
    guard: RwLockWriteGuard<'a, T>,
    actor: &'a mut Actor,
    location: String,
}

impl<T> TrackedWriteGuard<'_, T> {
    /// The value and the actor holding the lock, to record accesses inside the section.
    pub fn split(&mut self) -> (&mut T, &mut Actor) {
        (&mut *self.guard, self.actor)
    }
}

impl<T> Drop for TrackedWriteGuard<'_, T> {
    fn drop(&mut self) {
        if !self.actor.is_recording() {
            return;
        }
        let event = lock_event(self.actor, &self.lock.id, WRITE, &self.location);
        self.actor.record(EventKind::LockRelease(event));
        let mut clocks = self.lock.clocks();
        // The writer joined every earlier release, so its clock alone now dominates them all.
        clocks.write.clone_from(self.actor.clock());
        clocks.reads = VectorClock::new();
    }
}

impl<T> Deref for TrackedWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for TrackedWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

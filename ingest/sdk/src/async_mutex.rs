//! [`TrackedAsyncMutex`]: a `tokio::sync::Mutex` whose release -> acquire edges order clocks,
//! for critical sections that `.await`.

use std::fmt;
use std::ops::{Deref, DerefMut};

use raceway_schemas::{EventKind, VectorClock};

use crate::actor::{caller_location, Actor};
use crate::mutex::lock_event;

/// The lock type recorded for a [`TrackedAsyncMutex`] (an exclusive lock, like `Mutex`).
const LOCK_TYPE: &str = "Mutex";

/// The tokio flavour of [`crate::TrackedMutex`]: `lock` awaits instead of blocking the thread,
/// and the guard may be held across `.await`s. Records `LockAcquire`/`LockRelease` (located
/// where the lock was taken) and hands the releaser's clock to the next acquirer.
pub struct TrackedAsyncMutex<T> {
    id: String,
    inner: tokio::sync::Mutex<Slot<T>>,
}

struct Slot<T> {
    value: T,
    /// Clock of the last release; joined by the next acquirer.
    released: VectorClock,
}

impl<T> TrackedAsyncMutex<T> {
    /// A new unlocked mutex named `id` holding `value`.
    pub fn new(id: impl Into<String>, value: T) -> TrackedAsyncMutex<T> {
        TrackedAsyncMutex {
            id: id.into(),
            inner: tokio::sync::Mutex::new(Slot {
                value,
                released: VectorClock::new(),
            }),
        }
    }

    /// The lock id as given to [`TrackedAsyncMutex::new`].
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Waits for the lock, then joins the last releaser's clock and records `LockAcquire` at
    /// the caller's location.
    #[track_caller]
    pub fn lock<'a>(
        &'a self,
        actor: &'a mut Actor,
    ) -> impl std::future::Future<Output = TrackedAsyncMutexGuard<'a, T>> + Send + 'a
    where
        T: Send,
    {
        // Taken here, outside the future: `#[track_caller]` does not reach into async blocks.
        let location = caller_location();
        async move {
            let guard = self.inner.lock().await;
            if actor.is_recording() {
                actor.join_clock(&guard.released);
                let event = lock_event(actor, &self.id, LOCK_TYPE, &location);
                actor.record(EventKind::LockAcquire(event));
            }
            TrackedAsyncMutexGuard {
                mutex: self,
                guard,
                actor,
                location,
            }
        }
    }
}

impl<T> fmt::Debug for TrackedAsyncMutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrackedAsyncMutex")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The guard of a locked [`TrackedAsyncMutex`]; records `LockRelease` when dropped.
pub struct TrackedAsyncMutexGuard<'a, T> {
    mutex: &'a TrackedAsyncMutex<T>,
    guard: tokio::sync::MutexGuard<'a, Slot<T>>,
    actor: &'a mut Actor,
    location: String,
}

impl<T> TrackedAsyncMutexGuard<'_, T> {
    /// The protected value and the actor at once, to record accesses inside the section.
    pub fn split(&mut self) -> (&mut T, &mut Actor) {
        (&mut self.guard.value, self.actor)
    }
}

impl<T> Drop for TrackedAsyncMutexGuard<'_, T> {
    fn drop(&mut self) {
        if !self.actor.is_recording() {
            return;
        }
        let event = lock_event(self.actor, &self.mutex.id, LOCK_TYPE, &self.location);
        self.actor.record(EventKind::LockRelease(event));
        // Still holding the tokio guard: the next acquirer sees this clock.
        self.guard.released = self.actor.clock().clone();
    }
}

impl<T> Deref for TrackedAsyncMutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.guard.value
    }
}

impl<T> DerefMut for TrackedAsyncMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard.value
    }
}

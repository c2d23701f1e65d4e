//! [`TrackedAsyncMutex`]: a `tokio::sync::Mutex` whose release -> acquire edges order clocks,
//! for critical sections that `.await`.

use std::panic::Location;

use tokio::sync::{MutexGuard, TryLockError};

use crate::actor::Actor;
use crate::held::{debug_by_id, tracked_guard, Held, Slot};

/// The tokio flavour of [`crate::TrackedMutex`]: `lock` awaits instead of blocking the thread,
/// and the guard may be held across `.await`s. Records `LockAcquire`/`LockRelease` (lock type
/// `Mutex`, located where the lock was taken or [`unlock`](TrackedAsyncMutexGuard::unlock)ed)
/// and hands the releaser's clock to the next acquirer.
pub struct TrackedAsyncMutex<T> {
    id: String,
    inner: tokio::sync::Mutex<Slot<T>>,
}

impl<T> TrackedAsyncMutex<T> {
    /// A new unlocked mutex named `id` holding `value`.
    pub fn new(id: impl Into<String>, value: T) -> TrackedAsyncMutex<T> {
        TrackedAsyncMutex {
            id: id.into(),
            inner: tokio::sync::Mutex::new(Slot::new(value)),
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
        let location = Location::caller();
        async move {
            let guard = self.inner.lock().await;
            TrackedAsyncMutexGuard(Held::acquire(guard, actor, &self.id, location))
        }
    }

    /// Tries to lock without waiting, like `tokio::sync::Mutex::try_lock`. Nothing is recorded
    /// when the mutex is busy.
    #[track_caller]
    pub fn try_lock<'a>(
        &'a self,
        actor: &'a mut Actor,
    ) -> Result<TrackedAsyncMutexGuard<'a, T>, TryLockError> {
        let location = Location::caller();
        let guard = self.inner.try_lock()?;
        Ok(TrackedAsyncMutexGuard(Held::acquire(
            guard, actor, &self.id, location,
        )))
    }

    /// The protected value, through exclusive access to the mutex (nothing is recorded).
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner.get_mut().value
    }

    /// Consumes the mutex and returns the value (nothing is recorded).
    pub fn into_inner(self) -> T {
        self.inner.into_inner().value
    }
}

debug_by_id!(TrackedAsyncMutex);

/// The guard of a locked [`TrackedAsyncMutex`]: dereferences to the value, holds the actor, and
/// records `LockRelease` when dropped or [`unlocked`](TrackedAsyncMutexGuard::unlock).
pub struct TrackedAsyncMutexGuard<'a, T>(Held<'a, MutexGuard<'a, Slot<T>>>);

tracked_guard!(TrackedAsyncMutexGuard, mut);

//! [`TrackedMutex`]: a `std::sync::Mutex` whose release -> acquire edges order the actors' clocks.

use std::panic::Location;
use std::sync::{LockResult, Mutex, MutexGuard, PoisonError, TryLockResult};

use crate::actor::Actor;
use crate::held::{debug_by_id, map_lock, map_try_lock, tracked_guard, Held, Slot};

/// A mutex that records `LockAcquire` / `LockRelease` events and carries the releaser's clock to
/// the next acquirer, so critical sections of different actors are ordered.
///
/// Locking borrows the actor for as long as the guard lives (the guard records the release when
/// it is dropped or [`unlock`](TrackedMutexGuard::unlock)ed, whatever path the code takes).
/// Record accesses inside the critical section through the guard:
/// [`TrackedMutexGuard::actor`] or [`TrackedMutexGuard::split`].
///
/// The lock id is qualified with the service and instance when recorded
/// (`"{service}#{instance}::{id}"`): an in-process mutex never protects another process.
///
/// ```
/// # use raceway_sdk::{MemorySink, Tracer, TracerConfig, TrackedMutex};
/// # let tracer = Tracer::new(TracerConfig::new("bank"), MemorySink::new()).unwrap();
/// let balance = TrackedMutex::new("balance", 100_i64);
/// let mut actor = tracer.start_trace("handler");
/// let mut guard = balance.lock(&mut actor).unwrap();
/// let (value, actor) = guard.split();
/// actor.write("balance", &*value, &(*value + 10));
/// *value += 10;
/// drop(guard); // records LockRelease
/// ```
pub struct TrackedMutex<T> {
    id: String,
    inner: Mutex<Slot<T>>,
}

impl<T> TrackedMutex<T> {
    /// A new unlocked mutex named `id` holding `value`.
    pub fn new(id: impl Into<String>, value: T) -> TrackedMutex<T> {
        TrackedMutex {
            id: id.into(),
            inner: Mutex::new(Slot::new(value)),
        }
    }

    /// The lock id as given to [`TrackedMutex::new`].
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Locks the mutex for `actor`, blocking until it is free, like `std::sync::Mutex::lock`.
    ///
    /// After acquiring, the actor joins the clock of the last release and records `LockAcquire`
    /// (located at the caller). Poisoning is reported like std does, with a working guard.
    #[track_caller]
    pub fn lock<'a>(&'a self, actor: &'a mut Actor) -> LockResult<TrackedMutexGuard<'a, T>> {
        map_lock(self.inner.lock(), self.guard(actor, Location::caller()))
    }

    /// Tries to lock without blocking, like `std::sync::Mutex::try_lock`. Nothing is recorded
    /// when the mutex is busy.
    #[track_caller]
    pub fn try_lock<'a>(&'a self, actor: &'a mut Actor) -> TryLockResult<TrackedMutexGuard<'a, T>> {
        map_try_lock(self.inner.try_lock(), self.guard(actor, Location::caller()))
    }

    /// Makes the std guard of an acquisition at `location` into the tracked guard.
    fn guard<'a>(
        &'a self,
        actor: &'a mut Actor,
        location: &'static Location<'static>,
    ) -> impl FnOnce(MutexGuard<'a, Slot<T>>) -> TrackedMutexGuard<'a, T> {
        move |g| TrackedMutexGuard(Held::acquire(g, actor, &self.id, location))
    }

    /// The protected value, through exclusive access to the mutex (nothing is recorded).
    pub fn get_mut(&mut self) -> &mut T {
        let slot = self.inner.get_mut();
        &mut slot.unwrap_or_else(PoisonError::into_inner).value
    }

    /// Consumes the mutex and returns the value (nothing is recorded).
    pub fn into_inner(self) -> T {
        let slot = self.inner.into_inner();
        slot.unwrap_or_else(PoisonError::into_inner).value
    }
}

debug_by_id!(TrackedMutex);

/// The guard of a locked [`TrackedMutex`]: dereferences to the value, holds the actor, and
/// records `LockRelease` (storing the actor's clock in the mutex) when dropped or
/// [`unlocked`](TrackedMutexGuard::unlock).
pub struct TrackedMutexGuard<'a, T>(Held<'a, MutexGuard<'a, Slot<T>>>);

tracked_guard!(TrackedMutexGuard, mut);

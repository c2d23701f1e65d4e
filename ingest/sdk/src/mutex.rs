//! [`TrackedMutex`]: a `std::sync::Mutex` whose release -> acquire edges order the actors' clocks.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{LockResult, Mutex, MutexGuard, PoisonError, TryLockError, TryLockResult};

use raceway_schemas::{EventKind, LockEvent, LockMode};

use crate::actor::{caller_location, Actor};
use raceway_schemas::VectorClock;

/// The lock type recorded for a [`TrackedMutex`].
const LOCK_TYPE: &str = "Mutex";

/// A mutex that records `LockAcquire` / `LockRelease` events and carries the releaser's clock to
/// the next acquirer, so critical sections of different actors are ordered.
///
/// Locking borrows the actor for as long as the guard lives (the guard records the release when
/// it is dropped, whatever path the code takes). Record accesses inside the critical section
/// through the guard: [`TrackedMutexGuard::actor`] or [`TrackedMutexGuard::split`].
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

struct Slot<T> {
    value: T,
    /// Clock of the last release; joined by the next acquirer.
    released: VectorClock,
}

impl<T> TrackedMutex<T> {
    /// A new unlocked mutex named `id` holding `value`.
    pub fn new(id: impl Into<String>, value: T) -> TrackedMutex<T> {
        TrackedMutex {
            id: id.into(),
            inner: Mutex::new(Slot {
                value,
                released: VectorClock::new(),
            }),
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
        let location = caller_location();
        match self.inner.lock() {
            Ok(guard) => Ok(TrackedMutexGuard::acquired(self, guard, actor, location)),
            Err(poisoned) => Err(PoisonError::new(TrackedMutexGuard::acquired(
                self,
                poisoned.into_inner(),
                actor,
                location,
            ))),
        }
    }

    /// Tries to lock without blocking, like `std::sync::Mutex::try_lock`. Nothing is recorded
    /// when the mutex is busy.
    #[track_caller]
    pub fn try_lock<'a>(&'a self, actor: &'a mut Actor) -> TryLockResult<TrackedMutexGuard<'a, T>> {
        let location = caller_location();
        match self.inner.try_lock() {
            Ok(guard) => Ok(TrackedMutexGuard::acquired(self, guard, actor, location)),
            Err(TryLockError::Poisoned(poisoned)) => Err(TryLockError::Poisoned(PoisonError::new(
                TrackedMutexGuard::acquired(self, poisoned.into_inner(), actor, location),
            ))),
            Err(TryLockError::WouldBlock) => Err(TryLockError::WouldBlock),
        }
    }

    /// The protected value, through exclusive access to the mutex (nothing is recorded).
    pub fn get_mut(&mut self) -> &mut T {
        let slot = match self.inner.get_mut() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        &mut slot.value
    }

    /// Consumes the mutex and returns the value (nothing is recorded).
    pub fn into_inner(self) -> T {
        match self.inner.into_inner() {
            Ok(slot) => slot.value,
            Err(poisoned) => poisoned.into_inner().value,
        }
    }
}

impl<T> fmt::Debug for TrackedMutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrackedMutex")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The guard of a locked [`TrackedMutex`]: dereferences to the value, holds the actor, and
/// records `LockRelease` (storing the actor's clock in the mutex) when dropped or
/// [`unlocked`](TrackedMutexGuard::unlock).
pub struct TrackedMutexGuard<'a, T> {
    mutex: &'a TrackedMutex<T>,
    guard: MutexGuard<'a, Slot<T>>,
    actor: &'a mut Actor,
    location: String,
}

impl<'a, T> TrackedMutexGuard<'a, T> {
    fn acquired(
        mutex: &'a TrackedMutex<T>,
        guard: MutexGuard<'a, Slot<T>>,
        actor: &'a mut Actor,
        location: String,
    ) -> TrackedMutexGuard<'a, T> {
        if actor.is_recording() {
            actor.join_clock(&guard.released);
            let event = lock_event(actor, &mutex.id, LOCK_TYPE, &location);
            actor.record(EventKind::LockAcquire(event));
        }
        TrackedMutexGuard {
            mutex,
            guard,
            actor,
            location,
        }
    }

    /// The actor holding the lock, to record accesses inside the critical section.
    pub fn actor(&mut self) -> &mut Actor {
        self.actor
    }

    /// The protected value and the actor at once.
    pub fn split(&mut self) -> (&mut T, &mut Actor) {
        (&mut self.guard.value, self.actor)
    }

    /// Releases the lock now, recording `LockRelease` at the caller's location. Dropping the
    /// guard does the same, located where the lock was taken.
    #[track_caller]
    pub fn unlock(mut self) {
        self.location = caller_location();
    }
}

impl<T> Drop for TrackedMutexGuard<'_, T> {
    fn drop(&mut self) {
        if !self.actor.is_recording() {
            return;
        }
        let event = lock_event(self.actor, &self.mutex.id, LOCK_TYPE, &self.location);
        self.actor.record(EventKind::LockRelease(event));
        // Still holding the std guard: the next acquirer sees this clock.
        self.guard.released = self.actor.clock().clone();
    }
}

impl<T> Deref for TrackedMutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.guard.value
    }
}

impl<T> DerefMut for TrackedMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard.value
    }
}

impl<T: fmt::Debug> fmt::Debug for TrackedMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrackedMutexGuard")
            .field("id", &self.mutex.id)
            .field("value", &self.guard.value)
            .finish()
    }
}

/// The `LockAcquire`/`LockRelease` payload of lock `id` (qualified with service and instance)
/// of type `lock_type` (`Mutex`, `RwLock::Read`, `RwLock::Write`).
pub(crate) fn lock_event(actor: &Actor, id: &str, lock_type: &str, location: &str) -> LockEvent {
    LockEvent {
        lock_id: actor.tracer().qualify(id),
        mode: LockMode::from_lock_type(lock_type),
        lock_type: lock_type.to_string(),
        location: location.to_string(),
    }
}

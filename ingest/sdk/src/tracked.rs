//! [`Tracked<T>`]: a named variable whose every read and write is recorded.

use std::fmt;
use std::panic::Location;
use std::sync::{Mutex, MutexGuard, PoisonError};

use raceway_schemas::AccessType;
use serde::Serialize;

use crate::actor::{Actor, Var};

/// A named variable whose reads and writes are recorded at the caller's `file:line`.
///
/// Each single read or write is atomic (an internal, unrecorded lock keeps the value sound), but
/// nothing orders a read and a later write of one actor against other actors: a
/// read-modify-write through `Tracked` can lose an update, and Raceway reports it unless the
/// actors synchronise (a [`crate::TrackedMutex`] around the whole update, for example).
///
/// The name is qualified with the service and instance ([`Tracked::new`]) unless the variable
/// stands for state several services share ([`Tracked::shared`], e.g. a database row).
pub struct Tracked<T> {
    name: String,
    shared: bool,
    value: Mutex<T>,
}

impl<T: Clone + Serialize> Tracked<T> {
    /// An in-process variable `name` holding `value`.
    pub fn new(name: impl Into<String>, value: T) -> Tracked<T> {
        Tracked {
            name: name.into(),
            shared: false,
            value: Mutex::new(value),
        }
    }

    /// A variable recorded under exactly `name`, for state shared across instances/services.
    pub fn shared(name: impl Into<String>, value: T) -> Tracked<T> {
        Tracked {
            name: name.into(),
            shared: true,
            value: Mutex::new(value),
        }
    }

    /// The name given at creation.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads the value; records a `Read`.
    #[track_caller]
    pub fn read(&self, actor: &mut Actor) -> T {
        let value = self.lock().clone();
        let site = Location::caller();
        actor.record_access(self.var(), None::<&T>, &value, site, AccessType::Read);
        value
    }

    /// Writes `value`; records a `Write` with the previous value.
    #[track_caller]
    pub fn write(&self, actor: &mut Actor, value: T) {
        let old = std::mem::replace(&mut *self.lock(), value.clone());
        let site = Location::caller();
        actor.record_access(self.var(), Some(&old), &value, site, AccessType::Write);
    }

    /// The value, without recording (for assertions and shutdown code).
    pub fn get_untracked(&self) -> T {
        self.lock().clone()
    }

    fn var(&self) -> Var<'_> {
        if self.shared {
            Var::shared(&self.name)
        } else {
            Var::local(&self.name)
        }
    }

    fn lock(&self) -> MutexGuard<'_, T> {
        self.value.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: fmt::Debug> fmt::Debug for Tracked<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracked")
            .field("name", &self.name)
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

//! [`TrackedAtomic`]: std atomics whose accesses are recorded, with release -> acquire edges.

use std::fmt;
use std::sync::atomic::{
    AtomicBool, AtomicI32, AtomicI64, AtomicIsize, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
use std::sync::{Mutex, MutexGuard, PoisonError};

use raceway_schemas::{AccessType, VectorClock};
use serde::Serialize;

use crate::actor::{caller_location, to_json, Actor, Var};

/// A std atomic type that [`TrackedAtomic`] can wrap.
pub trait AtomicPrimitive: Send + Sync {
    /// The value type (`u64` for `AtomicU64`, ...).
    type Value: Copy + Serialize + PartialEq + fmt::Debug;
    /// A new atomic holding `value`.
    fn new(value: Self::Value) -> Self;
    /// `load`.
    fn load(&self, ordering: Ordering) -> Self::Value;
    /// `store`.
    fn store(&self, value: Self::Value, ordering: Ordering);
    /// `swap`.
    fn swap(&self, value: Self::Value, ordering: Ordering) -> Self::Value;
    /// `compare_exchange`.
    fn compare_exchange(
        &self,
        current: Self::Value,
        new: Self::Value,
        success: Ordering,
        failure: Ordering,
    ) -> Result<Self::Value, Self::Value>;
}

/// An integer std atomic: adds `fetch_add` and `fetch_sub`.
pub trait AtomicInteger: AtomicPrimitive {
    /// `fetch_add` (wrapping, like std).
    fn fetch_add(&self, value: Self::Value, ordering: Ordering) -> Self::Value;
    /// `fetch_sub` (wrapping, like std).
    fn fetch_sub(&self, value: Self::Value, ordering: Ordering) -> Self::Value;
}

macro_rules! atomic_primitive {
    ($atomic:ty, $value:ty) => {
        impl AtomicPrimitive for $atomic {
            type Value = $value;
            fn new(value: $value) -> Self {
                <$atomic>::new(value)
            }
            fn load(&self, ordering: Ordering) -> $value {
                <$atomic>::load(self, ordering)
            }
            fn store(&self, value: $value, ordering: Ordering) {
                <$atomic>::store(self, value, ordering)
            }
            fn swap(&self, value: $value, ordering: Ordering) -> $value {
                <$atomic>::swap(self, value, ordering)
            }
            fn compare_exchange(
                &self,
                current: $value,
                new: $value,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$value, $value> {
                <$atomic>::compare_exchange(self, current, new, success, failure)
            }
        }
    };
}

macro_rules! atomic_integer {
    ($atomic:ty, $value:ty) => {
        atomic_primitive!($atomic, $value);
        impl AtomicInteger for $atomic {
            fn fetch_add(&self, value: $value, ordering: Ordering) -> $value {
                <$atomic>::fetch_add(self, value, ordering)
            }
            fn fetch_sub(&self, value: $value, ordering: Ordering) -> $value {
                <$atomic>::fetch_sub(self, value, ordering)
            }
        }
    };
}

atomic_primitive!(AtomicBool, bool);
atomic_integer!(AtomicI32, i32);
atomic_integer!(AtomicI64, i64);
atomic_integer!(AtomicIsize, isize);
atomic_integer!(AtomicU32, u32);
atomic_integer!(AtomicU64, u64);
atomic_integer!(AtomicUsize, usize);

/// A tracked `AtomicBool`.
pub type TrackedAtomicBool = TrackedAtomic<AtomicBool>;
/// A tracked `AtomicI32`.
pub type TrackedAtomicI32 = TrackedAtomic<AtomicI32>;
/// A tracked `AtomicI64`.
pub type TrackedAtomicI64 = TrackedAtomic<AtomicI64>;
/// A tracked `AtomicU32`.
pub type TrackedAtomicU32 = TrackedAtomic<AtomicU32>;
/// A tracked `AtomicU64`.
pub type TrackedAtomicU64 = TrackedAtomic<AtomicU64>;
/// A tracked `AtomicUsize`.
pub type TrackedAtomicUsize = TrackedAtomic<AtomicUsize>;
/// A tracked `AtomicIsize`.
pub type TrackedAtomicIsize = TrackedAtomic<AtomicIsize>;

/// An atomic that records every access (`AtomicRead`, `AtomicWrite`, `AtomicRMW`, located at the
/// caller) under its name, qualified with the service and instance.
///
/// Release -> acquire orders the actors' clocks the way the memory model orders the threads: a
/// store or read-modify-write with `Release`, `AcqRel` or `SeqCst` publishes the actor's clock,
/// and a load or read-modify-write with `Acquire`, `AcqRel` or `SeqCst` that reads it joins it.
/// A relaxed store ends the release sequence; a relaxed read-modify-write continues it. The
/// operation and the clock hand-over happen under one small internal lock, so the clock always
/// matches the value read: a tracked atomic costs a lock, the price of recording it faithfully.
pub struct TrackedAtomic<A: AtomicPrimitive> {
    name: String,
    atomic: A,
    /// Clock published by the release sequence the current value belongs to.
    released: Mutex<VectorClock>,
}

impl<A: AtomicPrimitive> TrackedAtomic<A> {
    /// A new atomic named `name` holding `value`.
    pub fn new(name: impl Into<String>, value: A::Value) -> TrackedAtomic<A> {
        TrackedAtomic {
            name: name.into(),
            atomic: A::new(value),
            released: Mutex::new(VectorClock::new()),
        }
    }

    /// The name given to [`TrackedAtomic::new`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value, without recording (for assertions and shutdown code).
    pub fn get_untracked(&self) -> A::Value {
        self.atomic.load(Ordering::SeqCst)
    }

    /// Loads the value; records `AtomicRead`.
    #[track_caller]
    pub fn load(&self, actor: &mut Actor, ordering: Ordering) -> A::Value {
        if !actor.is_recording() {
            return self.atomic.load(ordering);
        }
        let location = caller_location();
        let released = self.released();
        let value = self.atomic.load(ordering);
        if acquires(ordering) {
            actor.join_clock(&released);
        }
        drop(released);
        actor.access(
            Var::local(&self.name),
            None,
            to_json(&value),
            &location,
            AccessType::AtomicRead,
        );
        value
    }

    /// Stores `value`; records `AtomicWrite`.
    #[track_caller]
    pub fn store(&self, actor: &mut Actor, value: A::Value, ordering: Ordering) {
        if !actor.is_recording() {
            return self.atomic.store(value, ordering);
        }
        let location = caller_location();
        let mut released = self.released();
        // Recorded before the store is visible, so the published clock includes the write.
        actor.access(
            Var::local(&self.name),
            None,
            to_json(&value),
            &location,
            AccessType::AtomicWrite,
        );
        self.atomic.store(value, ordering);
        if releases(ordering) {
            released.clone_from(actor.clock());
        } else {
            *released = VectorClock::new();
        }
    }

    /// Swaps in `value` and returns the previous one; records `AtomicRMW`.
    #[track_caller]
    pub fn swap(&self, actor: &mut Actor, value: A::Value, ordering: Ordering) -> A::Value {
        let location = caller_location();
        self.read_modify_write(actor, ordering, &location, |atomic| {
            let old = atomic.swap(value, ordering);
            (old, Some(value))
        })
    }

    /// Compare-and-exchange like std; records `AtomicRMW` on success and `AtomicRead` on
    /// failure (a failed exchange only reads).
    #[track_caller]
    pub fn compare_exchange(
        &self,
        actor: &mut Actor,
        current: A::Value,
        new: A::Value,
        success: Ordering,
        failure: Ordering,
    ) -> Result<A::Value, A::Value> {
        let location = caller_location();
        if !actor.is_recording() {
            return self.atomic.compare_exchange(current, new, success, failure);
        }
        let mut released = self.released();
        let result = self.atomic.compare_exchange(current, new, success, failure);
        let variable = Var::local(&self.name);
        match result {
            Ok(old) => {
                if acquires(success) {
                    actor.join_clock(&released);
                }
                let (old, new) = (Some(to_json(&old)), to_json(&new));
                actor.access(variable, old, new, &location, AccessType::AtomicRMW);
                if releases(success) {
                    released.join(actor.clock());
                }
            }
            Err(seen) => {
                if acquires(failure) {
                    actor.join_clock(&released);
                }
                let seen = to_json(&seen);
                actor.access(variable, None, seen, &location, AccessType::AtomicRead);
            }
        }
        result
    }

    /// Runs one read-modify-write under the clock lock: joins the published clock (acquire),
    /// records `AtomicRMW`, and extends the release sequence (release).
    fn read_modify_write(
        &self,
        actor: &mut Actor,
        ordering: Ordering,
        location: &str,
        operation: impl FnOnce(&A) -> (A::Value, Option<A::Value>),
    ) -> A::Value {
        if !actor.is_recording() {
            return operation(&self.atomic).0;
        }
        let mut released = self.released();
        let (old, new) = operation(&self.atomic);
        if acquires(ordering) {
            actor.join_clock(&released);
        }
        let new = new.unwrap_or(old);
        actor.access(
            Var::local(&self.name),
            Some(to_json(&old)),
            to_json(&new),
            location,
            AccessType::AtomicRMW,
        );
        if releases(ordering) {
            released.join(actor.clock());
        }
        old
    }

    fn released(&self) -> MutexGuard<'_, VectorClock> {
        self.released.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<A: AtomicInteger> TrackedAtomic<A>
where
    A::Value: WrappingArith,
{
    /// Adds `value` (wrapping) and returns the previous value; records `AtomicRMW`.
    #[track_caller]
    pub fn fetch_add(&self, actor: &mut Actor, value: A::Value, ordering: Ordering) -> A::Value {
        let arith: ArithOp<A> = (A::fetch_add, A::Value::wrapping_add_value);
        self.fetch_arith(actor, value, ordering, &caller_location(), arith)
    }

    /// Subtracts `value` (wrapping) and returns the previous value; records `AtomicRMW`.
    #[track_caller]
    pub fn fetch_sub(&self, actor: &mut Actor, value: A::Value, ordering: Ordering) -> A::Value {
        let arith: ArithOp<A> = (A::fetch_sub, A::Value::wrapping_sub_value);
        self.fetch_arith(actor, value, ordering, &caller_location(), arith)
    }

    /// One read-modify-write by `fetch` (the atomic operation) whose written value is
    /// `apply(old, value)` (the same operation on plain values, to record it).
    fn fetch_arith(
        &self,
        actor: &mut Actor,
        value: A::Value,
        ordering: Ordering,
        location: &str,
        (fetch, apply): ArithOp<A>,
    ) -> A::Value {
        self.read_modify_write(actor, ordering, location, |atomic| {
            let old = fetch(atomic, value, ordering);
            (old, Some(apply(old, value)))
        })
    }
}

/// An atomic arithmetic operation and the same operation on plain values.
type ArithOp<A> = (
    fn(&A, <A as AtomicPrimitive>::Value, Ordering) -> <A as AtomicPrimitive>::Value,
    fn(
        <A as AtomicPrimitive>::Value,
        <A as AtomicPrimitive>::Value,
    ) -> <A as AtomicPrimitive>::Value,
);

/// Wrapping arithmetic of the integer values, to record the value a `fetch_add` wrote.
pub trait WrappingArith: Copy {
    /// `self + other`, wrapping.
    fn wrapping_add_value(self, other: Self) -> Self;
    /// `self - other`, wrapping.
    fn wrapping_sub_value(self, other: Self) -> Self;
}

macro_rules! wrapping_arith {
    ($($value:ty),*) => {$(
        impl WrappingArith for $value {
            fn wrapping_add_value(self, other: Self) -> Self {
                self.wrapping_add(other)
            }
            fn wrapping_sub_value(self, other: Self) -> Self {
                self.wrapping_sub(other)
            }
        }
    )*};
}

wrapping_arith!(i32, i64, isize, u32, u64, usize);

impl<A: AtomicPrimitive> fmt::Debug for TrackedAtomic<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrackedAtomic")
            .field("name", &self.name)
            .field("value", &self.atomic.load(Ordering::Relaxed))
            .finish()
    }
}

fn acquires(ordering: Ordering) -> bool {
    matches!(
        ordering,
        Ordering::Acquire | Ordering::AcqRel | Ordering::SeqCst
    )
}

fn releases(ordering: Ordering) -> bool {
    matches!(
        ordering,
        Ordering::Release | Ordering::AcqRel | Ordering::SeqCst
    )
}

//! Forgetting finished actors: the registry of joined actors whose clock components a clock may
//! drop once they are older than [`crate::TracerConfig::prune_finished_after`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use raceway_schemas::VectorClock;

/// Clocks with at most this many components are left alone: pruning them saves nothing, and
/// the check would cost a lock on the hot path of every join.
pub(crate) const PRUNE_ABOVE_COMPONENTS: usize = 16;
/// Most finished actors remembered; the oldest are forgotten first (their components then stay
/// in the clocks that still hold them, which is safe, only larger).
const MAX_REMEMBERED: usize = 1 << 16;

/// Components of actors that finished, with when they finished.
#[derive(Default)]
pub(crate) struct FinishedActors {
    inner: Mutex<Registry>,
}

#[derive(Default)]
struct Registry {
    finished_at: HashMap<String, Instant>,
    order: VecDeque<String>,
}

impl FinishedActors {
    /// Remembers that the actor with clock component `component` finished now.
    pub(crate) fn finished(&self, component: &str) {
        let mut registry = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if registry
            .finished_at
            .insert(component.to_string(), Instant::now())
            .is_none()
        {
            registry.order.push_back(component.to_string());
        }
        while registry.order.len() > MAX_REMEMBERED {
            if let Some(oldest) = registry.order.pop_front() {
                registry.finished_at.remove(&oldest);
            }
        }
    }

    /// Drops from `clock` the components of actors that finished more than `after` ago; never
    /// `own`, the component of the actor holding the clock. Returns how many were dropped.
    pub(crate) fn prune(&self, clock: &mut VectorClock, own: &str, after: Duration) -> usize {
        if clock.len() <= PRUNE_ABOVE_COMPONENTS {
            return 0;
        }
        let registry = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let before = clock.len();
        clock.retain(|component, _| {
            component == own
                || registry
                    .finished_at
                    .get(component)
                    .is_none_or(|at| at.elapsed() < after)
        });
        before - clock.len()
    }
}

//! Shared copies of the strings that repeat across the race stage's accesses (actors, locations,
//! lock sets), so that retained accesses stay small and compare by pointer first. Clock component
//! ids live with the compact clocks of the `retention` module.

use std::hash::Hash;
use std::sync::Arc;

use foldhash::HashSet;
use raceway_schemas::{ActorId, HeldLock};

/// One shared copy of each actor, location and lock set the race stage retains, so that a
/// retained access owns no strings of its own but its value: dropping it touches no scattered
/// allocations, and equal pieces compare by pointer first (`Arc`'s `==` does for `Eq` types).
/// Cleared when it grows past a bound (actors and lock ids can keep coming); clearing only costs
/// sharing, never correctness, since pieces still compare by content.
#[derive(Debug, Default)]
pub(crate) struct SharedPieces {
    actors: HashSet<Arc<ActorId>>,
    locations: HashSet<Arc<str>>,
    lock_sets: HashSet<Arc<[HeldLock]>>,
}

impl SharedPieces {
    const MAX_PIECES: usize = 1 << 16;

    /// The shared copy of `actor`.
    pub(crate) fn actor(&mut self, actor: ActorId) -> Arc<ActorId> {
        share(&mut self.actors, actor, Arc::new)
    }

    /// The shared copy of `location`.
    pub(crate) fn location(&mut self, location: String) -> Arc<str> {
        share(&mut self.locations, location, |l| Arc::from(l.as_str()))
    }

    /// The shared copy of a (sorted, deduplicated) lock set.
    pub(crate) fn locks(&mut self, locks: Vec<HeldLock>) -> Arc<[HeldLock]> {
        share(&mut self.lock_sets, locks, Arc::from)
    }
}

/// The element of `set` equal to `value`, inserted (made by `make`) when missing.
fn share<T, V>(set: &mut HashSet<Arc<T>>, value: V, make: impl FnOnce(V) -> Arc<T>) -> Arc<T>
where
    T: Hash + Eq + ?Sized,
    V: std::borrow::Borrow<T>,
{
    if let Some(shared) = set.get(value.borrow()) {
        return Arc::clone(shared);
    }
    if set.len() >= SharedPieces::MAX_PIECES {
        set.clear();
    }
    let shared = make(value);
    set.insert(Arc::clone(&shared));
    shared
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_are_shared_and_equal_by_content() {
        let mut pieces = SharedPieces::default();
        let a = pieces.location("a.rs:1".to_string());
        let b = pieces.location("a.rs:1".to_string());
        assert!(Arc::ptr_eq(&a, &b));
        let actor = ActorId {
            service: "s".into(),
            instance: "1".into(),
            thread: "t".into(),
        };
        let shared = pieces.actor(actor.clone());
        assert!(Arc::ptr_eq(&shared, &pieces.actor(actor.clone())));
        assert_eq!(*shared, actor);
        assert!(pieces.locks(Vec::new()).is_empty());
    }
}

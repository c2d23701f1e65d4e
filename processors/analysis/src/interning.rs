//! Helpers that keep the race stage cheap per access: shared copies of the strings that repeat
//! across accesses (actors, locations, lock sets) and a fast hasher for internal keys. Clock
//! component ids live with the compact clocks of the `retention` module.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::Arc;

use raceway_schemas::{ActorId, HeldLock};

/// One shared copy of each actor, location and lock set the race stage retains, so that a
/// retained access owns no strings of its own but its value: dropping it touches no scattered
/// allocations, and equal pieces compare by pointer first (`Arc`'s `==` does for `Eq` types).
/// Cleared when it grows past a bound (actors and lock ids can keep coming); clearing only costs
/// sharing, never correctness, since pieces still compare by content.
#[derive(Debug, Default)]
pub(crate) struct SharedPieces {
    actors: HashSet<Arc<ActorId>, BuildHasherDefault<Fx>>,
    locations: HashSet<Arc<str>, BuildHasherDefault<Fx>>,
    lock_sets: HashSet<Arc<[HeldLock]>, BuildHasherDefault<Fx>>,
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
fn share<T, V>(
    set: &mut HashSet<Arc<T>, BuildHasherDefault<Fx>>,
    value: V,
    make: impl FnOnce(V) -> Arc<T>,
) -> Arc<T>
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

/// A small, fast hasher (the Fx hash of rustc) for keys whose collisions cost only time:
/// domination keys are verified in full, interned names compared by content.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Fx(u64);

impl Fx {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let mut tail = [0u8; 8];
        tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        self.add(u64::from_le_bytes(tail));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
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

    #[test]
    fn fx_hashes_are_deterministic_and_tell_keys_apart() {
        let hash = |value: &str| {
            let mut hasher = Fx::default();
            value.hash(&mut hasher);
            hasher.finish()
        };
        assert_eq!(hash("location.rs:12"), hash("location.rs:12"));
        assert_ne!(hash("location.rs:12"), hash("location.rs:13"));
        assert_ne!(hash(""), hash("a"));
    }
}

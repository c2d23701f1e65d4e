//! One canonical copy of each piece that repeats across the race stage's accesses (actors,
//! locations, lock sets), so that retained accesses stay small and the domination key can hash a
//! piece by its address. Clock component ids live with the compact clocks of the `retention`
//! module.
//!
//! Accesses arrive with their pieces already shared (`Arc`s from the decoder's or the input
//! builder's [`SharedNames`](raceway_schemas::SharedNames) table), so the piece of an arriving
//! access is first looked up **by its address**: one integer hashed, where a lookup by content
//! hashed and compared the actor's three strings on every access. Only a piece not seen at that
//! address before is looked up by content, and its canonical copy is remembered for the address.
//! An address entry holds the arriving `Arc` itself, so the address cannot be freed and reused
//! for other content while the entry exists. Without the content step, equal pieces from two
//! tables (a decoder's table after it was cleared, or inputs built by hand) would get different
//! canonical copies and fewer accesses would dominate each other.

use std::hash::Hash;
use std::sync::Arc;

use foldhash::{HashMap, HashSet};
use raceway_schemas::{ActorId, HeldLock};

/// The canonical copies of one kind of piece: by content, and by the address of every copy seen
/// (see the module doc). Each map is cleared when it grows past a bound (actors and lock ids can
/// keep coming); clearing only costs sharing, never correctness, since pieces still compare by
/// content.
#[derive(Debug)]
struct Pieces<T: ?Sized> {
    by_content: HashSet<Arc<T>>,
    /// Address of an arriving copy -> (that copy, kept alive; its canonical copy).
    by_address: HashMap<usize, (Arc<T>, Arc<T>)>,
}

impl<T: ?Sized> Default for Pieces<T> {
    fn default() -> Self {
        Pieces {
            by_content: HashSet::default(),
            by_address: HashMap::default(),
        }
    }
}

impl<T: Hash + Eq + ?Sized> Pieces<T> {
    const MAX_PIECES: usize = 1 << 16;

    /// The canonical copy of `piece`.
    fn share(&mut self, piece: &Arc<T>) -> Arc<T> {
        let address = Arc::as_ptr(piece).cast::<u8>() as usize;
        if let Some((_, canonical)) = self.by_address.get(&address) {
            return Arc::clone(canonical);
        }
        if self.by_address.len() >= Self::MAX_PIECES {
            self.by_address.clear();
        }
        let canonical = self.share_by_content(piece);
        self.by_address
            .insert(address, (Arc::clone(piece), Arc::clone(&canonical)));
        canonical
    }

    /// The canonical copy of `piece`, looked up by content only: for a piece made here (a lock
    /// set sorted by the detector), whose address no later access will bring again.
    fn share_by_content(&mut self, piece: &Arc<T>) -> Arc<T> {
        if let Some(canonical) = self.by_content.get(&**piece) {
            return Arc::clone(canonical);
        }
        if self.by_content.len() >= Self::MAX_PIECES {
            self.by_content.clear();
        }
        self.by_content.insert(Arc::clone(piece));
        Arc::clone(piece)
    }
}

/// The canonical copy of each actor, location and lock set the race stage retains, so that a
/// retained access owns no strings of its own but its value: dropping it touches no scattered
/// allocations, and equal pieces compare by pointer first (`Arc`'s `==` does for `Eq` types).
#[derive(Debug, Default)]
pub(crate) struct SharedPieces {
    actors: Pieces<ActorId>,
    locations: Pieces<str>,
    lock_sets: Pieces<[HeldLock]>,
}

impl SharedPieces {
    /// The canonical copy of `actor`.
    pub(crate) fn actor(&mut self, actor: &Arc<ActorId>) -> Arc<ActorId> {
        self.actors.share(actor)
    }

    /// The canonical copy of `location`.
    pub(crate) fn location(&mut self, location: &Arc<str>) -> Arc<str> {
        self.locations.share(location)
    }

    /// The canonical copy of a (sorted, deduplicated) lock set as it arrived.
    pub(crate) fn locks(&mut self, locks: &Arc<[HeldLock]>) -> Arc<[HeldLock]> {
        self.lock_sets.share(locks)
    }

    /// The canonical copy of a lock set the detector sorted itself (by content only).
    pub(crate) fn sorted_locks(&mut self, locks: &Arc<[HeldLock]>) -> Arc<[HeldLock]> {
        self.lock_sets.share_by_content(locks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_pieces_from_different_copies_get_one_canonical_copy() {
        let mut pieces = SharedPieces::default();
        let a: Arc<str> = Arc::from("a.rs:1");
        let b: Arc<str> = Arc::from("a.rs:1");
        let shared = pieces.location(&a);
        assert!(Arc::ptr_eq(&shared, &a));
        assert!(Arc::ptr_eq(&pieces.location(&b), &a));
        assert!(Arc::ptr_eq(&pieces.location(&b), &a));
        assert!(!Arc::ptr_eq(&pieces.location(&Arc::from("a.rs:2")), &a));
        let actor = Arc::new(ActorId {
            service: "s".into(),
            instance: "1".into(),
            thread: "t".into(),
        });
        let shared = pieces.actor(&Arc::new(ActorId::clone(&actor)));
        assert!(Arc::ptr_eq(&shared, &pieces.actor(&actor)));
        assert_eq!(*shared, *actor);
        assert!(pieces.locks(&Arc::from(Vec::new())).is_empty());
    }

    #[test]
    fn a_copy_dropped_and_its_address_reused_is_not_mistaken_for_the_old_piece() {
        let mut pieces = SharedPieces::default();
        for n in 0..1_000 {
            // Each copy is dropped by the caller after the call; the entry keeps it alive, so
            // a later allocation at the same address cannot happen while the entry exists.
            let text = format!("app.rs:{}", n % 7);
            let shared = pieces.location(&Arc::from(text.as_str()));
            assert_eq!(*shared, *text);
        }
    }
}

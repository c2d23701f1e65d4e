//! The canonical copies of retained pieces ([`SharedPieces`]), with the actors that arrived
//! last found by the address of the arriving copy with one or two comparisons, in front of
//! [`SharedPieces::actor`].
//!
//! Rule: a slot holds the arriving `Arc` itself with its canonical copy, so the address it is
//! found by cannot be freed and reused for another actor while the slot holds it. Reason: an
//! access's actor is shared by the decoder, so the actors of a stream arrive as a few addresses
//! again and again, and the shared pieces' lookup by address hashed the address and probed a
//! map on every access (about 50 instructions) for what a set of two slots answers.
//! What breaks otherwise: a slot keyed by a bare address could hand out the canonical copy of
//! an actor that is gone for a new actor allocated at its address.
//!
//! A slot's canonical copy stays what [`SharedPieces`] gave when it was filled, also after the
//! shared pieces clear their maps (which they do past a bound): an equal actor may then get
//! another canonical copy from them, which, as any clear of the shared pieces does, only keeps
//! accesses that would have dominated each other apart. Verdicts compare actors by content.

use std::sync::Arc;

use raceway_schemas::{Access, ActorId, HeldLock};

use super::shared_facts::{SharedFacts, Site, Who};
use crate::interning::SharedPieces;

/// Sets of two slots, a power of two: room for the actors of a service's threads. Two slots
/// per set, because the addresses of one size class come at a fixed stride, and some strides
/// send a few of them to one set whatever the hash: direct-mapped (one slot each), 16 actors 96
/// bytes apart shared 9 slots and missed every other lookup.
const SETS: usize = 32;

/// An arriving copy, its canonical copy, and the last [`Who`] of that actor for reads and for
/// writes: an actor's accesses come trace after trace, so the last one usually still fits.
#[derive(Debug, Clone)]
struct ActorSlot {
    arrived: Arc<ActorId>,
    canonical: Arc<ActorId>,
    last: [Option<Arc<Who>>; 2],
}

type Slot = Option<ActorSlot>;

/// The shared pieces and facts, and the recent actors' slots by a hash of the arriving copy's
/// address.
#[derive(Debug)]
pub(crate) struct CanonicalPieces {
    pieces: SharedPieces,
    facts: SharedFacts,
    recent_actors: Box<[[Slot; 2]]>,
}

impl Default for CanonicalPieces {
    fn default() -> Self {
        CanonicalPieces {
            pieces: SharedPieces::default(),
            facts: SharedFacts::default(),
            recent_actors: vec![[None, None]; SETS].into_boxed_slice(),
        }
    }
}

impl CanonicalPieces {
    /// The slot of `actor`, filled from the shared pieces on a miss.
    #[inline(always)]
    fn slot(&mut self, actor: &Arc<ActorId>) -> &mut ActorSlot {
        let set = set_of(actor) % SETS;
        let found = self.recent_actors[set].iter().position(|slot| {
            slot.as_ref()
                .is_some_and(|s| Arc::ptr_eq(&s.arrived, actor))
        });
        let at = match found {
            Some(at) => at,
            None => self.fill(set, actor),
        };
        // `fill` leaves the actor in the first slot: always there.
        self.recent_actors[set][at]
            .as_mut()
            .expect("the slot just found or filled")
    }

    /// The canonical copy of `actor`, from its set or, on a miss, from the shared pieces.
    #[cfg(test)]
    fn actor(&mut self, actor: &Arc<ActorId>) -> Arc<ActorId> {
        Arc::clone(&self.slot(actor).canonical)
    }

    /// The canonical [`Who`] of `access`: the last one of its actor and kind of access when it
    /// still fits, one comparison of a few fields, or else the shared facts' copy.
    #[inline(always)]
    pub(crate) fn who(&mut self, access: &Access) -> Arc<Who> {
        let kind = usize::from(access.access_type.is_write());
        let slot = self.slot(&access.actor);
        if let Some(last) = &slot.last[kind] {
            if last.trace_id == access.trace_id
                && last.trace_start_ns == access.trace_start_ns
                && last.trace_end_ns == access.trace_end_ns
                && last.access_type == access.access_type
                && last.trusted_clock == access.trusted_clock
            {
                return Arc::clone(last);
            }
        }
        let who = Who {
            trace_id: access.trace_id,
            trace_start_ns: access.trace_start_ns,
            trace_end_ns: access.trace_end_ns,
            access_type: access.access_type,
            trusted_clock: access.trusted_clock,
            actor: Arc::clone(&slot.canonical),
        };
        let who = self.facts.who(who);
        let slot = self.slot(&access.actor);
        slot.last[kind] = Some(Arc::clone(&who));
        who
    }

    /// The canonical [`Site`] of `location` and a sorted, deduplicated lock set (`sorted`
    /// says whether the detector sorted it itself, so that no later access brings its address).
    pub(crate) fn site(
        &mut self,
        location: &Arc<str>,
        locks: &Arc<[HeldLock]>,
        sorted: bool,
    ) -> Arc<Site> {
        let location = self.pieces.location(location);
        let locks = if sorted {
            self.pieces.sorted_locks(locks)
        } else {
            self.pieces.locks(locks)
        };
        self.facts.site(location, locks)
    }

    /// Looks `actor` up in the shared pieces and keeps it in the first slot of `set`, the
    /// first slot's actor moving to the second (whose actor is let go); returns the slot: 0.
    #[cold]
    #[inline(never)]
    fn fill(&mut self, set: usize, actor: &Arc<ActorId>) -> usize {
        let canonical = self.pieces.actor(actor);
        if let Some([first, second]) = self.recent_actors.get_mut(set) {
            *second = first.replace(ActorSlot {
                arrived: Arc::clone(actor),
                canonical,
                last: [None, None],
            });
        }
        0
    }

    /// The shared pieces, for the pieces other than actors.
    pub(crate) fn shared(&mut self) -> &mut SharedPieces {
        &mut self.pieces
    }
}

/// The set of `actor`'s address: the address without its alignment bits (always zero),
/// multiplied by the golden ratio, the top bits taken.
fn set_of(actor: &Arc<ActorId>) -> usize {
    let address = (Arc::as_ptr(actor) as usize as u64) >> 4;
    (address.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - SETS.trailing_zeros())) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(thread: &str) -> Arc<ActorId> {
        Arc::new(ActorId {
            service: "svc".into(),
            instance: "1".into(),
            thread: thread.into(),
        })
    }

    #[test]
    fn an_actor_gets_the_canonical_copy_the_shared_pieces_give() {
        let mut pieces = CanonicalPieces::default();
        let first = actor("t1");
        let equal_elsewhere = actor("t1");
        let other = actor("t2");
        let canonical = pieces.actor(&first);
        assert!(Arc::ptr_eq(&canonical, &pieces.pieces.actor(&first)));
        for _ in 0..3 {
            assert!(Arc::ptr_eq(&pieces.actor(&first), &canonical));
            assert!(Arc::ptr_eq(&pieces.actor(&equal_elsewhere), &canonical));
            let for_other = pieces.actor(&other);
            assert_eq!(*for_other, *other);
            assert!(!Arc::ptr_eq(&for_other, &canonical));
        }
    }

    #[test]
    fn actors_that_share_a_slot_each_get_their_own_copy() {
        let mut pieces = CanonicalPieces::default();
        // More actors than slots, twice over: sets are shared and refilled.
        let actors: Vec<_> = (0..4 * SETS).map(|n| actor(&format!("t{n}"))).collect();
        for _ in 0..2 {
            for arriving in &actors {
                assert_eq!(*pieces.actor(arriving), **arriving);
            }
        }
    }
}

//! The facts that many retained accesses share, each kept once: who made an access (its trace,
//! the trace's span, its actor, its type) and where (its location and lock set).
//!
//! Rule: equal facts get one canonical copy, found by content for [`Who`] and by the addresses
//! of the canonical location and lock set for [`Site`], so that a retained access holds two
//! pointers instead of 90 bytes of facts and the domination key hashes the two addresses.
//! Reason: the race stage is memory bound, and the retained form is written into a cold slot at
//! every insertion; with the facts inline it was 256 bytes. What breaks otherwise: equal facts
//! under two copies give two domination keys, so entries that dominate each other would both be
//! kept (only memory, never a verdict: [`dominates`](super::dominates) compares contents). The
//! tables are cleared past a bound, as the shared pieces are, which costs the same and no more.

use std::hash::Hash;
use std::sync::Arc;

use foldhash::HashMap;
use raceway_schemas::{AccessType, ActorId, HeldLock};
use uuid::Uuid;

/// Who made an access: what an actor's accesses of one trace share.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Who {
    pub(crate) trace_id: Uuid,
    pub(crate) trace_start_ns: i64,
    pub(crate) trace_end_ns: i64,
    pub(crate) access_type: AccessType,
    pub(crate) trusted_clock: bool,
    /// The canonical copy (`interning`).
    pub(crate) actor: Arc<ActorId>,
}

/// Where an access was made: what the accesses of one place under one lock set share.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Site {
    /// The canonical copy (`interning`).
    pub(crate) location: Arc<str>,
    /// Sorted and deduplicated, the canonical copy, so lock sets compare with `==`.
    pub(crate) locks: Arc<[HeldLock]>,
}

/// A [`Who`]'s content, its actor by the canonical copy's address.
type WhoKey = (Uuid, i64, i64, AccessType, bool, usize);

/// The canonical [`Who`]s and [`Site`]s (see the module doc).
#[derive(Debug, Default)]
pub(crate) struct SharedFacts {
    whos: HashMap<WhoKey, Arc<Who>>,
    /// By the addresses of the canonical location and lock set, which the site holds, so the
    /// addresses stay theirs while the entry is here.
    sites: HashMap<(usize, usize), Arc<Site>>,
}

const MAX_FACTS: usize = 1 << 16;

/// The canonical copy in `table` under `key`, made by `make` when there is none; the table is
/// cleared first when it is full.
fn share<K: Hash + Eq, V>(
    table: &mut HashMap<K, Arc<V>>,
    key: K,
    make: impl FnOnce() -> V,
) -> Arc<V> {
    if table.len() >= MAX_FACTS && !table.contains_key(&key) {
        table.clear();
    }
    Arc::clone(table.entry(key).or_insert_with(|| Arc::new(make())))
}

impl SharedFacts {
    /// The canonical copy of `who`, whose actor is already canonical.
    pub(crate) fn who(&mut self, who: Who) -> Arc<Who> {
        let key = (
            who.trace_id,
            who.trace_start_ns,
            who.trace_end_ns,
            who.access_type,
            who.trusted_clock,
            Arc::as_ptr(&who.actor) as usize,
        );
        share(&mut self.whos, key, || who)
    }

    /// The canonical site of a canonical `location` and lock set.
    pub(crate) fn site(&mut self, location: Arc<str>, locks: Arc<[HeldLock]>) -> Arc<Site> {
        let key = (
            Arc::as_ptr(&location).cast::<u8>() as usize,
            Arc::as_ptr(&locks).cast::<u8>() as usize,
        );
        share(&mut self.sites, key, || Site { location, locks })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(trace: u128, actor: &Arc<ActorId>) -> Who {
        Who {
            trace_id: Uuid::from_u128(trace),
            trace_start_ns: 1,
            trace_end_ns: 2,
            access_type: AccessType::Write,
            trusted_clock: true,
            actor: Arc::clone(actor),
        }
    }

    #[test]
    fn equal_facts_share_one_copy_and_different_ones_do_not() {
        let mut facts = SharedFacts::default();
        let actor = Arc::new(ActorId {
            service: "svc".into(),
            instance: "1".into(),
            thread: "t".into(),
        });
        let first = facts.who(who(1, &actor));
        assert!(Arc::ptr_eq(&first, &facts.who(who(1, &actor))));
        assert!(!Arc::ptr_eq(&first, &facts.who(who(2, &actor))));
        let (location, other): (Arc<str>, Arc<str>) = ("a.rs:1".into(), "a.rs:2".into());
        let locks: Arc<[HeldLock]> = Arc::from(Vec::new());
        let site = facts.site(Arc::clone(&location), Arc::clone(&locks));
        assert!(Arc::ptr_eq(
            &site,
            &facts.site(location, Arc::clone(&locks))
        ));
        assert!(!Arc::ptr_eq(&site, &facts.site(other, locks)));
    }
}

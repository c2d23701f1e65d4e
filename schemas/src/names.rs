//! [`SharedNames`]: one shared copy of each name that repeats across race-stage inputs
//! (environments, variables, locations, actors, lock sets), handed out as `Arc`s.
//!
//! An [`Access`](crate::Access) holds these pieces as `Arc`s rather than owning its strings. The
//! race stage's decoder and the trace stage's input builder look each piece up here from the text
//! they read (borrowed from the record or the event, so a repeated name costs a lookup and no
//! allocation), and every access that names the same thing gets the same allocation. The race
//! detector keeps the pieces it is given: dropping an access frees nothing shared, and equal
//! pieces compare by pointer first. Owned strings cost every access about nine allocations and
//! frees, and the detector hashed three of them again to share the actor.
//!
//! Tables are hashbrown [`HashTable`]s so that a piece is found from its borrowed parts (an
//! actor's three strings, a lock set's ids and modes) without building the owned value first.
//! The hasher is seeded per table set (foldhash's random state), so names chosen by a client
//! cannot be crafted to collide. Each table is cleared when it reaches [`SharedNames::MAX_NAMES`]
//! entries (variables, actors and lock ids can keep coming): a clear only costs sharing, since
//! pieces handed out before it keep their allocations and still compare by content.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use hashbrown::HashTable;

use crate::access::HeldLock;
use crate::model::{ActorId, LockMode};

/// The shared copies handed out so far (see the module doc).
#[derive(Debug, Default)]
pub struct SharedNames {
    state: foldhash::fast::RandomState,
    strings: HashTable<Arc<str>>,
    actors: HashTable<Arc<ActorId>>,
    lock_sets: HashTable<Arc<[HeldLock]>>,
}

impl SharedNames {
    /// Entries a table holds before it is cleared.
    pub const MAX_NAMES: usize = 1 << 16;

    /// The shared copy of `text` (an environment, variable or location).
    pub fn name(&mut self, text: &str) -> Arc<str> {
        let state = &self.state;
        let hash = state.hash_one(text);
        if let Some(shared) = self.strings.find(hash, |s| **s == *text) {
            return Arc::clone(shared);
        }
        bound(&mut self.strings);
        let shared: Arc<str> = Arc::from(text);
        self.strings
            .insert_unique(hash, Arc::clone(&shared), |s| state.hash_one(&**s));
        shared
    }

    /// The shared copy of the actor with these parts.
    pub fn actor(&mut self, service: &str, instance: &str, thread: &str) -> Arc<ActorId> {
        let state = &self.state;
        let hash = state.hash_one((service, instance, thread));
        let equal =
            |a: &Arc<ActorId>| a.thread == thread && a.service == service && a.instance == instance;
        if let Some(shared) = self.actors.find(hash, equal) {
            return Arc::clone(shared);
        }
        bound(&mut self.actors);
        let shared = Arc::new(ActorId {
            service: service.to_owned(),
            instance: instance.to_owned(),
            thread: thread.to_owned(),
        });
        self.actors.insert_unique(hash, Arc::clone(&shared), |a| {
            state.hash_one((a.service.as_str(), a.instance.as_str(), a.thread.as_str()))
        });
        shared
    }

    /// The shared copy of `actor`.
    pub fn actor_of(&mut self, actor: &ActorId) -> Arc<ActorId> {
        self.actor(&actor.service, &actor.instance, &actor.thread)
    }

    /// The shared copy of the lock set with these (lock id, mode) members, in this order.
    pub fn lock_set(&mut self, locks: &[(&str, LockMode)]) -> Arc<[HeldLock]> {
        self.lock_set_of(locks.iter().map(|&(id, mode)| (id, mode)), locks.len())
    }

    /// The shared copy of `locks`, in this order.
    pub fn held_locks(&mut self, locks: &[HeldLock]) -> Arc<[HeldLock]> {
        self.lock_set_of(
            locks.iter().map(|lock| (lock.lock_id.as_str(), lock.mode)),
            locks.len(),
        )
    }

    fn lock_set_of<'a>(
        &mut self,
        members: impl Iterator<Item = (&'a str, LockMode)> + Clone,
        len: usize,
    ) -> Arc<[HeldLock]> {
        let state = &self.state;
        let hash = lock_set_hash(state, members.clone());
        let equal = |set: &Arc<[HeldLock]>| {
            set.len() == len
                && set
                    .iter()
                    .zip(members.clone())
                    .all(|(held, (id, mode))| held.mode == mode && held.lock_id == id)
        };
        if let Some(shared) = self.lock_sets.find(hash, equal) {
            return Arc::clone(shared);
        }
        bound(&mut self.lock_sets);
        let shared: Arc<[HeldLock]> = members
            .map(|(id, mode)| HeldLock {
                lock_id: id.to_owned(),
                mode,
            })
            .collect();
        self.lock_sets
            .insert_unique(hash, Arc::clone(&shared), |set| {
                lock_set_hash(state, set.iter().map(|l| (l.lock_id.as_str(), l.mode)))
            });
        shared
    }
}

/// Clears `table` when it is full (see the module doc).
fn bound<T>(table: &mut HashTable<T>) {
    if table.len() >= SharedNames::MAX_NAMES {
        table.clear();
    }
}

fn lock_set_hash<'a>(
    state: &foldhash::fast::RandomState,
    members: impl Iterator<Item = (&'a str, LockMode)>,
) -> u64 {
    let mut hasher = state.build_hasher();
    for (id, mode) in members {
        hasher.write(id.as_bytes());
        hasher.write_u8(0xff);
        hasher.write_u8(mode as u8);
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_names_share_one_copy_and_keep_their_content() {
        let mut names = SharedNames::default();
        let a = names.name("app.rs:1");
        assert!(Arc::ptr_eq(&a, &names.name(&String::from("app.rs:1"))));
        assert!(!Arc::ptr_eq(&a, &names.name("app.rs:2")));
        assert_eq!(&*a, "app.rs:1");

        let actor = names.actor("bank", "1", "worker-1");
        assert!(Arc::ptr_eq(&actor, &names.actor_of(&actor)));
        // The parts are told apart, not only their concatenation.
        assert!(!Arc::ptr_eq(&actor, &names.actor("bank1", "", "worker-1")));
        assert_eq!(actor.thread, "worker-1");

        let set = names.lock_set(&[("a", LockMode::Exclusive), ("b", LockMode::Shared)]);
        assert!(Arc::ptr_eq(&set, &names.held_locks(&set)));
        assert!(!Arc::ptr_eq(
            &set,
            &names.lock_set(&[("a", LockMode::Exclusive), ("b", LockMode::Exclusive)])
        ));
        assert!(!Arc::ptr_eq(
            &set,
            &names.lock_set(&[("a", LockMode::Exclusive)])
        ));
        assert_eq!(set[1].lock_id, "b");
        assert!(names.lock_set(&[]).is_empty());
    }

    #[test]
    fn a_full_table_is_cleared_and_earlier_copies_stay_valid() {
        let mut names = SharedNames::default();
        let first = names.name("n0");
        for n in 1..SharedNames::MAX_NAMES {
            names.name(&format!("n{n}"));
        }
        assert_eq!(names.strings.len(), SharedNames::MAX_NAMES);
        let again = names.name("n0");
        assert!(Arc::ptr_eq(&first, &again));
        names.name("one more");
        assert_eq!(names.strings.len(), 1);
        assert_eq!(&*names.name("n0"), &*first);
    }
}

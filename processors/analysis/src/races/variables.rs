//! The race detector's state per variable, found by (environment, variable name) with one hash
//! and one probe, and the names compared by pointer first.
//!
//! Accesses arrive with their names shared (one `Arc` per name from the decoder's
//! [`SharedNames`](raceway_schemas::SharedNames)), and the table keeps the names of the access
//! that created each entry: so an arriving access usually holds the very allocations its entry
//! is keyed by, and the equality check is two pointer comparisons. Names equal in content but
//! from another allocation (inputs built elsewhere, a decoder's table cleared) still find their
//! entry: the hash is of the content, and equality falls back to comparing it. Nested maps
//! (environment, then variable) hashed and compared both strings on every access, one map level
//! each.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use hashbrown::HashTable;

use crate::retention::VariableAccesses;

/// One variable's retained state and the names it is keyed by.
#[derive(Debug)]
struct Variable {
    environment: Arc<str>,
    name: Arc<str>,
    accesses: VariableAccesses,
}

/// Every variable with retained accesses or spans (see the module doc).
#[derive(Debug, Default)]
pub(super) struct Variables {
    /// Seeded per detector, so that names chosen by a client cannot be crafted to collide.
    state: foldhash::fast::RandomState,
    table: HashTable<Variable>,
}

fn same(a: &Arc<str>, b: &Arc<str>) -> bool {
    Arc::ptr_eq(a, b) || **a == **b
}

/// The hash of (environment, name): both names' bytes and the environment's length (which
/// tells where one name ends), without the separator bytes `Hash for str` adds after each (two
/// more rounds of the hasher for every access).
fn variable_hash(state: &foldhash::fast::RandomState, environment: &str, name: &str) -> u64 {
    let mut hasher = state.build_hasher();
    hasher.write(environment.as_bytes());
    hasher.write(name.as_bytes());
    hasher.write_usize(environment.len());
    hasher.finish()
}

impl Variables {
    fn hash(&self, environment: &str, name: &str) -> u64 {
        variable_hash(&self.state, environment, name)
    }

    /// The state of variable `name` of `environment`, created empty if needed.
    pub(super) fn entry(
        &mut self,
        environment: &Arc<str>,
        name: &Arc<str>,
    ) -> &mut VariableAccesses {
        let hash = self.hash(environment, name);
        let state = &self.state;
        let found = self.table.entry(
            hash,
            |v| same(&v.name, name) && same(&v.environment, environment),
            |v| variable_hash(state, &v.environment, &v.name),
        );
        let variable = found.or_insert_with(|| Variable {
            environment: Arc::clone(environment),
            name: Arc::clone(name),
            accesses: VariableAccesses::default(),
        });
        &mut variable.into_mut().accesses
    }

    /// Forgets variable `name` of `environment`.
    pub(super) fn remove(&mut self, environment: &Arc<str>, name: &Arc<str>) {
        let hash = self.hash(environment, name);
        if let Ok(found) = self.table.find_entry(hash, |v| {
            same(&v.name, name) && same(&v.environment, environment)
        }) {
            found.remove();
        }
    }

    /// Every variable's state.
    pub(super) fn values(&self) -> impl Iterator<Item = &VariableAccesses> {
        self.table.iter().map(|v| &v.accesses)
    }

    /// Every variable's state, to change.
    pub(super) fn values_mut(&mut self) -> impl Iterator<Item = &mut VariableAccesses> {
        self.table.iter_mut().map(|v| &mut v.accesses)
    }

    /// Keeps the variables for which `keep` is true.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&mut VariableAccesses) -> bool) {
        self.table.retain(|v| keep(&mut v.accesses));
    }
}

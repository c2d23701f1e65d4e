//! Helpers that keep the race stage cheap per access: shared clock component names and a fast
//! hasher for internal keys.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use raceway_schemas::VectorClock;

/// Shares clock component names between retained clocks: one allocation per name instead of one
/// per clock entry, and clock comparisons that find equal names by pointer. Cleared when it grows
/// past a bound (derived components are per trace, so names keep coming); clearing only costs
/// sharing, never correctness.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    names: HashMap<Box<str>, Arc<str>, BuildHasherDefault<Fx>>,
}

impl Interner {
    const MAX_NAMES: usize = 1 << 16;

    /// The clock of `pairs`, with shared component names.
    pub(crate) fn clock(&mut self, pairs: &[(String, u64)]) -> VectorClock {
        if self.names.len() > Self::MAX_NAMES {
            self.names.clear();
        }
        VectorClock::from_pairs(
            pairs
                .iter()
                .map(|(component, n)| (self.name(component), *n)),
        )
    }

    fn name(&mut self, component: &str) -> Arc<str> {
        if let Some(name) = self.names.get(component) {
            return Arc::clone(name);
        }
        let name: Arc<str> = Arc::from(component);
        self.names.insert(component.into(), Arc::clone(&name));
        name
    }
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
    use std::hash::Hash;

    use super::*;

    #[test]
    fn interned_clocks_share_names_and_compare_as_usual() {
        let mut names = Interner::default();
        let a = names.clock(&[("x".into(), 1), ("y".into(), 2)]);
        let b = names.clock(&[("y".into(), 3), ("x".into(), 1)]);
        assert!(a.happens_before(&b));
        assert_eq!(b.to_pairs(), vec![("x".into(), 1), ("y".into(), 3)]);
        assert_eq!(names.names.len(), 2);
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

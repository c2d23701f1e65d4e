//! A fast hasher for the lookup tables built while analysing one trace.
//!
//! The standard SipHash dominated the tree's cost (several hashes of ids and names per event).
//! These tables live for one analysis and hold one trace, whose size the runtime bounds, so a
//! word-at-a-time folded-multiply hash (as in foldhash) is used instead, started from a seed
//! drawn once per process so that colliding inputs cannot be prepared in advance. Results never
//! depend on the seed: nothing iterates these tables without sorting.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

/// A `HashMap` with [`FastState`].
pub(crate) type FastMap<K, V> = HashMap<K, V, FastState>;
/// A `HashSet` with [`FastState`].
pub(crate) type FastSet<K> = HashSet<K, FastState>;

const MULTIPLIER: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// Builds [`FastHasher`]s from the process seed.
#[derive(Clone, Copy)]
pub(crate) struct FastState {
    seed: u64,
}

impl Default for FastState {
    fn default() -> Self {
        static SEED: OnceLock<u64> = OnceLock::new();
        FastState {
            seed: *SEED.get_or_init(|| RandomState::new().hash_one(0x5eed_u64)),
        }
    }
}

impl BuildHasher for FastState {
    type Hasher = FastHasher;

    fn build_hasher(&self) -> FastHasher {
        FastHasher { hash: self.seed }
    }
}

/// Hashes a word at a time: xor, then folded multiply.
pub(crate) struct FastHasher {
    hash: u64,
}

impl FastHasher {
    /// Folded multiply (the full 128-bit product, halves xored), as foldhash and ahash mix:
    /// unlike a plain multiply, it carries every input bit into the low bits too.
    fn add(&mut self, word: u64) {
        let product = u128::from(self.hash ^ word) * u128::from(MULTIPLIER);
        self.hash = (product as u64) ^ ((product >> 64) as u64);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_inputs_hash_alike_and_maps_work() {
        let state = FastState::default();
        assert_eq!(state.hash_one("checkout"), state.hash_one("checkout"));
        assert_ne!(state.hash_one(("a", "bc")), state.hash_one(("ab", "c")));
        let mut map: FastMap<&str, usize> = FastMap::default();
        for (i, word) in ["x", "longer than eight bytes", ""].iter().enumerate() {
            map.insert(word, i);
        }
        assert_eq!(map.get("longer than eight bytes"), Some(&1));
        assert_eq!(map.len(), 3);
    }

    #[test]
    fn keys_differing_in_high_bytes_spread_over_low_bits() {
        let state = FastState::default();
        let low_bits: FastSet<u64> = (0..64u128)
            .map(|n| state.hash_one(uuid::Uuid::from_u128(n)) & 0xff)
            .collect();
        assert!(
            low_bits.len() > 32,
            "only {} distinct low bytes",
            low_bits.len()
        );
    }
}

//! A fast hasher for the race stage's internal keys (variable names, clock component names,
//! domination keys). Clock component ids themselves live with the compact clocks of the
//! `retention` module.

use std::hash::Hasher;

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

//! The index that finds a new access's domination candidates among a variable's retained
//! entries: 16 bits of each entry's domination key, kept in a ring in the entries' order.
//!
//! Rule: the ring holds exactly one fingerprint per retained entry, at the entry's position, and
//! equal keys give equal fingerprints; so every entry with a new access's key is among the
//! positions whose fingerprint matches, and a match is a candidate only when its entry's key is
//! the new one's. Reason: most keys are unique (a trace's actor at one location under one lock
//! set, once), and a hash table with one slot per retained access was written at every
//! insertion, removal and rehash at a random place in a table larger than the entries' deque:
//! the detector's last-level write misses. The ring is written at its ends, as the deque is, and
//! a scan of 256 fingerprints (512 bytes) is a few dozen vector compares. What breaks otherwise:
//! a fingerprint out of step with its entry hides candidates, so dominated accesses are kept
//! (more memory and more pairs to scan; the verdicts stay, as `dominates` decides on the entries
//! themselves); the tests check the ring after every kind of change.

use std::collections::VecDeque;

use smallvec::SmallVec;

/// Positions of the entries whose fingerprint matches, usually none.
pub(super) type Matches = SmallVec<[usize; 4]>;

/// The fingerprint of a domination key: its top 16 bits (the key is a mixed hash already).
pub(super) fn fingerprint(key: u64) -> u16 {
    (key >> 48) as u16
}

/// One fingerprint per retained entry, in the entries' order.
#[derive(Debug, Default)]
pub(super) struct Fingerprints(VecDeque<u16>);

impl Fingerprints {
    /// Positions whose fingerprint is `fingerprint`, in order.
    pub(super) fn matching(&self, fingerprint: u16) -> Matches {
        let (front, back) = self.0.as_slices();
        let mut found = Matches::new();
        collect_matching(front, fingerprint, 0, &mut found);
        collect_matching(back, fingerprint, front.len(), &mut found);
        found
    }

    pub(super) fn push_back(&mut self, fingerprint: u16) {
        self.0.push_back(fingerprint);
    }

    pub(super) fn insert(&mut self, at: usize, fingerprint: u16) {
        self.0.insert(at, fingerprint);
    }

    pub(super) fn remove(&mut self, at: usize) {
        self.0.remove(at);
    }

    /// Drops the `n` oldest.
    pub(super) fn drop_oldest(&mut self, n: usize) {
        if n == 1 {
            self.0.pop_front();
        } else {
            self.0.drain(..n);
        }
    }

    /// Room for `additional` more, exactly, as the entries' deque reserves.
    pub(super) fn reserve_exact(&mut self, additional: usize) {
        self.0.reserve_exact(additional);
    }

    /// Replaces the fingerprints with these, after a bulk removal.
    pub(super) fn rebuild(&mut self, keys: impl Iterator<Item = u64>) {
        self.0.clear();
        self.0.extend(keys.map(fingerprint));
    }

    #[cfg(test)]
    pub(super) fn as_vec(&self) -> Vec<u16> {
        self.0.iter().copied().collect()
    }
}

/// Fingerprints tested together: 64 bytes, a cache line.
const LANES: usize = 32;

/// Pushes `offset +` the positions in `slice` holding `fingerprint`. Each chunk is tested as an
/// array, with no early exit, so that its compares are a few vector instructions; the short
/// rest is tested as the slice's last full chunk, or copied into an array padded with another
/// fingerprint (compared one at a time, the two halves' rests cost more than all the full
/// chunks). Only a chunk with a match is walked one by one.
fn collect_matching(slice: &[u16], fingerprint: u16, offset: usize, found: &mut Matches) {
    let chunks = slice.chunks_exact(LANES);
    let rest = chunks.remainder();
    for (index, chunk) in chunks.enumerate() {
        if <&[u16; LANES]>::try_from(chunk).map_or(true, |lanes| holds(lanes, fingerprint)) {
            push_equal(chunk, fingerprint, offset + index * LANES, found);
        }
    }
    if rest.is_empty() {
        return;
    }
    let rest_holds = match slice.len().checked_sub(LANES) {
        // The last full chunk's worth, overlapping the chunks already tested: a match there
        // only costs a walk of the rest.
        Some(start) => <&[u16; LANES]>::try_from(&slice[start..])
            .map_or(true, |lanes| holds(lanes, fingerprint)),
        None => {
            let mut padded = [!fingerprint; LANES];
            padded[..rest.len()].copy_from_slice(rest);
            holds(&padded, fingerprint)
        }
    };
    if rest_holds {
        push_equal(rest, fingerprint, offset + slice.len() - rest.len(), found);
    }
}

/// True when one of `lanes` is `fingerprint`.
#[inline(always)]
fn holds(lanes: &[u16; LANES], fingerprint: u16) -> bool {
    lanes
        .iter()
        .fold(0u16, |any, &fp| any | u16::from(fp == fingerprint))
        != 0
}

fn push_equal(slice: &[u16], fingerprint: u16, start: usize, found: &mut Matches) {
    for (at, &fp) in slice.iter().enumerate() {
        if fp == fingerprint {
            found.push(start + at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_finds_every_position_across_the_ring_s_two_halves() {
        // Lengths around the chunk size, matches at the ends, in a chunk, in the remainder, and
        // a ring wrapped so that its slices split anywhere.
        for len in [0usize, 1, 31, 32, 33, 64, 95, 200, 257] {
            for wrap in [0usize, 1, 17, 40] {
                let mut ring = Fingerprints::default();
                for i in 0..wrap {
                    ring.push_back(i as u16);
                }
                for i in 0..len {
                    let fp = if i % 29 == 0 || i + 1 == len {
                        7
                    } else {
                        100 + i as u16
                    };
                    ring.push_back(fp);
                }
                ring.drop_oldest(wrap.min(1));
                if wrap > 1 {
                    ring.drop_oldest(wrap - 1);
                }
                for i in 0..wrap {
                    ring.push_back(1000 + i as u16);
                }
                let all = ring.as_vec();
                let expected: Vec<usize> = (0..all.len()).filter(|&at| all[at] == 7).collect();
                assert_eq!(
                    ring.matching(7).to_vec(),
                    expected,
                    "len {len}, wrap {wrap}"
                );
                assert!(ring.matching(9).is_empty());
            }
        }
    }
}

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

use smallvec::SmallVec;

/// Positions of the entries whose fingerprint matches, usually none.
pub(super) type Matches = SmallVec<[usize; 4]>;

/// The value of an empty slot, which no fingerprint takes.
const EMPTY: u16 = 0;

/// The fingerprint of a domination key: its top 16 bits (the key is a mixed hash already),
/// never [`EMPTY`] (a key whose top bits are zero shares the fingerprint 1).
pub(super) fn fingerprint(key: u64) -> u16 {
    ((key >> 48) as u16).max(1)
}

/// Fingerprints tested together: 64 bytes, a cache line.
const LANES: usize = 32;

/// One fingerprint per retained entry, in the entries' order, in a ring whose room is a
/// whole number of chunks of [`LANES`] (or a power of two below one chunk, tested as one chunk
/// padded), its empty slots [`EMPTY`].
///
/// Rule: a scan tests the ring's whole buffer, two chunks per step, wherever its live part
/// begins and ends, and every slot outside the live part is [`EMPTY`]. Reason: a `VecDeque`'s
/// live part is two slices that start and end anywhere, so each scan tested two halves and
/// two short rests (242 instructions per access for a full variable of 256 entries); here a
/// full ring of 256 is four steps. Empty slots never match, so testing them costs only their
/// compares. What breaks otherwise: a scan that leaves out part of the buffer misses
/// candidates (dominated entries kept), and a slot left holding the fingerprint of an entry
/// that left reports a position that is not a match (its entry's key is then read for
/// nothing); the tests check both after every kind of change.
#[derive(Debug, Default)]
pub(super) struct Fingerprints {
    /// The ring's slots: `len` fingerprints from `head` on (wrapping), [`EMPTY`] elsewhere.
    slots: Vec<u16>,
    head: usize,
    len: usize,
}

/// Room for at least `wanted` fingerprints: a power of two up to a chunk (at least 4, as a
/// `VecDeque<u16>` starts), whole chunks past one.
fn room_for(wanted: usize) -> usize {
    if wanted <= LANES {
        wanted.next_power_of_two().max(4)
    } else {
        wanted.div_ceil(LANES) * LANES
    }
}

impl Fingerprints {
    /// The slot of logical position `at` (`at < slots.len()`).
    #[inline(always)]
    fn slot(&self, at: usize) -> usize {
        let slot = self.head + at;
        if slot >= self.slots.len() {
            slot - self.slots.len()
        } else {
            slot
        }
    }

    /// Positions whose fingerprint is `fingerprint`, in order. Inlined into the insertion, its
    /// one caller: as a call, with its returned vector moved out, it cost 49 more instructions
    /// per access of the 1M stream (benches/README.md, item 254).
    #[inline(always)]
    pub(super) fn matching(&self, fingerprint: u16) -> Matches {
        let mut found = Matches::new();
        if self.len == 0 {
            return found;
        }
        let room = self.slots.len();
        // Two chunks at a time (half the loop's branches), then a last odd chunk.
        // (`chunks_exact` and `try_from` compile to the same loop as `as_chunks`, which is
        // newer than the workspace's minimum Rust.)
        let pairs = self.slots.chunks_exact(2 * LANES);
        let rest = pairs.remainder();
        for (index, pair) in pairs.enumerate() {
            let Ok(lanes) = <&[u16; 2 * LANES]>::try_from(pair) else {
                continue;
            };
            if holds(lanes, fingerprint) {
                // Only the chunk of the two with a match is walked.
                let start = index * 2 * LANES;
                for (half, chunk) in lanes.chunks_exact(LANES).enumerate() {
                    if let Ok(lanes) = <&[u16; LANES]>::try_from(chunk) {
                        if holds(lanes, fingerprint) {
                            push_equal(lanes, fingerprint, start + half * LANES, &mut found);
                        }
                    }
                }
            }
        }
        if !rest.is_empty() {
            // The odd chunk, or a ring smaller than one chunk, padded.
            let rest_holds = match <&[u16; LANES]>::try_from(rest) {
                Ok(lanes) => holds(lanes, fingerprint),
                Err(_) => {
                    let mut padded = [EMPTY; LANES];
                    padded[..rest.len()].copy_from_slice(rest);
                    holds(&padded, fingerprint)
                }
            };
            if rest_holds {
                push_equal(rest, fingerprint, room - rest.len(), &mut found);
            }
        }
        if found.is_empty() {
            return found;
        }
        // Slots to positions: the slots before `head` hold the newest, so a wrapped ring's
        // matches come out of the scan in two runs.
        for at in found.iter_mut() {
            *at = if *at >= self.head {
                *at - self.head
            } else {
                *at + room - self.head
            };
        }
        if self.head + self.len > room {
            found.sort_unstable();
        }
        found
    }

    pub(super) fn push_back(&mut self, fingerprint: u16) {
        if self.len == self.slots.len() {
            self.regrow(room_for((2 * self.slots.len()).max(1)));
        }
        let slot = self.slot(self.len);
        self.slots[slot] = fingerprint;
        self.len += 1;
    }

    /// Puts `fingerprint` at position `at` (at most `len`), moving the fingerprints after it
    /// one further.
    pub(super) fn insert(&mut self, at: usize, fingerprint: u16) {
        self.push_back(fingerprint);
        for position in (at..self.len - 1).rev() {
            let (from, to) = (self.slot(position), self.slot(position + 1));
            self.slots[to] = self.slots[from];
        }
        let slot = self.slot(at);
        self.slots[slot] = fingerprint;
    }

    /// Removes the fingerprint at position `at` (less than `len`), moving the shorter side.
    pub(super) fn remove(&mut self, at: usize) {
        if at >= self.len {
            return;
        }
        if at < self.len / 2 {
            for position in (0..at).rev() {
                let (from, to) = (self.slot(position), self.slot(position + 1));
                self.slots[to] = self.slots[from];
            }
            self.drop_oldest(1);
        } else {
            for position in at..self.len - 1 {
                let (from, to) = (self.slot(position + 1), self.slot(position));
                self.slots[to] = self.slots[from];
            }
            let last = self.slot(self.len - 1);
            self.slots[last] = EMPTY;
            self.len -= 1;
        }
    }

    /// Drops the `n` oldest (at most `len`).
    pub(super) fn drop_oldest(&mut self, n: usize) {
        for _ in 0..n.min(self.len) {
            let head = self.head;
            self.slots[head] = EMPTY;
            self.head = self.slot(1);
            self.len -= 1;
        }
        if self.len == 0 {
            self.head = 0;
        }
    }

    /// Room for `additional` more, as the entries' deque reserves (rounded up to whole
    /// chunks).
    pub(super) fn reserve_exact(&mut self, additional: usize) {
        let wanted = self.len + additional;
        if wanted > self.slots.len() {
            self.regrow(room_for(wanted));
        }
    }

    /// Moves the fingerprints, in order, to the start of `room` new slots.
    fn regrow(&mut self, room: usize) {
        let mut slots = vec![EMPTY; room];
        for (position, fingerprint) in slots.iter_mut().zip(self.iter()) {
            *position = fingerprint;
        }
        self.slots = slots;
        self.head = 0;
    }

    /// Replaces the fingerprints with these, after a bulk removal.
    pub(super) fn rebuild(&mut self, keys: impl Iterator<Item = u64>) {
        self.slots.fill(EMPTY);
        self.head = 0;
        self.len = 0;
        for key in keys {
            self.push_back(fingerprint(key));
        }
    }

    /// The fingerprints, oldest first.
    fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        (0..self.len).map(|at| self.slots[self.slot(at)])
    }

    #[cfg(test)]
    pub(super) fn room(&self) -> usize {
        self.slots.len()
    }

    #[cfg(test)]
    pub(super) fn as_vec(&self) -> Vec<u16> {
        self.iter().collect()
    }

    /// True when every slot outside the live part is empty, as the scan relies on.
    #[cfg(test)]
    pub(super) fn empty_outside(&self) -> bool {
        let live: std::collections::BTreeSet<usize> =
            (0..self.len).map(|at| self.slot(at)).collect();
        (0..self.slots.len()).all(|slot| live.contains(&slot) || self.slots[slot] == EMPTY)
    }
}

/// True when one of `lanes` is `fingerprint`: the chunk is tested as an array, with no early
/// exit, so that its compares are a few vector instructions.
#[inline(always)]
fn holds<const N: usize>(lanes: &[u16; N], fingerprint: u16) -> bool {
    lanes
        .iter()
        .fold(0u16, |any, &fp| any | u16::from(fp == fingerprint))
        != 0
}

/// Pushes `start +` the positions in `slice` holding `fingerprint`: only a chunk with a
/// match is walked one by one.
fn push_equal(slice: &[u16], fingerprint: u16, start: usize, found: &mut Matches) {
    for (at, &fp) in slice.iter().enumerate() {
        if fp == fingerprint {
            found.push(start + at);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    use super::*;

    /// The positions of `fingerprint` in `model`, by a plain filter.
    fn expected(model: &VecDeque<u16>, fingerprint: u16) -> Vec<usize> {
        (0..model.len())
            .filter(|&at| model[at] == fingerprint)
            .collect()
    }

    #[test]
    fn matching_finds_every_position_across_the_ring_s_two_halves() {
        // Lengths around the chunk size, matches at the ends, in a chunk, in the remainder, and
        // a ring wrapped so that its live part splits anywhere.
        for len in [0usize, 1, 31, 32, 33, 64, 95, 200, 256, 257] {
            for wrap in [0usize, 1, 17, 40] {
                let mut ring = Fingerprints::default();
                for i in 0..wrap {
                    ring.push_back(i as u16 + 1);
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
                let all: VecDeque<u16> = ring.as_vec().into();
                assert_eq!(
                    ring.matching(7).to_vec(),
                    expected(&all, 7),
                    "len {len}, wrap {wrap}"
                );
                assert!(ring.matching(9).is_empty());
                assert!(ring.empty_outside());
            }
        }
    }

    #[test]
    fn a_scan_of_whole_chunks_finds_what_a_plain_filter_finds_after_any_change() {
        // Random pushes, insertions, removals, evictions of one and of several, reservations
        // and rebuilds against a `VecDeque` model, with few distinct fingerprints so that most
        // scans match, in rings of every room from 4 slots to 9 chunks; after each change every
        // fingerprint's positions are compared, and the slots outside the live part must be
        // empty (a stale one would be reported as a match at a wrong position).
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(20);
        for round in 0..50 {
            let capacity = rng.gen_range(1..=288);
            let mut ring = Fingerprints::default();
            let mut model = VecDeque::new();
            for step in 0..400 {
                let fp = rng.gen_range(1..=12u16);
                match rng.gen_range(0..10) {
                    0..=4 => {
                        ring.push_back(fp);
                        model.push_back(fp);
                    }
                    5 => {
                        let at = rng.gen_range(0..=model.len());
                        ring.insert(at, fp);
                        model.insert(at, fp);
                    }
                    6 if !model.is_empty() => {
                        let at = rng.gen_range(0..model.len());
                        ring.remove(at);
                        model.remove(at);
                    }
                    7 => {
                        let n = rng.gen_range(0..=3).min(model.len());
                        ring.drop_oldest(n);
                        model.drain(..n);
                    }
                    8 => ring.reserve_exact(rng.gen_range(0..64)),
                    _ if step % 97 == 0 => {
                        let keep: Vec<u16> =
                            model.iter().copied().filter(|&f| f % 3 != 0).collect();
                        ring.rebuild(keep.iter().map(|&f| u64::from(f) << 48));
                        model = keep.into();
                    }
                    _ => {}
                }
                while model.len() > capacity {
                    ring.drop_oldest(1);
                    model.pop_front();
                }
                assert_eq!(
                    ring.as_vec(),
                    Vec::from(model.clone()),
                    "round {round}, step {step}"
                );
                assert!(ring.empty_outside(), "round {round}, step {step}");
                for fp in 1..=12u16 {
                    assert_eq!(
                        ring.matching(fp).to_vec(),
                        expected(&model, fp),
                        "round {round}, step {step}, fingerprint {fp}"
                    );
                }
            }
        }
    }
}

//! [`Reservoir`]: a bounded sample of recent values with its median and median absolute
//! deviation (MAD), the robust centre and spread behind a duration baseline.
//!
//! Once full, every new value replaces a random slot. Unlike uniform reservoir sampling, which
//! would weigh a value seen a year ago like one seen today, this forgets: a value survives `k`
//! later insertions with probability `(1 - 1/capacity)^k`, so the baseline follows a service
//! that got slower or faster for good while one odd trace moves it little. Memory is fixed by
//! the capacity, whatever the traffic. The generator (SplitMix64) keeps its state in the
//! struct, so a checkpointed reservoir continues exactly as the original would have.
//!
//! Each value carries a 32-bit tag of the trace it came from, so a trace judged again after a
//! re-analysis can be left out of its own baseline ([`Reservoir::stats_excluding`]).

use serde::{Deserialize, Serialize};

/// Scale factor that makes the MAD estimate the standard deviation of normal data.
pub const MAD_TO_SIGMA: f64 = 1.4826;

/// Robust centre and spread of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RobustStats {
    /// Median.
    pub median: f64,
    /// Median absolute deviation from the median.
    pub mad: f64,
    /// How many values the statistics stand for (all ever seen, less any excluded).
    pub samples: u64,
}

/// A bounded random-replacement sample of values with cached median and MAD.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reservoir {
    capacity: u32,
    seen: u64,
    values: Vec<f64>,
    tags: Vec<u32>,
    rng: u64,
    median: f64,
    mad: f64,
}

impl Reservoir {
    /// An empty reservoir keeping at most `capacity` values, its replacement choices drawn from
    /// `seed`.
    pub fn new(capacity: u32, seed: u64) -> Self {
        Reservoir {
            capacity,
            seen: 0,
            values: Vec::new(),
            tags: Vec::new(),
            rng: seed,
            median: 0.0,
            mad: 0.0,
        }
    }

    /// Adds a value from the trace tagged `tag`. Call [`Reservoir::refresh`] after a batch of
    /// insertions to update the statistics. Non-finite values are ignored.
    pub fn insert(&mut self, value: f64, tag: u32) {
        if !value.is_finite() || self.capacity == 0 {
            return;
        }
        self.seen = self.seen.saturating_add(1);
        if self.values.len() < self.capacity as usize {
            self.values.push(value);
            self.tags.push(tag);
            return;
        }
        let slot = (self.next_random() % self.values.len() as u64) as usize;
        self.values[slot] = value;
        if let Some(slot_tag) = self.tags.get_mut(slot) {
            *slot_tag = tag;
        }
    }

    /// Recomputes the cached median and MAD: O(capacity), once per batch rather than per value.
    pub fn refresh(&mut self) {
        let mut buffer = self.values.clone();
        let (median, mad) = median_and_mad(&mut buffer);
        self.median = median;
        self.mad = mad;
    }

    /// The cached statistics (as of the last [`Reservoir::refresh`]).
    pub fn stats(&self) -> RobustStats {
        RobustStats {
            median: self.median,
            mad: self.mad,
            samples: self.seen,
        }
    }

    /// Statistics without the values tagged `tag`, computed afresh; `None` when nothing is left.
    /// The sample count drops by the share of held values that were excluded.
    pub fn stats_excluding(&self, tag: u32) -> Option<RobustStats> {
        let mut kept: Vec<f64> = self
            .values
            .iter()
            .zip(&self.tags)
            .filter(|&(_, &t)| t != tag)
            .map(|(&v, _)| v)
            .collect();
        if kept.is_empty() {
            return None;
        }
        let excluded = self.values.len().saturating_sub(kept.len()) as u64;
        let (median, mad) = median_and_mad(&mut kept);
        Some(RobustStats {
            median,
            mad,
            samples: self.seen.saturating_sub(excluded),
        })
    }

    /// Number of values held (at most the capacity).
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when no value is held.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Number of values ever inserted.
    pub fn samples_seen(&self) -> u64 {
        self.seen
    }

    /// SplitMix64: tiny, fast, and its whole state is one serialisable integer.
    fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// (median, MAD) of `values`, reordering them; (0, 0) for none.
pub(crate) fn median_and_mad(values: &mut [f64]) -> (f64, f64) {
    let median = median_of(values);
    for value in values.iter_mut() {
        *value = (*value - median).abs();
    }
    (median, median_of(values))
}

/// Median by selection, O(n); the mean of the two middle values for an even count.
fn median_of(values: &mut [f64]) -> f64 {
    let n = values.len();
    if n == 0 {
        return 0.0;
    }
    let (lower, &mut upper, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        return upper;
    }
    let below = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (below + upper) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_mad_of_small_samples() {
        let mut odd = [5.0, 1.0, 3.0];
        assert_eq!(median_and_mad(&mut odd), (3.0, 2.0));
        let mut even = [4.0, 1.0, 2.0, 3.0];
        assert_eq!(median_and_mad(&mut even), (2.5, 1.0));
        assert_eq!(median_and_mad(&mut []), (0.0, 0.0));
    }

    #[test]
    fn stays_bounded_and_robust_to_one_outlier() {
        let mut reservoir = Reservoir::new(64, 7);
        for i in 0..10_000u32 {
            reservoir.insert(10.0 + f64::from(i % 3) - 1.0, i);
        }
        reservoir.insert(1e9, 99_999);
        reservoir.refresh();
        assert_eq!(reservoir.len(), 64);
        let stats = reservoir.stats();
        assert_eq!(stats.samples, 10_001);
        assert!((9.0..=11.0).contains(&stats.median));
        assert!(stats.mad <= 1.0);
    }

    #[test]
    fn forgets_old_values_when_the_level_shifts() {
        let mut reservoir = Reservoir::new(32, 1);
        for i in 0..200 {
            reservoir.insert(10.0, i);
        }
        for i in 200..600 {
            reservoir.insert(50.0, i);
        }
        reservoir.refresh();
        assert_eq!(reservoir.stats().median, 50.0);
    }

    #[test]
    fn excluding_a_trace_recomputes_without_its_values() {
        let mut reservoir = Reservoir::new(16, 3);
        for i in 0..8 {
            reservoir.insert(10.0, i);
        }
        reservoir.insert(100.0, 42);
        reservoir.insert(100.0, 42);
        reservoir.refresh();
        let without = reservoir.stats_excluding(42).unwrap();
        assert_eq!(
            (without.median, without.mad, without.samples),
            (10.0, 0.0, 8)
        );
        assert!(Reservoir::new(4, 0).stats_excluding(1).is_none());
    }

    #[test]
    fn same_seed_same_choices_and_checkpoints_continue_identically() {
        let fill = |reservoir: &mut Reservoir, from: u32, to: u32| {
            for i in from..to {
                reservoir.insert(f64::from(i), i);
            }
        };
        let mut original = Reservoir::new(8, 11);
        fill(&mut original, 0, 50);
        let json = serde_json::to_string(&original).unwrap();
        let mut restored: Reservoir = serde_json::from_str(&json).unwrap();
        fill(&mut original, 50, 100);
        fill(&mut restored, 50, 100);
        assert_eq!(original, restored);
        original.insert(f64::NAN, 0);
        assert_eq!(original.samples_seen(), 100, "NaN ignored");
    }
}

//! Nearest-rank percentiles: the `p`th percentile of `n` sorted values is the value at rank
//! `ceil(p * n / 100)` (1-based), always one of the values themselves, never an interpolation.
//!
//! Dependencies (call latencies) and service health (latency per trace) both report p50/p95/p99
//! this way, from this one function (integer arithmetic: no float rounding decides a rank), so
//! the two pages can never disagree on what a percentile means.

/// Nearest-rank percentile `p` (0 to 100) of sorted values; 0 for none.
pub fn nearest_rank(sorted: &[u64], p: u32) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (u64::from(p) * sorted.len() as u64).div_ceil(100).max(1);
    let index = usize::try_from(rank - 1).unwrap_or(usize::MAX);
    sorted[index.min(sorted.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::nearest_rank;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(nearest_rank(&values, 50), 50);
        assert_eq!(nearest_rank(&values, 95), 95);
        assert_eq!(nearest_rank(&values, 99), 99);
        assert_eq!(nearest_rank(&[7], 99), 7);
        assert_eq!(nearest_rank(&[1, 2], 50), 1);
        assert_eq!(nearest_rank(&[], 50), 0);
        let twenty: Vec<u64> = (1..=20).collect();
        assert_eq!(nearest_rank(&twenty, 95), 19, "rank 19 exactly");
    }
}

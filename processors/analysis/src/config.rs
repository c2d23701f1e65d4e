//! Settings of the race and lock-order detectors.

/// Settings of the race detector (and of the lock-order detector, which uses the slack and bounds
/// its edges per lock pair by `max_accesses_per_variable`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaceConfig {
    /// Accesses (and, separately, update spans) kept per variable; beyond that the oldest are
    /// evicted (and counted).
    pub max_accesses_per_variable: usize,
    /// How far apart two traces' time spans may be and still be compared (see the `rules`
    /// module: requests without a common clock are compared only when they overlap in time).
    pub cross_trace_slack_ns: i64,
    /// How long accesses are kept; the runtime applies it through
    /// [`RaceDetector::evict_expired`](crate::RaceDetector::evict_expired).
    pub window_ns: i64,
}

impl Default for RaceConfig {
    fn default() -> Self {
        RaceConfig {
            max_accesses_per_variable: 4096,
            cross_trace_slack_ns: 100_000_000,
            window_ns: 5 * 60 * 1_000_000_000,
        }
    }
}

//! Per-client token buckets that count events, not requests.
//!
//! Each client (an API key, or a client IP when the gateway has no keys) has a bucket of up to
//! `burst` tokens that refills at `events_per_second`. A request of `n` events is admitted when
//! the bucket holds at least `min(n, burst)` tokens, and then costs all `n`: the balance may go
//! negative. That lets a batch larger than the burst through when the bucket is full (otherwise
//! such a client would be locked out forever), while the debt it leaves keeps the long-run rate at
//! `events_per_second`. While a client owes tokens, every request of it is refused.
//!
//! `governor` was considered: its `check_n` refuses any cost above the burst outright and cannot
//! carry a debt, so it cannot express the rule above.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How often idle buckets are dropped at most, unless the table grows quickly.
const PRUNE_INTERVAL: Duration = Duration::from_secs(30);
/// Table size under which growth alone never triggers a prune.
const MIN_PRUNE_LEN: usize = 1024;

/// A rate limit in events per second with a burst allowance, as configured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    events_per_second: f64,
    burst: u64,
}

/// Why a rate limit cannot be built from the given numbers.
#[derive(Debug, thiserror::Error)]
pub enum RateLimitError {
    /// The rate is zero, negative, or not a finite number.
    #[error("the rate limit must be a positive number of events per second, not {0}")]
    BadRate(f64),
    /// The burst is zero, which would refuse every request.
    #[error("the rate-limit burst must be at least 1 event")]
    ZeroBurst,
}

impl RateLimit {
    /// `events_per_second` sustained, `burst` events at once; the burst defaults to one second's
    /// worth of events (at least 1).
    pub fn new(events_per_second: f64, burst: Option<u64>) -> Result<Self, RateLimitError> {
        if !events_per_second.is_finite() || events_per_second <= 0.0 {
            return Err(RateLimitError::BadRate(events_per_second));
        }
        // A float-to-int `as` cast saturates, so a huge rate gives a huge (not a wrapped) burst.
        let burst = burst.unwrap_or((events_per_second.ceil() as u64).max(1));
        if burst == 0 {
            return Err(RateLimitError::ZeroBurst);
        }
        Ok(RateLimit {
            events_per_second,
            burst,
        })
    }

    /// Sustained events per second.
    pub fn events_per_second(&self) -> f64 {
        self.events_per_second
    }

    /// Events a full bucket holds.
    pub fn burst(&self) -> u64 {
        self.burst
    }
}

/// Who a request is charged to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ClientKey {
    /// A tenant: every credential of the tenant shares its bucket.
    Tenant(String),
    /// A credential without tenant, by its name (key name or token subject; never the secret).
    Credential(String),
    /// The client's IP address.
    Ip(IpAddr),
    /// No peer address is known (the router is served without connect info): one shared bucket.
    Unknown,
}

/// The verdict on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Go on; the tokens are taken.
    Allowed,
    /// Refused; enough tokens will have come back after this long.
    Limited { retry_after: Duration },
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

#[derive(Debug)]
struct Table {
    buckets: HashMap<ClientKey, Bucket>,
    last_prune: Instant,
    prune_at_len: usize,
}

/// The buckets of every client seen recently.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limit: RateLimit,
    table: Mutex<Table>,
}

impl RateLimiter {
    /// An empty limiter; `now` starts the prune schedule.
    pub(crate) fn new(limit: RateLimit, now: Instant) -> Self {
        RateLimiter {
            limit,
            table: Mutex::new(Table {
                buckets: HashMap::new(),
                last_prune: now,
                prune_at_len: MIN_PRUNE_LEN,
            }),
        }
    }

    /// The configured limit.
    pub(crate) fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Refuses a client that owes tokens, without charging anything: lets the gateway answer 429
    /// before reading a body it would refuse anyway.
    pub(crate) fn check_owing(&self, key: &ClientKey, now: Instant) -> Decision {
        let mut table = self.lock();
        match table.buckets.get_mut(key) {
            Some(bucket) => {
                self.refill(bucket, now);
                self.verdict(bucket, 1.0)
            }
            // An unknown client has a full bucket.
            None => Decision::Allowed,
        }
    }

    /// Charges `events` to the client if its bucket admits them (see the module docs).
    pub(crate) fn charge(&self, key: ClientKey, events: u64, now: Instant) -> Decision {
        let mut table = self.lock();
        self.maybe_prune(&mut table, now);
        let bucket = table.buckets.entry(key).or_insert(Bucket {
            tokens: self.burst(),
            updated: now,
        });
        self.refill(bucket, now);
        let cost = events as f64;
        let decision = self.verdict(bucket, cost.min(self.burst()));
        if decision == Decision::Allowed {
            bucket.tokens -= cost;
        }
        decision
    }

    /// Gives back `events` charged for a request that was then not accepted (up to a full bucket).
    pub(crate) fn refund(&self, key: &ClientKey, events: u64) {
        let mut table = self.lock();
        if let Some(bucket) = table.buckets.get_mut(key) {
            bucket.tokens = (bucket.tokens + events as f64).min(self.burst());
        }
    }

    /// Clients with a bucket in memory.
    pub(crate) fn tracked(&self) -> usize {
        self.lock().buckets.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // The table stays consistent even if a holder panicked: every update is one assignment.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn burst(&self) -> f64 {
        self.limit.burst as f64
    }

    fn refill(&self, bucket: &mut Bucket, now: Instant) {
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.limit.events_per_second).min(self.burst());
        bucket.updated = bucket.updated.max(now);
    }

    fn verdict(&self, bucket: &Bucket, needed: f64) -> Decision {
        if bucket.tokens >= needed {
            return Decision::Allowed;
        }
        let wait = (needed - bucket.tokens) / self.limit.events_per_second;
        Decision::Limited {
            retry_after: Duration::try_from_secs_f64(wait).unwrap_or(Duration::MAX),
        }
    }

    /// Drops buckets that have refilled completely: a full bucket behaves exactly like a missing
    /// one, so forgetting it changes no decision. Runs every [`PRUNE_INTERVAL`], or sooner when the
    /// table has doubled since the last prune, so memory follows the clients active within about
    /// `burst / events_per_second` seconds and a flood of new clients costs amortised O(1).
    fn maybe_prune(&self, table: &mut Table, now: Instant) {
        let due = now.saturating_duration_since(table.last_prune) >= PRUNE_INTERVAL;
        if !due && table.buckets.len() < table.prune_at_len {
            return;
        }
        let (rate, burst) = (self.limit.events_per_second, self.burst());
        table.buckets.retain(|_, bucket| {
            let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
            bucket.tokens + elapsed * rate < burst
        });
        table.last_prune = now;
        table.prune_at_len = (table.buckets.len() * 2).max(MIN_PRUNE_LEN);
        tracing::debug!(
            clients = table.buckets.len(),
            "pruned idle rate-limit buckets"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(rate: f64, burst: u64) -> (RateLimiter, Instant) {
        let start = Instant::now();
        let limit = RateLimit::new(rate, Some(burst)).unwrap();
        (RateLimiter::new(limit, start), start)
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn is_limited(decision: Decision) -> bool {
        matches!(decision, Decision::Limited { .. })
    }

    #[test]
    fn bad_limits_are_refused_and_the_burst_defaults_to_one_second() {
        assert!(RateLimit::new(0.0, None).is_err());
        assert!(RateLimit::new(-1.0, None).is_err());
        assert!(RateLimit::new(f64::NAN, None).is_err());
        assert!(RateLimit::new(5.0, Some(0)).is_err());
        assert_eq!(RateLimit::new(2.5, None).unwrap().burst(), 3);
        assert_eq!(RateLimit::new(0.01, None).unwrap().burst(), 1);
    }

    #[test]
    fn events_are_counted_and_refill_at_the_rate() {
        let (l, t0) = limiter(10.0, 100);
        let key = ClientKey::Credential("k0".into());
        assert_eq!(l.charge(key.clone(), 60, t0), Decision::Allowed);
        assert_eq!(l.charge(key.clone(), 40, t0), Decision::Allowed);
        // Empty: one more event needs 0.1 s.
        assert_eq!(
            l.charge(key.clone(), 1, t0),
            Decision::Limited {
                retry_after: secs(0.1)
            }
        );
        // After 5 s, 50 tokens are back: 50 pass, 51 do not.
        let t5 = t0 + secs(5.0);
        assert!(is_limited(l.charge(key.clone(), 51, t5)));
        assert_eq!(l.charge(key, 50, t5), Decision::Allowed);
    }

    #[test]
    fn a_batch_over_the_burst_passes_on_a_full_bucket_and_leaves_a_debt() {
        let (l, t0) = limiter(100.0, 1000);
        let key = ClientKey::Credential("k3".into());
        assert_eq!(l.charge(key.clone(), 10_000, t0), Decision::Allowed);
        // 9,000 owed plus 1 needed at 100/s.
        assert_eq!(
            l.check_owing(&key, t0),
            Decision::Limited {
                retry_after: secs(90.01)
            }
        );
        // Another oversized batch must wait for a full bucket: 10,000 tokens at 100/s.
        let Decision::Limited { retry_after } = l.charge(key.clone(), 10_000, t0) else {
            panic!("admitted while in debt");
        };
        assert_eq!(retry_after, secs(100.0));
        assert_eq!(l.charge(key, 10_000, t0 + secs(100.0)), Decision::Allowed);
    }

    #[test]
    fn a_refund_restores_tokens_up_to_a_full_bucket() {
        let (l, t0) = limiter(1.0, 10);
        let key = ClientKey::Credential("k0".into());
        assert_eq!(l.charge(key.clone(), 10, t0), Decision::Allowed);
        l.refund(&key, 4);
        assert_eq!(l.charge(key.clone(), 4, t0), Decision::Allowed);
        assert!(is_limited(l.charge(key.clone(), 1, t0)));
        l.refund(&key, 1_000);
        assert_eq!(l.charge(key.clone(), 10, t0), Decision::Allowed);
        assert!(is_limited(l.check_owing(&key, t0)));
    }

    #[test]
    fn clients_have_their_own_buckets() {
        let (l, t0) = limiter(1.0, 5);
        let a = ClientKey::Ip("10.0.0.1".parse().unwrap());
        let b = ClientKey::Ip("10.0.0.2".parse().unwrap());
        assert_eq!(l.charge(a.clone(), 5, t0), Decision::Allowed);
        assert!(is_limited(l.charge(a.clone(), 1, t0)));
        assert_eq!(l.check_owing(&b, t0), Decision::Allowed);
        assert_eq!(l.charge(b, 5, t0), Decision::Allowed);
        assert!(is_limited(l.check_owing(&a, t0)));
    }

    #[test]
    fn check_owing_charges_nothing() {
        let (l, t0) = limiter(1.0, 5);
        let key = ClientKey::Unknown;
        for _ in 0..10 {
            assert_eq!(l.check_owing(&key, t0), Decision::Allowed);
        }
        assert_eq!(l.charge(key, 5, t0), Decision::Allowed);
    }

    #[test]
    fn refilled_buckets_are_pruned_and_busy_ones_kept() {
        let (l, t0) = limiter(1.0, 10);
        let busy = ClientKey::Credential("k7".into());
        assert_eq!(l.charge(busy.clone(), 10, t0), Decision::Allowed);
        for i in 1..MIN_PRUNE_LEN as u32 {
            let ip = IpAddr::from(i.to_be_bytes());
            assert_eq!(l.charge(ClientKey::Ip(ip), 1, t0), Decision::Allowed);
        }
        assert_eq!(l.tracked(), MIN_PRUNE_LEN);
        // The table is at MIN_PRUNE_LEN: the next charge prunes. Two seconds on, the IP buckets
        // (9 tokens) are full again and go; the busy one (2 tokens) stays.
        let later = t0 + secs(2.0);
        assert_eq!(
            l.charge(ClientKey::Credential("k8".into()), 1, later),
            Decision::Allowed
        );
        assert_eq!(l.tracked(), 2);
        assert!(is_limited(l.charge(busy, 3, later)));
    }

    #[test]
    fn pruning_also_happens_on_a_timer() {
        let (l, t0) = limiter(1.0, 2);
        assert_eq!(
            l.charge(ClientKey::Credential("k0".into()), 2, t0),
            Decision::Allowed
        );
        assert_eq!(
            l.charge(ClientKey::Credential("k1".into()), 2, t0),
            Decision::Allowed
        );
        assert_eq!(l.tracked(), 2);
        // Key 0 comes back after the interval; key 1 has been idle and full for long: dropped.
        let later = t0 + PRUNE_INTERVAL;
        assert_eq!(
            l.charge(ClientKey::Credential("k0".into()), 2, later),
            Decision::Allowed
        );
        assert_eq!(l.tracked(), 1);
    }

    #[test]
    fn a_clock_going_backwards_does_not_mint_tokens() {
        let (l, t0) = limiter(1.0, 2);
        let key = ClientKey::Credential("k0".into());
        let t10 = t0 + secs(10.0);
        assert_eq!(l.charge(key.clone(), 2, t10), Decision::Allowed);
        assert!(is_limited(l.charge(key, 1, t0)));
    }
}

//! Options of the ingest gateway shared by `raceway up` and `raceway ingest`.

use anyhow::{bail, Context};
use clap::Args;
use raceway_gateway::{
    GatewayConfig, RateLimit, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_EVENTS_PER_BATCH,
    DEFAULT_MAX_RECORD_BYTES, DEFAULT_PRODUCE_TIMEOUT,
};
use std::time::Duration;

/// Limits of `POST /events`: request size, records produced, and the per-client rate limit.
#[derive(Debug, Clone, Args)]
pub struct GatewayArgs {
    /// Largest POST /events body in bytes; a bigger one gets 413 before it is read whole.
    #[arg(long, env = "RACEWAY_MAX_BODY_BYTES", value_name = "BYTES",
          default_value_t = DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// Most events in one POST /events request; more get 413.
    #[arg(long, env = "RACEWAY_MAX_EVENTS_PER_BATCH", value_name = "EVENTS",
          default_value_t = DEFAULT_MAX_EVENTS_PER_BATCH)]
    max_events_per_batch: usize,
    /// Largest record produced to the bus, in bytes; bigger per-trace batches are split. Keep it
    /// under the broker's message size limit.
    #[arg(long, env = "RACEWAY_MAX_RECORD_BYTES", value_name = "BYTES",
          default_value_t = DEFAULT_MAX_RECORD_BYTES)]
    max_record_bytes: usize,
    /// How long a request waits for its events to be durable on the bus before a 503.
    #[arg(long, env = "RACEWAY_PRODUCE_TIMEOUT_MS", value_name = "MS",
          default_value_t = DEFAULT_PRODUCE_TIMEOUT.as_millis() as u64)]
    produce_timeout_ms: u64,
    /// Sustained events per second allowed per API key (per client IP when no keys are set);
    /// over it, 429 with Retry-After. Unset: no rate limit.
    #[arg(long, env = "RACEWAY_RATE_LIMIT", value_name = "EVENTS_PER_SEC")]
    rate_limit: Option<f64>,
    /// Size of each client's token bucket: events it may send at once after being idle (default:
    /// one second's worth). A bigger batch still passes when the bucket is full.
    #[arg(
        long,
        env = "RACEWAY_RATE_LIMIT_BURST",
        value_name = "EVENTS",
        requires = "rate_limit"
    )]
    rate_limit_burst: Option<u64>,
    /// Rate-limit by the last X-Forwarded-For address instead of the peer address. Only behind a
    /// reverse proxy that appends it: clients can send the header themselves.
    #[arg(long, env = "RACEWAY_TRUST_FORWARDED_FOR")]
    trust_forwarded_for: bool,
}

impl GatewayArgs {
    /// The gateway's configuration for `events_topic` with these options.
    pub fn config(&self, events_topic: String) -> anyhow::Result<GatewayConfig> {
        if self.max_body_bytes == 0 || self.max_events_per_batch == 0 || self.max_record_bytes == 0
        {
            bail!(
                "--max-body-bytes, --max-events-per-batch and --max-record-bytes must be above 0"
            );
        }
        let rate_limit = self
            .rate_limit
            .map(|rate| RateLimit::new(rate, self.rate_limit_burst))
            .transpose()
            .context("bad --rate-limit / --rate-limit-burst")?;
        let mut config = GatewayConfig::new(events_topic);
        config.max_body_bytes = self.max_body_bytes;
        config.max_events_per_batch = self.max_events_per_batch;
        config.max_record_bytes = self.max_record_bytes;
        config.produce_timeout = Duration::from_millis(self.produce_timeout_ms);
        config.rate_limit = rate_limit;
        config.trust_forwarded_for = self.trust_forwarded_for;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::parse_args;

    fn config(args: &[&str]) -> anyhow::Result<GatewayConfig> {
        parse_args::<GatewayArgs>(args)?.config("events".into())
    }

    #[test]
    fn defaults_are_the_gateways_and_no_rate_limit() {
        let config = config(&[]).unwrap();
        let defaults = GatewayConfig::new("events");
        assert_eq!(config.max_body_bytes, defaults.max_body_bytes);
        assert_eq!(config.max_events_per_batch, defaults.max_events_per_batch);
        assert_eq!(config.max_record_bytes, defaults.max_record_bytes);
        assert_eq!(config.produce_timeout, defaults.produce_timeout);
        assert_eq!(config.rate_limit, None);
        assert!(!config.trust_forwarded_for);
    }

    #[test]
    fn options_reach_the_config() {
        let config = config(&[
            "--max-body-bytes=1000",
            "--max-events-per-batch=7",
            "--max-record-bytes=500",
            "--produce-timeout-ms=250",
            "--rate-limit=2.5",
            "--rate-limit-burst=40",
            "--trust-forwarded-for",
        ])
        .unwrap();
        assert_eq!(config.max_body_bytes, 1000);
        assert_eq!(config.max_events_per_batch, 7);
        assert_eq!(config.max_record_bytes, 500);
        assert_eq!(config.produce_timeout, Duration::from_millis(250));
        assert_eq!(
            config.rate_limit,
            Some(RateLimit::new(2.5, Some(40)).unwrap())
        );
        assert!(config.trust_forwarded_for);
    }

    #[test]
    fn bad_limits_are_refused() {
        assert!(config(&["--rate-limit=0"]).is_err());
        assert!(config(&["--rate-limit=-3"]).is_err());
        assert!(config(&["--rate-limit=5", "--rate-limit-burst=0"]).is_err());
        assert!(
            config(&["--rate-limit-burst=5"]).is_err(),
            "a burst without a rate"
        );
        assert!(config(&["--max-events-per-batch=0"]).is_err());
    }
}

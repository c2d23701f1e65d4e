//! Retrying store and bus writes with backoff: when a dependency is down the stage stops
//! consuming (it is stuck in the retry) instead of dropping anything.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

/// Why a retried operation gave up.
#[derive(Debug, thiserror::Error)]
#[error("shutting down while `{operation}` was still failing: {last_error}")]
pub struct ShutdownDuringRetry {
    pub operation: &'static str,
    pub last_error: String,
}

/// Runs `attempt` until it succeeds, backing off from 100 ms to 5 s between failures. Gives up
/// only when `shutdown` turns true, so nothing is silently dropped.
pub async fn retry_until_ok<T, E, F, Fut>(
    operation: &'static str,
    shutdown: &watch::Receiver<bool>,
    mut attempt: F,
) -> Result<T, ShutdownDuringRetry>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut delay = Duration::from_millis(100);
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(err) => {
                if *shutdown.borrow() {
                    return Err(ShutdownDuringRetry {
                        operation,
                        last_error: err.to_string(),
                    });
                }
                tracing::warn!(operation, error = %err, retry_in_ms = delay.as_millis() as u64, "retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An operation that fails `failures` times, then answers 42.
    fn flaky(mut failures: u32) -> impl FnMut() -> std::future::Ready<Result<u32, &'static str>> {
        move || {
            let fail = failures > 0;
            failures = failures.saturating_sub(1);
            std::future::ready(if fail { Err("down") } else { Ok(42) })
        }
    }

    /// On tokio's paused clock: the backoff is waited out in processing time, not slept.
    #[tokio::test(start_paused = true)]
    async fn retries_until_the_operation_succeeds_backing_off() {
        let (_tx, rx) = watch::channel(false);
        let started = tokio::time::Instant::now();
        let result = retry_until_ok("flaky", &rx, flaky(2)).await;
        assert_eq!(result.unwrap(), 42);
        assert_eq!(started.elapsed(), Duration::from_millis(100 + 200));
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_doubles_up_to_five_seconds() {
        let (_tx, rx) = watch::channel(false);
        let started = tokio::time::Instant::now();
        retry_until_ok("long outage", &rx, flaky(8)).await.unwrap();
        // 0.1 + 0.2 + 0.4 + 0.8 + 1.6 + 3.2, then capped at 5 twice.
        assert_eq!(started.elapsed(), Duration::from_millis(16_300));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_only_on_shutdown() {
        let (tx, rx) = watch::channel(false);
        tx.send(true).unwrap();
        let result: Result<(), _> =
            retry_until_ok("down", &rx, || async { Err("still down") }).await;
        let err = result.unwrap_err();
        assert!(err.to_string().contains("still down"));
    }
}

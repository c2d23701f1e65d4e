//! The query API's readiness for Prometheus: `raceway_query_ready` is 1 while its store answers
//! a ping, checked every [`CHECK_EVERY`], else 0.
//!
//! The processor stages report `raceway_stage_ready`; the query API has no consumer group to
//! join, so what makes it unable to answer is an unreachable store. Prometheus scrapes /metrics
//! only (it cannot read `/health`), so without the gauge the Pipeline health dashboard and the
//! alerts could not tell a query process that runs but answers only errors from a working one.

use std::sync::Arc;
use std::time::Duration;

use prometheus::{register_int_gauge_with_registry, Registry};
use raceway_store::Lifecycle;
use tokio::sync::watch;

/// How often the store is pinged.
pub const CHECK_EVERY: Duration = Duration::from_secs(5);

/// Registers `raceway_query_ready` on `registry` and keeps it current until `shutdown`.
pub fn watch_store(
    store: Arc<dyn Lifecycle>,
    registry: &Registry,
    mut shutdown: watch::Receiver<bool>,
) -> prometheus::Result<()> {
    let gauge = register_int_gauge_with_registry!(
        "raceway_query_ready",
        "1 while the query API's store answers a ping (checked every 5 s), else 0",
        registry
    )?;
    tokio::spawn(async move {
        let mut every = tokio::time::interval(CHECK_EVERY);
        loop {
            tokio::select! {
                _ = every.tick() => {
                    let answered = store.ping().await;
                    if let Err(error) = &answered {
                        tracing::warn!(%error, "the query API's store does not answer");
                    }
                    gauge.set(i64::from(answered.is_ok()));
                }
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        return;
                    }
                }
            }
        }
    });
    Ok(())
}

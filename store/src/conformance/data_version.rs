//! Checks of the data version (`Lifecycle::data_version`), which the query API compares to
//! answer a list from its last read when nothing changed.

use super::*;
use crate::conformance::analyses::analysis;

const DAY: i64 = 86_400 * 1_000_000_000;

/// The version, if the store gives one.
async fn version(store: &dyn Store) -> Option<String> {
    store.data_version().await.expect("data version")
}

/// Every kind of write a list can show changes the version, and so does a prune: an unchanged
/// version must mean unchanged data. (Two versions without a write between may still differ:
/// ClickHouse's merges rename parts; that costs a read, never a wrong answer.) A store without
/// a version has nothing to check.
pub async fn data_version_changes_with_every_write(store: &dyn Store) {
    let Some(mut before) = version(store).await else {
        return;
    };
    let (old, recent) = (Uuid::new_v4(), Uuid::new_v4());
    let mut changed = |what: &str, now: Option<String>| {
        let now = now.expect("a store that gave a version gives one after a write");
        assert_ne!(now, before, "the data version after {what}");
        before = now;
    };
    store
        .insert_events(&[event(old, 0, "bank"), event(recent, 10 * DAY, "bank")])
        .await
        .expect("insert events");
    changed("inserting events", version(store).await);
    store
        .upsert_findings(&[finding("f-old", old, old, "x", 1)])
        .await
        .expect("upsert findings");
    changed("upserting a finding", version(store).await);
    // A new version of the same finding: nothing new is keyed, one row changed.
    store
        .upsert_findings(&[retracted(&finding("f-old", old, old, "x", 1), 2)])
        .await
        .expect("retract the finding");
    changed("retracting a finding", version(store).await);
    store
        .insert_accesses(&[access(old, "x", 0, "bank")])
        .await
        .expect("insert accesses");
    changed("inserting an access", version(store).await);
    store
        .replace_trace_analyses(&[analysis(recent, 10 * DAY)])
        .await
        .expect("write an analysis");
    changed("writing an analysis", version(store).await);
    store
        .prune_older_than(BASE_NS + 2 * DAY)
        .await
        .expect("prune");
    changed("pruning", version(store).await);
}

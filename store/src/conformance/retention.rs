//! Checks of retention (`prune_older_than`).

use super::*;

const DAY: i64 = 86_400 * 1_000_000_000;

/// Pruning at a cutoff two days after the old data removes the old events, findings and
/// accesses and keeps the recent ones; the trace list forgets the pruned trace and summarises
/// what is left of a trace the cutoff cut into; pruning again removes nothing more.
pub async fn prune_drops_old_days_and_keeps_recent(store: &dyn Store) {
    let (old, recent, cut) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let far = 10 * DAY;
    store
        .insert_events(&[
            event(old, 0, "bank"),
            event(recent, far, "bank"),
            // A trace the cutoff cuts in two: its list entry keeps the recent half.
            event(cut, 0, "ledger"),
            event(cut, far, "bank"),
        ])
        .await
        .expect("insert events");
    let mut late = finding("f-recent", recent, recent, "y", 2);
    late.first.timestamp_ns += far;
    late.second.timestamp_ns += far;
    store
        .upsert_findings(&[finding("f-old", old, old, "x", 1), late.clone()])
        .await
        .expect("upsert findings");
    store
        .insert_accesses(&[
            access(old, "x", 0, "bank"),
            access(recent, "x", far, "bank"),
        ])
        .await
        .expect("insert accesses");

    let report = store
        .prune_older_than(BASE_NS + 2 * DAY)
        .await
        .expect("prune");
    // ClickHouse drops whole days (partitions), SQLite rows: both count at least one.
    assert!(report.get("events").is_some_and(|n| *n >= 1), "{report:?}");
    for table in ["findings", "accesses"] {
        assert_eq!(report.get(table), Some(&1), "{table}: {report:?}");
    }
    let listed = page(store, TraceQuery::default()).await;
    assert!(!ids(&listed).contains(&old), "a pruned trace is not listed");
    let kept = listed
        .traces
        .iter()
        .find(|t| t.trace_id == cut)
        .expect("the cut trace is listed");
    assert_eq!(kept.event_count, 1);
    assert_eq!(kept.services, vec!["bank".to_string()]);
    assert_eq!(kept.first_timestamp_ns, BASE_NS + far);
    let counts = store
        .traces_event_counts(&[old, cut])
        .await
        .expect("counts");
    assert_eq!(counts.get(&cut), Some(&1), "{counts:?}");
    assert!(counts.get(&old).is_none_or(|n| *n == 0), "{counts:?}");
    assert!(store.trace_events(old).await.expect("read").is_empty());
    assert_eq!(store.trace_events(recent).await.expect("read").len(), 1);
    assert!(store.trace_findings(old).await.expect("read").is_empty());
    assert_eq!(
        store.trace_findings(recent).await.expect("read"),
        vec![late]
    );
    let left = store
        .variable_accesses(&AccessQuery::variable("x", 100))
        .await
        .expect("accesses");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].trace_id, recent);

    let again = store
        .prune_older_than(BASE_NS + 2 * DAY)
        .await
        .expect("prune again");
    assert!(again.values().all(|n| *n == 0), "{again:?}");
}

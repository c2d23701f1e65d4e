//! Checks of findings, replays and edge cases.

use super::*;

/// race_count is the number of distinct findings touching the trace, whatever their versions.
pub async fn race_count_counts_distinct_findings(store: &dyn Store) {
    let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let events = vec![
        event(a, 0, "bank"),
        event(b, 1, "bank"),
        event(c, 2, "bank"),
    ];
    store.insert_events(&events).await.expect("insert");
    let findings = vec![
        finding("f-aa", a, a, "x", 10),
        finding("f-ab", a, b, "y", 10),
        finding("f-bc", b, c, "z", 10),
    ];
    store.upsert_findings(&findings).await.expect("upsert");
    let mut newer = findings[1].clone();
    newer.detected_at_ns = 20;
    newer.count = 3;
    store.upsert_findings(&[newer]).await.expect("upsert newer");
    let listed = page(store, TraceQuery::default()).await;
    let count = |t: Uuid| race_count(&listed, t);
    assert_eq!((count(a), count(b), count(c)), (Some(2), Some(2), Some(1)));
}

/// The version with the largest detected_at_ns wins, whatever the arrival order.
pub async fn upsert_findings_newest_wins(store: &dyn Store) {
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let v = |at: i64, count: u64| {
        let mut f = finding("f-1", a, b, "x", at);
        f.count = count;
        f.explanation = format!("version {at}");
        f
    };
    store.upsert_findings(&[v(200, 2)]).await.expect("v200");
    store
        .upsert_findings(&[v(100, 1)])
        .await
        .expect("older v100");
    assert_eq!(
        store.trace_findings(a).await.expect("read"),
        vec![v(200, 2)]
    );
    store.upsert_findings(&[v(300, 3)]).await.expect("v300");
    assert_eq!(
        store.trace_findings(b).await.expect("read"),
        vec![v(300, 3)]
    );
    store
        .upsert_findings(&[v(500, 5), v(400, 4)])
        .await
        .expect("batch");
    assert_eq!(
        store.trace_findings(a).await.expect("read"),
        vec![v(500, 5)]
    );
}

/// A cross-trace finding shows on both traces; order is severity desc, variable, id.
pub async fn trace_findings_cross_trace(store: &dyn Store) {
    let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let mut warn = finding("f-warn", a, a, "a-var", 1);
    warn.severity = Severity::Warning;
    warn.kind = FindingKind::LostUpdate;
    let cross = finding("f-cross", a, b, "m-var", 1);
    let z = finding("f-z", c, a, "z-var", 1);
    let z2 = finding("f-y", a, c, "z-var", 1);
    let mut lock = finding("f-lock", b, b, "", 1);
    lock.kind = FindingKind::LockOrderInversion;
    lock.first.clock.clear();
    store
        .upsert_findings(&[
            warn.clone(),
            z.clone(),
            cross.clone(),
            lock.clone(),
            z2.clone(),
        ])
        .await
        .expect("upsert");
    assert_eq!(
        store.trace_findings(a).await.expect("a"),
        vec![cross.clone(), z2, z, warn]
    );
    assert_eq!(store.trace_findings(b).await.expect("b"), vec![lock, cross]);
    assert!(store
        .trace_findings(Uuid::new_v4())
        .await
        .expect("none")
        .is_empty());
}

/// Replaying every write (as after a consumer restart) changes no result.
pub async fn replay_changes_nothing(store: &dyn Store) {
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let events: Vec<Event> = (0..6)
        .map(|i| event(if i % 2 == 0 { a } else { b }, i * SECOND, "bank"))
        .collect();
    let findings = vec![finding("f-1", a, b, "x", 7), finding("f-2", a, a, "y", 7)];
    let accesses = vec![access(a, "x", 0, "bank"), access(b, "x", SECOND, "bank")];
    store.insert_events(&events).await.expect("insert");
    store.upsert_findings(&findings).await.expect("upsert");
    store.insert_accesses(&accesses).await.expect("accesses");
    // Everything a reader can see of these rows.
    let read = || async {
        (
            page(store, TraceQuery::default()).await,
            store.trace_events(a).await.expect("events"),
            store.trace_findings(a).await.expect("findings"),
            store
                .list_findings(&FindingQuery::default())
                .await
                .expect("list findings"),
            store
                .variable_accesses(&AccessQuery::variable("x", 10))
                .await
                .expect("accesses"),
        )
    };
    let snapshot = read().await;
    for _ in 0..3 {
        store.insert_events(&events).await.expect("replay events");
        store
            .upsert_findings(&findings)
            .await
            .expect("replay findings");
        store
            .insert_accesses(&accesses)
            .await
            .expect("replay accesses");
    }
    let again = read().await;
    assert_eq!(again.3.total, 2);
    assert_eq!(again.4, sorted_accesses(accesses));
    assert_eq!(again, snapshot);
    assert_eq!(again.0.traces.iter().map(|t| t.event_count).sum::<u64>(), 6);
    assert_eq!(
        again
            .0
            .traces
            .iter()
            .map(|t| t.race_count)
            .collect::<Vec<_>>(),
        vec![1, 2]
    );
}

/// Empty slices are accepted and change nothing.
pub async fn empty_inputs_are_noops(store: &dyn Store) {
    store.insert_events(&[]).await.expect("no events");
    store.upsert_findings(&[]).await.expect("no findings");
    store.insert_accesses(&[]).await.expect("no accesses");
    let listed = page(store, TraceQuery::default()).await;
    assert_eq!(
        listed,
        TracePage {
            traces: vec![],
            total: 0
        }
    );
    assert_eq!(
        store
            .list_findings(&FindingQuery::default())
            .await
            .expect("list findings"),
        FindingPage {
            findings: vec![],
            total: 0
        }
    );
    assert!(store
        .variable_accesses(&AccessQuery::variable("x", 10))
        .await
        .expect("no accesses")
        .is_empty());
}

/// One call with thousands of events across many traces.
pub async fn large_batch(store: &dyn Store) {
    let traces: Vec<Uuid> = (0..20).map(|_| Uuid::new_v4()).collect();
    let events: Vec<Event> = (0..2000)
        .map(|i| event(traces[i % 20], i as i64, "bank"))
        .collect();
    store.insert_events(&events).await.expect("insert");
    let listed = page(
        store,
        TraceQuery {
            limit: 100,
            ..TraceQuery::default()
        },
    )
    .await;
    assert_eq!(listed.total, 20);
    assert!(listed.traces.iter().all(|t| t.event_count == 100));
    assert_eq!(
        store.trace_events(traces[3]).await.expect("read").len(),
        100
    );
}

/// A finding upserted with count 0 is retracted: no read lists it and race_count leaves it out,
/// until a newer version with a positive count brings it back; an older version never does.
pub async fn retracted_findings_are_hidden(store: &dyn Store) {
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    store
        .insert_events(&[event(a, 0, "bank"), event(b, 1, "bank")])
        .await
        .expect("insert");
    let variable = format!("retracted-{a}");
    let live = finding("f-retract", a, b, &variable, 100);
    let kept = finding("f-kept", a, a, &variable, 100);
    store
        .upsert_findings(&[live.clone(), kept.clone()])
        .await
        .expect("upsert");
    let mut retracted = live.clone();
    retracted.count = 0;
    retracted.detected_at_ns = 200;
    store.upsert_findings(&[retracted]).await.expect("retract");
    store
        .upsert_findings(std::slice::from_ref(&live))
        .await
        .expect("replay older");

    assert_eq!(store.trace_findings(b).await.expect("read"), vec![]);
    assert_eq!(
        store.trace_findings(a).await.expect("read"),
        vec![kept.clone()]
    );
    let by_variable = store
        .findings_for_variable(None, &variable)
        .await
        .expect("variable");
    assert_eq!(by_variable, vec![kept.clone()]);
    let listed = store
        .list_findings(&FindingQuery {
            variable: Some(variable.clone()),
            ..FindingQuery::default()
        })
        .await
        .expect("list");
    assert_eq!((listed.findings, listed.total), (vec![kept.clone()], 1));
    let traces = page(store, TraceQuery::default()).await;
    let count = |t: Uuid| race_count(&traces, t);
    assert_eq!((count(a), count(b)), (Some(1), Some(0)));

    let mut back = live;
    back.detected_at_ns = 300;
    back.count = 1;
    store.upsert_findings(&[back.clone()]).await.expect("back");
    assert_eq!(store.trace_findings(b).await.expect("read"), vec![back]);
}

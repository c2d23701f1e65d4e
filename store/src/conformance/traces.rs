//! Checks of trace listing.

use super::*;

/// Summaries: distinct events, sorted distinct services, first/last time, newest first.
pub async fn list_traces_summarises(store: &dyn Store) {
    let (old, new) = (Uuid::new_v4(), Uuid::new_v4());
    // `old` spans midnight UTC (two ClickHouse partitions).
    let day = 86_400 * SECOND;
    let midnight = (BASE_NS / day + 1) * day - BASE_NS;
    let events = vec![
        event(old, midnight - SECOND, "ledger"),
        event(old, midnight + SECOND, "bank"),
        event(old, midnight + 2 * SECOND, "bank"),
        event(new, midnight + 10 * SECOND, "api"),
    ];
    store.insert_events(&events).await.expect("insert");
    store.insert_events(&events).await.expect("replay");
    let listed = page(store, TraceQuery::default()).await;
    assert_eq!(listed.total, 2);
    assert_eq!(ids(&listed), vec![new, old], "newest first");
    let summary = &listed.traces[1];
    assert_eq!(summary.event_count, 3);
    assert_eq!(
        summary.services,
        vec!["bank".to_string(), "ledger".to_string()]
    );
    assert_eq!(summary.first_timestamp_ns, BASE_NS + midnight - SECOND);
    assert_eq!(summary.last_timestamp_ns, BASE_NS + midnight + 2 * SECOND);
    assert_eq!(summary.race_count, 0);
}

/// Filters by service, time range (overlap), and whether a trace has findings.
pub async fn list_traces_filters(store: &dyn Store) {
    let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let events = vec![
        event(a, 0, "bank"),
        event(a, 10 * SECOND, "ledger"),
        event(b, 20 * SECOND, "bank"),
        event(b, 30 * SECOND, "bank"),
        event(c, 40 * SECOND, "api"),
    ];
    store.insert_events(&events).await.expect("insert");
    store
        .upsert_findings(&[finding("f-ab", a, b, "x", 1)])
        .await
        .expect("findings");
    let q = |service: Option<&str>, from: Option<i64>, to: Option<i64>, races: Option<bool>| {
        TraceQuery {
            service: service.map(str::to_string),
            from_ns: from.map(|s| BASE_NS + s * SECOND),
            to_ns: to.map(|s| BASE_NS + s * SECOND),
            has_races: races,
            ..TraceQuery::default()
        }
    };
    let cases: Vec<(TraceQuery, Vec<Uuid>)> = vec![
        (q(None, None, None, None), vec![c, b, a]),
        (q(Some("ledger"), None, None, None), vec![a]),
        (q(Some("bank"), None, None, None), vec![b, a]),
        (q(Some("nobody"), None, None, None), vec![]),
        (q(None, Some(5), None, None), vec![c, b, a]),
        (q(None, Some(11), None, None), vec![c, b]),
        (q(None, None, Some(20), None), vec![b, a]),
        (q(None, Some(21), Some(39), None), vec![b]),
        (q(None, Some(31), Some(39), None), vec![]),
        (q(None, Some(40), Some(40), None), vec![c]),
        (q(None, None, None, Some(true)), vec![b, a]),
        (q(None, None, None, Some(false)), vec![c]),
        (q(Some("bank"), Some(15), None, Some(true)), vec![b]),
        (q(Some("api"), None, None, Some(true)), vec![]),
    ];
    for (query, expected) in cases {
        let listed = page(store, query.clone()).await;
        assert_eq!(ids(&listed), expected, "{query:?}");
        assert_eq!(listed.total, expected.len() as u64, "total of {query:?}");
    }
}

/// limit/offset page through the newest-first order; total ignores them.
pub async fn list_traces_paginates(store: &dyn Store) {
    let traces: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
    let events: Vec<Event> = traces
        .iter()
        .enumerate()
        .map(|(i, t)| event(*t, i as i64 * SECOND, "bank"))
        .collect();
    store.insert_events(&events).await.expect("insert");
    let newest_first: Vec<Uuid> = traces.iter().rev().copied().collect();
    let mut seen = Vec::new();
    for offset in [0, 2, 4] {
        let listed = page(
            store,
            TraceQuery {
                limit: 2,
                offset,
                ..TraceQuery::default()
            },
        )
        .await;
        assert_eq!(listed.total, 5);
        seen.extend(ids(&listed));
    }
    assert_eq!(seen, newest_first);
    let beyond = page(
        store,
        TraceQuery {
            limit: 2,
            offset: 10,
            ..TraceQuery::default()
        },
    )
    .await;
    assert!(beyond.traces.is_empty());
    assert_eq!(beyond.total, 5);
    let none = page(
        store,
        TraceQuery {
            limit: 0,
            ..TraceQuery::default()
        },
    )
    .await;
    assert!(none.traces.is_empty());
    assert_eq!(none.total, 5);
}

/// Confined to a set of environments, the list shows the traces whose every event is in the
/// set: a trace that strays into another environment is in neither's list.
pub async fn list_traces_confined_to_environments(store: &dyn Store) {
    let (blue, green, both) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let tag = Uuid::new_v4().simple().to_string();
    let (env_blue, env_green) = (format!("blue-{tag}"), format!("green-{tag}"));
    let in_env = |trace, offset, environment: &str| {
        let mut e = event(trace, offset * SECOND, "bank");
        e.metadata.environment = environment.to_string();
        e
    };
    store
        .insert_events(&[
            in_env(blue, 0, &env_blue),
            in_env(blue, 1, &env_blue),
            in_env(green, 2, &env_green),
            in_env(both, 3, &env_blue),
            in_env(both, 4, &env_green),
        ])
        .await
        .expect("insert");
    let within = |environments: Vec<String>| TraceQuery {
        environments,
        ..TraceQuery::default()
    };
    let cases = [
        (vec![env_blue.clone()], vec![blue]),
        (vec![env_green.clone()], vec![green]),
        (
            vec![env_blue.clone(), env_green.clone()],
            vec![both, green, blue],
        ),
    ];
    for (environments, expected) in cases {
        let listed = page(store, within(environments.clone())).await;
        assert_eq!(ids(&listed), expected, "within {environments:?}");
        assert_eq!(
            listed.total,
            expected.len() as u64,
            "total within {environments:?}"
        );
    }
}

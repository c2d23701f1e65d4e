//! Checks of the trace list's narrower filters (environment, event count, id prefix), its
//! orders and its anomaly counts.

use super::analyses::{analysis, anomaly};
use super::*;
use crate::TraceSort;

/// `count` events of `trace` in `environment`, one a second from `start_s`, by `service`.
fn events_of(trace: Uuid, environment: &str, start_s: i64, count: i64) -> Vec<Event> {
    (0..count)
        .map(|i| {
            let mut e = event(trace, (start_s + i) * SECOND, "bank");
            e.metadata.environment = environment.into();
            e
        })
        .collect()
}

/// Environment, minimum events and id prefix narrow the list; `sort` orders it by time,
/// duration or findings, ties by trace id; each row has the end and counts the anomalies of the
/// trace's latest analysis.
pub async fn list_traces_narrows_sorts_and_counts_anomalies(store: &dyn Store) {
    let a = Uuid::parse_str("aaaa0000-0000-4000-8000-000000000000").expect("uuid");
    let b = Uuid::parse_str("aaaa1111-0000-4000-8000-000000000000").expect("uuid");
    let c = Uuid::parse_str("bbbb0000-0000-4000-8000-000000000000").expect("uuid");
    // a: 2 events lasting 1 s, oldest; b: 4 events lasting 3 s; c: 3 events lasting 2 s, newest.
    let mut events = events_of(a, "prod", 0, 2);
    events.extend(events_of(b, "staging", 10, 4));
    events.extend(events_of(c, "prod", 20, 3));
    store.insert_events(&events).await.expect("insert");
    let findings = [
        finding("f-a1", a, a, "x", 1),
        finding("f-a2", a, a, "y", 1),
        finding("f-bc", b, c, "x", 1),
    ];
    store.upsert_findings(&findings).await.expect("findings");
    let mut first = analysis(c, 20 * SECOND);
    first.anomalies = vec![
        anomaly(c, "bank", 6.0, BASE_NS),
        anomaly(c, "db", 3.5, BASE_NS),
    ];
    store
        .replace_trace_analysis(&first)
        .await
        .expect("analysis");
    let mut latest = analysis(c, 20 * SECOND);
    latest.anomalies = vec![anomaly(c, "bank", 6.0, BASE_NS)];
    // Its last step ends 18 s after its last event (a measured duration): 20 s in all.
    latest.summary.end_ns = BASE_NS + 40 * SECOND;
    store
        .replace_trace_analysis(&latest)
        .await
        .expect("re-analysis");

    let q = |change: &dyn Fn(&mut TraceQuery)| {
        let mut query = TraceQuery::default();
        change(&mut query);
        query
    };
    let cases: Vec<(TraceQuery, Vec<Uuid>)> = vec![
        (q(&|_| {}), vec![c, b, a]),
        (q(&|q| q.environment = Some("prod".into())), vec![c, a]),
        (q(&|q| q.environment = Some("dev".into())), vec![]),
        (q(&|q| q.min_events = Some(3)), vec![c, b]),
        (q(&|q| q.min_events = Some(4)), vec![b]),
        (q(&|q| q.trace_id = Some("aaaa".into())), vec![b, a]),
        (q(&|q| q.trace_id = Some("aaaa1".into())), vec![b]),
        (q(&|q| q.trace_id = Some(c.to_string())), vec![c]),
        (q(&|q| q.trace_id = Some("cccc".into())), vec![]),
        (q(&|q| q.sort = TraceSort::Duration), vec![c, b, a]),
        (q(&|q| q.sort = TraceSort::Races), vec![a, b, c]),
        (
            q(&|q| {
                q.sort = TraceSort::Races;
                q.environment = Some("prod".into());
                q.min_events = Some(3);
            }),
            vec![c],
        ),
    ];
    for (query, expected) in cases {
        let listed = page(store, query.clone()).await;
        assert_eq!(ids(&listed), expected, "{query:?}");
        assert_eq!(listed.total, expected.len() as u64, "total of {query:?}");
    }
    let listed = page(store, TraceQuery::default()).await;
    let anomalies: Vec<u64> = listed.traces.iter().map(|t| t.anomaly_count).collect();
    assert_eq!(anomalies, vec![1, 0, 0], "latest analysis only");
    let races: Vec<u64> = listed.traces.iter().map(|t| t.race_count).collect();
    assert_eq!(races, vec![1, 1, 2]);
    let ends: Vec<i64> = listed.traces.iter().map(|t| t.end_ns - BASE_NS).collect();
    assert_eq!(
        ends,
        vec![40 * SECOND, 13 * SECOND, SECOND],
        "the analysis' end when later"
    );
}

/// Equal keys are ordered by trace id, whatever the sort.
pub async fn list_traces_breaks_ties_by_id(store: &dyn Store) {
    let mut traces: Vec<Uuid> = (0..4).map(|_| Uuid::new_v4()).collect();
    // Same start, same duration, no findings: every key ties.
    let events: Vec<Event> = traces
        .iter()
        .flat_map(|t| events_of(*t, "prod", 0, 2))
        .collect();
    store.insert_events(&events).await.expect("insert");
    traces.sort();
    for sort in TraceSort::ALL {
        let query = TraceQuery {
            sort,
            ..TraceQuery::default()
        };
        assert_eq!(ids(&page(store, query).await), traces, "{sort:?}");
    }
}

/// A listed trace's summary follows events that arrive later (an earlier one, a later one in
/// another environment and service, a redelivered one) exactly as grouping its events would:
/// counts, times, services, the environment filters and the stored-event count all move.
pub async fn list_traces_follows_late_events(store: &dyn Store) {
    let trace = Uuid::new_v4();
    let first = events_of(trace, "test", 10, 2);
    store.insert_events(&first).await.expect("insert");
    let within = |environments: &[&str]| TraceQuery {
        environments: environments.iter().map(|e| e.to_string()).collect(),
        ..TraceQuery::default()
    };
    let listed = page(store, within(&["test"])).await;
    assert_eq!(ids(&listed), vec![trace]);
    assert_eq!(listed.traces[0].event_count, 2);

    let mut elsewhere = event(trace, 30 * SECOND, "ledger");
    elsewhere.metadata.environment = "staging".into();
    let late = [event(trace, 5 * SECOND, "api"), elsewhere, first[1].clone()];
    store.insert_events(&late).await.expect("late events");
    let listed = page(store, TraceQuery::default()).await;
    let summary = &listed.traces[0];
    assert_eq!(summary.event_count, 4, "the redelivered event counts once");
    assert_eq!(summary.first_timestamp_ns, BASE_NS + 5 * SECOND);
    assert_eq!(summary.last_timestamp_ns, BASE_NS + 30 * SECOND);
    assert_eq!(summary.services, ["api", "bank", "ledger"]);
    assert_eq!(
        page(store, within(&["test"])).await.total,
        0,
        "a trace that strayed into staging is no longer confined to test"
    );
    assert_eq!(
        ids(&page(store, within(&["test", "staging"])).await),
        [trace]
    );
    let staging = TraceQuery {
        environment: Some("staging".into()),
        ..TraceQuery::default()
    };
    assert_eq!(ids(&page(store, staging).await), [trace]);
    for (min_events, expected) in [(4, vec![trace]), (5, vec![])] {
        let query = TraceQuery {
            min_events: Some(min_events),
            ..TraceQuery::default()
        };
        assert_eq!(ids(&page(store, query).await), expected, "min {min_events}");
    }
    let counts = store.traces_event_counts(&[trace]).await.expect("counts");
    assert_eq!(counts.get(&trace), Some(&4));
}

/// A whole page of the largest size lists every trace of it with its count (its keys are sent
/// in the store's queries: the query must stay within the server's limits).
pub async fn list_traces_serves_the_largest_page(store: &dyn Store) {
    const LARGEST_PAGE: u32 = 1000;
    let mut traces: Vec<Uuid> = (0..LARGEST_PAGE).map(|_| Uuid::new_v4()).collect();
    let events: Vec<Event> = traces
        .iter()
        .flat_map(|t| events_of(*t, "prod", 0, 1))
        .collect();
    store.insert_events(&events).await.expect("insert");
    let query = TraceQuery {
        limit: LARGEST_PAGE,
        ..TraceQuery::default()
    };
    let listed = page(store, query).await;
    traces.sort();
    assert_eq!(ids(&listed), traces, "every trace, ties by id");
    assert!(listed.traces.iter().all(|t| t.event_count == 1));
}

/// A trace's race count follows the newest version of each finding, even on a page that lists
/// only a trace an older version named: a finding that moved to another trace no longer counts
/// for the first one.
pub async fn list_traces_count_the_newest_version_of_findings(store: &dyn Store) {
    let older = Uuid::new_v4();
    let newer = Uuid::new_v4();
    let mut events = events_of(older, "prod", 0, 1);
    events.extend(events_of(newer, "prod", 10, 1));
    store.insert_events(&events).await.expect("insert");
    let variable = format!("moved-{older}");
    store
        .upsert_findings(&[finding("f-moved", older, older, &variable, 1)])
        .await
        .expect("v1");
    store
        .upsert_findings(&[finding("f-moved", newer, newer, &variable, 2)])
        .await
        .expect("v2");
    for (offset, trace, races) in [(0, newer, 1), (1, older, 0)] {
        let query = TraceQuery {
            limit: 1,
            offset,
            ..TraceQuery::default()
        };
        let listed = page(store, query).await;
        assert_eq!(ids(&listed), vec![trace], "page at {offset}");
        assert_eq!(race_count(&listed, trace), Some(races), "page at {offset}");
        assert_eq!(listed.total, 2);
    }
}

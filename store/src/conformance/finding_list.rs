//! Checks of the findings list (`list_findings`) and of `findings_for_variable`.

use super::*;

/// A finding whose events are at `BASE_NS + first_s` and `BASE_NS + second_s` seconds, by
/// services `first_service` and `second_service`.
fn timed(
    id: &str,
    variable: &str,
    (first_s, first_service): (i64, &str),
    (second_s, second_service): (i64, &str),
) -> RaceFinding {
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let mut f = finding(id, a, b, variable, 1);
    f.first.timestamp_ns = BASE_NS + first_s * SECOND;
    f.first.service = first_service.into();
    f.second.timestamp_ns = BASE_NS + second_s * SECOND;
    f.second.service = second_service.into();
    f
}

async fn list(store: &dyn Store, query: FindingQuery) -> FindingPage {
    store.list_findings(&query).await.expect("list_findings")
}

fn finding_ids(page: &FindingPage) -> Vec<&str> {
    page.findings.iter().map(|f| f.id.as_str()).collect()
}

/// Each filter, and combinations: kind, environment, variable, service on either side,
/// severity, and a time range overlapping the span of the two events.
pub async fn list_findings_filters(store: &dyn Store) {
    // Newest first by the later event: f-5 (50 s), f-4 (40), f-3 (30), f-2 (20), f-1 (10).
    let f1 = timed("f-1", "x", (0, "bank"), (10, "bank"));
    let mut f2 = timed("f-2", "x", (20, "ledger"), (15, "bank"));
    f2.severity = Severity::Warning;
    let mut f3 = timed("f-3", "y", (25, "bank"), (30, "api"));
    f3.kind = FindingKind::LostUpdate;
    let mut f4 = timed("f-4", "", (35, "api"), (40, "api"));
    f4.kind = FindingKind::LockOrderInversion;
    let mut f5 = timed("f-5", "x", (45, "bank"), (50, "bank"));
    f5.environment = "prod".into();
    store
        .upsert_findings(&[f3, f1, f5, f2, f4])
        .await
        .expect("upsert");
    let at = |s: i64| Some(BASE_NS + s * SECOND);
    let q = FindingQuery::default;
    let cases: Vec<(FindingQuery, Vec<&str>)> = vec![
        (q(), vec!["f-5", "f-4", "f-3", "f-2", "f-1"]),
        (
            FindingQuery {
                kind: Some(FindingKind::DataRace),
                ..q()
            },
            vec!["f-5", "f-2", "f-1"],
        ),
        (
            FindingQuery {
                kind: Some(FindingKind::LockOrderInversion),
                ..q()
            },
            vec!["f-4"],
        ),
        (
            FindingQuery {
                environment: Some("prod".into()),
                ..q()
            },
            vec!["f-5"],
        ),
        (
            FindingQuery {
                variable: Some("x".into()),
                ..q()
            },
            vec!["f-5", "f-2", "f-1"],
        ),
        (
            FindingQuery {
                variable: Some("z".into()),
                ..q()
            },
            vec![],
        ),
        (
            FindingQuery {
                service: Some("ledger".into()),
                ..q()
            },
            vec!["f-2"],
        ),
        (
            FindingQuery {
                service: Some("api".into()),
                ..q()
            },
            vec!["f-4", "f-3"],
        ),
        (
            FindingQuery {
                severity: Some(Severity::Warning),
                ..q()
            },
            vec!["f-2"],
        ),
        (
            FindingQuery {
                severity: Some(Severity::Critical),
                ..q()
            },
            vec!["f-5", "f-4", "f-3", "f-1"],
        ),
        (
            FindingQuery {
                from_ns: at(30),
                ..q()
            },
            vec!["f-5", "f-4", "f-3"],
        ),
        (
            FindingQuery {
                to_ns: at(15),
                ..q()
            },
            vec!["f-2", "f-1"],
        ),
        (
            FindingQuery {
                from_ns: at(11),
                to_ns: at(24),
                ..q()
            },
            vec!["f-2"],
        ),
        (
            FindingQuery {
                from_ns: at(5),
                to_ns: at(5),
                ..q()
            },
            vec!["f-1"],
        ),
        (
            FindingQuery {
                variable: Some("x".into()),
                service: Some("bank".into()),
                severity: Some(Severity::Critical),
                environment: Some("test".into()),
                ..q()
            },
            vec!["f-1"],
        ),
        (
            FindingQuery {
                kind: Some(FindingKind::LostUpdate),
                service: Some("ledger".into()),
                ..q()
            },
            vec![],
        ),
    ];
    for (query, expected) in cases {
        let page = list(store, query.clone()).await;
        assert_eq!(finding_ids(&page), expected, "{query:?}");
        assert_eq!(page.total, expected.len() as u64, "total of {query:?}");
    }
}

/// limit/offset page through the newest-first order (ties by id); total ignores them; every
/// field comes back as written.
pub async fn list_findings_paginates_newest_first(store: &dyn Store) {
    let mut all: Vec<RaceFinding> = (0..5)
        .map(|i| timed(&format!("f-{i}"), "x", (i, "bank"), (i, "bank")))
        .collect();
    // A tie with f-3 on the later event time: ordered by id after it.
    let tie = timed("f-3b", "x", (3, "bank"), (1, "bank"));
    all.push(tie.clone());
    store.upsert_findings(&all).await.expect("upsert");
    let expected = ["f-4", "f-3", "f-3b", "f-2", "f-1", "f-0"];
    let mut seen = Vec::new();
    for offset in [0, 2, 4] {
        let page = list(
            store,
            FindingQuery {
                limit: 2,
                offset,
                ..FindingQuery::default()
            },
        )
        .await;
        assert_eq!(page.total, 6);
        seen.extend(page.findings);
    }
    let seen_ids: Vec<&str> = seen.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(seen_ids, expected);
    assert_eq!(seen[2], tie, "every field round-trips");
    // Past the end, and an empty page: no findings, the same total.
    for (limit, offset) in [(FindingQuery::DEFAULT_LIMIT, 10), (0, 0)] {
        let empty = list(
            store,
            FindingQuery {
                limit,
                offset,
                ..FindingQuery::default()
            },
        )
        .await;
        assert!(empty.findings.is_empty(), "limit {limit}, offset {offset}");
        assert_eq!(empty.total, 6);
    }
}

/// Filters and counts look at the newest version of each finding only, and replays of older
/// versions change nothing.
pub async fn list_findings_see_only_the_newest_version(store: &dyn Store) {
    let old = timed("f-1", "x", (0, "bank"), (1, "bank"));
    let mut new = old.clone();
    new.detected_at_ns = 2;
    new.severity = Severity::Warning;
    new.count = 4;
    new.second.service = "ledger".into();
    let other = timed("f-2", "x", (2, "bank"), (3, "bank"));
    store
        .upsert_findings(&[old.clone(), other.clone()])
        .await
        .expect("v1");
    store
        .upsert_findings(std::slice::from_ref(&new))
        .await
        .expect("v2");
    store
        .upsert_findings(std::slice::from_ref(&old))
        .await
        .expect("replay v1");
    let all = list(store, FindingQuery::default()).await;
    assert_eq!(all.findings, vec![other.clone(), new.clone()]);
    assert_eq!(all.total, 2);
    let critical = list(
        store,
        FindingQuery {
            severity: Some(Severity::Critical),
            ..FindingQuery::default()
        },
    )
    .await;
    assert_eq!(critical.findings, vec![other]);
    assert_eq!(critical.total, 1);
    let ledger = list(
        store,
        FindingQuery {
            service: Some("ledger".into()),
            ..FindingQuery::default()
        },
    )
    .await;
    assert_eq!(ledger.findings, vec![new]);
    assert_eq!(ledger.total, 1);
}

/// The newest version of each finding on the variable, in the environment when given, ordered by
/// severity desc then id.
pub async fn findings_for_variable_newest_versions(store: &dyn Store) {
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let mut warn = finding("f-a", a, b, "account:alice.balance", 1);
    warn.severity = Severity::Warning;
    let crit = finding("f-b", a, a, "account:alice.balance", 1);
    let mut prod = finding("f-c", b, b, "account:alice.balance", 1);
    prod.environment = "prod".into();
    let elsewhere = finding("f-d", a, b, "account:alice.balance.history", 1);
    let mut newer = crit.clone();
    newer.detected_at_ns = 9;
    newer.count = 2;
    store
        .upsert_findings(&[warn.clone(), crit, prod.clone(), elsewhere])
        .await
        .expect("upsert");
    store
        .upsert_findings(std::slice::from_ref(&newer))
        .await
        .expect("newer");
    let read = |env: Option<&'static str>, variable: &'static str| async move {
        store
            .findings_for_variable(env, variable)
            .await
            .expect("findings_for_variable")
    };
    assert_eq!(
        read(None, "account:alice.balance").await,
        vec![newer.clone(), prod.clone(), warn.clone()]
    );
    assert_eq!(
        read(Some("test"), "account:alice.balance").await,
        vec![newer, warn]
    );
    assert_eq!(
        read(Some("prod"), "account:alice.balance").await,
        vec![prod]
    );
    assert!(read(None, "account:alice").await.is_empty());
}

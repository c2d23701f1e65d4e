//! Checks of the service reads: per-service counts over a window, one row per trace of a
//! service, and the hotspots, each confined to a set of environments.

use raceway_schemas::ErrorEvent;

use super::*;
use crate::conformance::analyses::{analysis, anomaly};
use crate::{
    Hotspots, LocationHotspot, ServiceCounts, ServiceTraceRow, ServiceTracesQuery, ServiceWindow,
    VariableHotspot,
};

const MS: i64 = 1_000_000;

/// The stored traces of the service checks: `first` (`api` at 0, 10 ms (an `Error`) and 20 ms,
/// `db` at 5 ms; an anomaly of each service), `second` (`api` at 100 s and 100 s + 30 ms) and
/// `other` (`api` at 50 ms, in environment `other`).
struct Fixture {
    first: Uuid,
    second: Uuid,
    other: Uuid,
}

fn in_environment(mut event: Event, environment: &str) -> Event {
    event.metadata.environment = environment.into();
    event
}

fn error(trace: Uuid, offset_ns: i64, service: &str) -> Event {
    Event {
        kind: EventKind::Error(ErrorEvent {
            error_type: "Timeout".into(),
            message: "upstream timed out".into(),
            stack_trace: Vec::new(),
        }),
        ..event(trace, offset_ns, service)
    }
}

/// A finding `id` of `kind` on `variable`, its sides at (service, location).
fn sided(
    id: &str,
    fixture: &Fixture,
    kind: FindingKind,
    variable: &str,
    first: (&str, &str),
    second: (&str, &str),
) -> RaceFinding {
    let mut finding = finding(
        id,
        fixture.first,
        fixture.second,
        variable,
        BASE_NS + SECOND,
    );
    finding.kind = kind;
    (finding.first.service, finding.first.location) = (first.0.into(), first.1.into());
    (finding.second.service, finding.second.location) = (second.0.into(), second.1.into());
    finding
}

async fn store_fixture(store: &dyn Store) -> Fixture {
    let fixture = Fixture {
        first: Uuid::new_v4(),
        second: Uuid::new_v4(),
        other: Uuid::new_v4(),
    };
    let events = vec![
        event(fixture.first, 0, "api"),
        event(fixture.first, 5 * MS, "db"),
        error(fixture.first, 10 * MS, "api"),
        event(fixture.first, 20 * MS, "api"),
        event(fixture.second, 100 * SECOND, "api"),
        event(fixture.second, 100 * SECOND + 30 * MS, "api"),
        in_environment(event(fixture.other, 50 * MS, "api"), "other"),
    ];
    // Twice: a replayed batch counts once.
    store.insert_events(&events).await.expect("insert events");
    store.insert_events(&events).await.expect("insert events");
    let (api, db) = (("api", "api.rs:1"), ("db", "db.rs:2"));
    let mut retracted = sided("f-gone", &fixture, FindingKind::DataRace, "gone", api, db);
    retracted.count = 0;
    let findings = [
        sided("f-race", &fixture, FindingKind::DataRace, "alice", api, db),
        sided(
            "f-lost",
            &fixture,
            FindingKind::LostUpdate,
            "alice",
            api,
            api,
        ),
        sided(
            "f-cache",
            &fixture,
            FindingKind::DataRace,
            "cache",
            ("api", "cache.rs:3"),
            api,
        ),
        retracted,
    ];
    store
        .upsert_findings(&findings)
        .await
        .expect("upsert findings");
    store
        .upsert_findings(&findings)
        .await
        .expect("upsert findings");
    let mut analysed = analysis(fixture.first, 0);
    let mut slow_api = anomaly(fixture.first, "api", 4.0, BASE_NS);
    slow_api.location = "api.rs:1".into();
    let mut slow_db = anomaly(fixture.first, "db", 6.0, BASE_NS);
    slow_db.location = "db.rs:9".into();
    analysed.anomalies = vec![slow_api, slow_db];
    store
        .replace_trace_analysis(&analysed)
        .await
        .expect("store analysis");
    fixture
}

fn counts(service: &str, traces: u64, events: u64, races: u64, anomalies: u64) -> ServiceCounts {
    ServiceCounts {
        service: service.into(),
        trace_count: traces,
        event_count: events,
        race_count: races,
        anomaly_count: anomalies,
    }
}

/// The window `time` in the environments `names` (every one when empty).
fn window(time: TimeRange, names: &[&str]) -> ServiceWindow {
    ServiceWindow {
        time,
        environments: names.iter().map(|n| n.to_string()).collect(),
    }
}

/// Distinct traces, events, findings (either side, newest version, not retracted) and
/// anomalies per service; the window bounds events by their time, findings by their span,
/// anomalies by their trace's start; environments confine every count.
pub async fn service_counts_per_window_and_environment(store: &dyn Store) {
    store_fixture(store).await;
    let first_second = TimeRange::new(Some(BASE_NS), Some(BASE_NS + SECOND));
    let later = TimeRange::new(Some(BASE_NS + 2 * SECOND), None);
    // (window, expected rows): every service, sorted by name.
    let cases = [
        (
            window(TimeRange::ALL, &[]),
            vec![counts("api", 3, 6, 3, 1), counts("db", 1, 1, 1, 1)],
        ),
        (
            window(first_second, &[]),
            vec![counts("api", 2, 4, 3, 1), counts("db", 1, 1, 1, 1)],
        ),
        (
            window(first_second, &["test"]),
            vec![counts("api", 1, 3, 3, 1), counts("db", 1, 1, 1, 1)],
        ),
        // No findings or anomalies there.
        (
            window(TimeRange::ALL, &["other"]),
            vec![counts("api", 1, 1, 0, 0)],
        ),
        (window(later, &[]), vec![counts("api", 1, 2, 0, 0)]),
    ];
    for (window, expected) in cases {
        let rows = store.service_counts(&window).await.expect("service counts");
        assert_eq!(rows, expected, "{window:?}");
    }
}

fn trace_row(
    trace: Uuid,
    (first, last): (i64, i64),
    events: u64,
    errors: u64,
    anomalies: u64,
) -> ServiceTraceRow {
    ServiceTraceRow {
        trace_id: trace,
        first_ns: BASE_NS + first,
        last_ns: BASE_NS + last,
        event_count: events,
        error_count: errors,
        anomaly_count: anomalies,
    }
}

/// One row per trace of the service over its events in the window (its first and last,
/// distinct events, `Error` events, its anomalies), newest first, the first `limit`.
pub async fn service_traces_one_row_per_trace(store: &dyn Store) {
    let f = store_fixture(store).await;
    let second = trace_row(f.second, (100 * SECOND, 100 * SECOND + 30 * MS), 2, 0, 0);
    let other = trace_row(f.other, (50 * MS, 50 * MS), 1, 0, 0);
    let first = trace_row(f.first, (0, 20 * MS), 3, 1, 1);
    let clipped = TimeRange::new(Some(BASE_NS + 5 * MS), Some(BASE_NS + SECOND));
    let first_clipped = trace_row(f.first, (10 * MS, 20 * MS), 2, 1, 1);
    let db_first = trace_row(f.first, (5 * MS, 5 * MS), 1, 0, 1);
    // (service, window, limit, expected rows)
    let cases = [
        (
            "api",
            window(TimeRange::ALL, &[]),
            10,
            vec![second.clone(), other.clone(), first.clone()],
        ),
        ("api", window(TimeRange::ALL, &[]), 1, vec![second.clone()]),
        ("api", window(clipped, &[]), 10, vec![other, first_clipped]),
        (
            "api",
            window(TimeRange::ALL, &["test"]),
            10,
            vec![second, first],
        ),
        ("db", window(TimeRange::ALL, &[]), 10, vec![db_first]),
        ("nobody", window(TimeRange::ALL, &[]), 10, vec![]),
    ];
    for (service, window, limit, expected) in cases {
        let query = ServiceTracesQuery {
            service: service.into(),
            window: window.clone(),
            limit,
        };
        let rows = store.service_traces(&query).await.expect("service traces");
        assert_eq!(rows, expected, "{service} in {window:?}, limit {limit}");
    }
}

fn variable(name: &str, races: u64, lost: u64) -> VariableHotspot {
    VariableHotspot {
        environment: "test".into(),
        variable: name.into(),
        findings: races + lost,
        data_races: races,
        lost_updates: lost,
        lock_order_inversions: 0,
    }
}

fn location(service: &str, at: &str, findings: u64, anomalies: u64) -> LocationHotspot {
    LocationHotspot {
        service: service.into(),
        location: at.into(),
        findings,
        anomalies,
        total: findings + anomalies,
    }
}

/// Variables by distinct findings (per kind), locations by distinct findings with an event
/// there plus anomalies there; most first, ties by name; retracted findings left out.
pub async fn hotspots_rank_variables_and_locations(store: &dyn Store) {
    store_fixture(store).await;
    let all = store
        .hotspots(&window(TimeRange::ALL, &[]), 10)
        .await
        .expect("hotspots");
    assert_eq!(
        all,
        Hotspots {
            variables: vec![variable("alice", 1, 1), variable("cache", 1, 0)],
            locations: vec![
                location("api", "api.rs:1", 3, 1),
                location("api", "cache.rs:3", 1, 0),
                location("db", "db.rs:2", 1, 0),
                location("db", "db.rs:9", 0, 1),
            ],
        }
    );
    let top = store
        .hotspots(&window(TimeRange::ALL, &[]), 1)
        .await
        .expect("hotspots");
    assert_eq!(top.variables, [variable("alice", 1, 1)]);
    assert_eq!(top.locations, [location("api", "api.rs:1", 3, 1)]);
    let other = store
        .hotspots(&window(TimeRange::ALL, &["other"]), 10)
        .await
        .expect("hotspots");
    assert_eq!(other, Hotspots::default());
    let later = TimeRange::new(Some(BASE_NS + 2 * SECOND), None);
    let later = store
        .hotspots(&window(later, &[]), 10)
        .await
        .expect("hotspots");
    assert_eq!(later, Hotspots::default());
}

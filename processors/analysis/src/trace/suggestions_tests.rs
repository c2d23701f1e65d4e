use raceway_schemas::{AccessType, DatabaseQuery, EventKind, HttpRequest};

use super::*;
use crate::testing::access_kind;
use crate::trace::fixtures::{at, call, id, lasting, request, with_parent};
use crate::trace::{critical_path, trace_tree};

fn hints(events: &[Event]) -> Vec<Suggestion> {
    let tree = trace_tree(events);
    suggestions(events, &tree, &critical_path(&tree))
}

/// A state change of `variable` by event `n` on thread `main` at `ms`.
fn touch(n: u128, ms: i64, variable: &str, access: AccessType) -> Event {
    at(n, "main", ms, access_kind(variable, "a.rs:1", access))
}

fn post(url: &str) -> EventKind {
    EventKind::HttpRequest(HttpRequest {
        method: "POST".into(),
        url: url.into(),
        ..HttpRequest::default()
    })
}

fn query(sql: &str) -> EventKind {
    EventKind::DatabaseQuery(DatabaseQuery {
        query: sql.into(),
        database: "main".into(),
        duration_ms: 0,
    })
}

#[test]
fn independent_sequential_calls_of_100_and_50_ms_save_50() {
    let events = vec![
        lasting(at(1, "main", 0, call("handler")), 150),
        lasting(with_parent(at(2, "main", 0, post("http://users")), 1), 100),
        lasting(
            with_parent(at(3, "main", 100, post("http://prices")), 1),
            50,
        ),
    ];
    let found = hints(&events);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].kind, SuggestionKind::Parallelize);
    assert_eq!(found[0].event_ids, vec![id(2), id(3)]);
    assert_eq!(found[0].saves_ms, 50.0);
}

#[test]
fn a_call_reading_what_the_previous_one_wrote_is_not_parallelized() {
    let events = vec![
        lasting(at(1, "main", 0, call("handler")), 150),
        lasting(with_parent(at(2, "main", 0, post("http://users")), 1), 100),
        with_parent(touch(4, 50, "user", AccessType::Write), 2),
        lasting(
            with_parent(at(3, "main", 100, post("http://prices")), 1),
            50,
        ),
        with_parent(touch(5, 120, "user", AccessType::Read), 3),
    ];
    assert!(hints(&events)
        .iter()
        .all(|h| h.kind != SuggestionKind::Parallelize));
}

#[test]
fn three_identical_queries_save_two_of_them() {
    let events = vec![
        lasting(at(1, "main", 0, call("handler")), 40),
        lasting(
            with_parent(at(2, "db", 0, query("SELECT * FROM users WHERE id = 1")), 1),
            10,
        ),
        lasting(
            with_parent(
                at(3, "db", 10, query("SELECT * FROM users WHERE id = 1")),
                1,
            ),
            12,
        ),
        lasting(
            with_parent(
                at(4, "db", 22, query("SELECT * FROM users WHERE id = 1")),
                1,
            ),
            8,
        ),
        lasting(with_parent(at(5, "main", 30, request("http://x/a")), 1), 5),
    ];
    let found = hints(&events);
    let cache: Vec<&Suggestion> = found
        .iter()
        .filter(|h| h.kind == SuggestionKind::Cache)
        .collect();
    assert_eq!(cache.len(), 1, "{cache:#?}");
    assert_eq!(cache[0].event_ids, vec![id(2), id(3), id(4)]);
    assert_eq!(cache[0].saves_ms, 20.0);
    assert!(cache[0].description.contains("ran 3 times"));
}

#[test]
fn a_long_write_nothing_reads_later_can_be_async_and_one_read_later_cannot() {
    // The audit write (60 of 100 ms) writes `audit_log`; nothing reads it afterwards.
    let events = |read_back: bool| {
        let mut events = vec![
            lasting(at(1, "main", 0, call("handler")), 100),
            lasting(with_parent(at(2, "main", 0, call("compute")), 1), 40),
            lasting(with_parent(at(3, "main", 40, call("audit")), 1), 60),
            with_parent(touch(4, 41, "audit_log", AccessType::Write), 3),
        ];
        if read_back {
            events.push(touch(5, 100, "audit_log", AccessType::Read));
        }
        events
    };
    let found = hints(&events(false));
    let asynchronous: Vec<&Suggestion> = found
        .iter()
        .filter(|h| h.kind == SuggestionKind::MakeAsync)
        .collect();
    assert_eq!(asynchronous.len(), 1, "{found:#?}");
    assert_eq!(asynchronous[0].event_ids, vec![id(3)]);
    assert_eq!(asynchronous[0].saves_ms, 60.0);
    assert!(asynchronous[0].description.contains("audit_log"));
    assert!(hints(&events(true))
        .iter()
        .all(|h| h.kind != SuggestionKind::MakeAsync));
}

#[test]
fn a_deep_chain_is_judged_by_its_outermost_step_and_a_later_read_of_any_written_variable() {
    // 5,000 steps, each the parent of the next; the last two write `cache` and `audit`.
    let chain = |read_back: Option<&str>| {
        let mut events = crate::trace::fixtures::chain(5_000);
        events.push(with_parent(
            touch(5_001, 5_001, "cache", AccessType::Write),
            5_000,
        ));
        events.push(with_parent(
            touch(5_002, 5_002, "audit", AccessType::Write),
            5_001,
        ));
        if let Some(variable) = read_back {
            events.push(with_parent(
                touch(5_003, 5_003, variable, AccessType::Read),
                5_002,
            ));
        }
        events
    };
    let found = hints(&chain(None));
    let asynchronous: Vec<&Suggestion> = found
        .iter()
        .filter(|h| h.kind == SuggestionKind::MakeAsync)
        .collect();
    assert_eq!(asynchronous.len(), 1, "{asynchronous:#?}");
    assert_eq!(asynchronous[0].event_ids, vec![id(2)]);
    assert!(asynchronous[0].description.contains("(audit, cache)"));
    // A read of either written variable after the writes: nothing can be made asynchronous
    // (the read itself is inside every candidate's subtree, so no step ends before it).
    for variable in ["cache", "audit"] {
        let found = hints(&chain(Some(variable)));
        assert!(
            found.iter().all(|h| h.kind != SuggestionKind::MakeAsync),
            "{variable}: {found:#?}"
        );
    }
}

//! Runs the conformance suite against both backends, one test per (backend, check), each on a
//! fresh store.
//!
//! ClickHouse tests use the server at `RACEWAY_TEST_CLICKHOUSE` (default
//! `http://127.0.0.1:8123`) with a new database per test, dropped afterwards. They fail, never
//! skip, when the server is unreachable.

use std::sync::Arc;

use raceway_schemas::Event;
use uuid::Uuid;

use crate::conformance::CHECKS;
use crate::{ClickHouseStore, EventStore, Lifecycle, SqliteStore};

fn check(name: &str) -> crate::conformance::Check {
    CHECKS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| *c)
        .unwrap_or_else(|| panic!("no conformance check {name}"))
}

async fn run_sqlite(name: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("store.db")).expect("open sqlite");
    store.migrate().await.expect("migrate sqlite");
    check(name)(&store).await;
}

fn clickhouse_url() -> String {
    std::env::var("RACEWAY_TEST_CLICKHOUSE").unwrap_or_else(|_| "http://127.0.0.1:8123".into())
}

async fn run_clickhouse(name: &'static str) {
    let url = clickhouse_url();
    let database = format!("raceway_test_{}", Uuid::new_v4().simple());
    let store = match ClickHouseStore::connect(&url, &database).await {
        Ok(store) => Arc::new(store),
        Err(e) => panic!(
            "{e}\nThe ClickHouse conformance tests need a server: run `deploy/services.sh up` \
             (or set RACEWAY_TEST_CLICKHOUSE to a ClickHouse HTTP URL)."
        ),
    };
    store.migrate().await.expect("migrate clickhouse");
    // Run the check in its own task so the database is dropped even when it panics.
    let task_store = Arc::clone(&store);
    let outcome = tokio::spawn(async move { check(name)(&*task_store).await }).await;
    if let Err(e) = store.drop_database().await {
        eprintln!("could not drop test database {database}: {e}");
    }
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::run_sqlite(stringify!($name)).await;
                }
            )*
        }
        mod clickhouse {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::run_clickhouse(stringify!($name)).await;
                }
            )*
        }
    };
}

crate::conformance::with_check_names!(conformance);

#[tokio::test]
async fn clickhouse_unreachable_is_a_clear_error() {
    let err = ClickHouseStore::connect("http://127.0.0.1:1", "raceway_x")
        .await
        .expect_err("nothing listens on port 1");
    assert!(err.is_transient(), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with("ClickHouse at http://127.0.0.1:1 is unreachable: "),
        "{message}"
    );
}

/// Settings in the URL's query string reach the server with every query: a known one works, an
/// unknown one is the server's error, named.
#[tokio::test]
async fn clickhouse_sends_the_settings_of_its_url() {
    let database = format!("raceway_test_{}", Uuid::new_v4().simple());
    let base = clickhouse_url();
    let store = ClickHouseStore::connect(&format!("{base}/?max_threads=1"), &database)
        .await
        .expect("a known setting");
    store.ping().await.expect("ping");
    store.drop_database().await.expect("drop");
    let err = ClickHouseStore::connect(&format!("{base}/?raceway_no_such_setting=1"), &database)
        .await
        .expect_err("an unknown setting");
    assert!(err.to_string().contains("raceway_no_such_setting"), "{err}");
}

#[tokio::test]
async fn clickhouse_rejects_bad_arguments() {
    for (url, db) in [
        ("127.0.0.1:8123", "ok"),
        ("http://x", "bad-name"),
        ("http://x", "1x"),
    ] {
        let err = ClickHouseStore::connect(url, db)
            .await
            .expect_err("invalid");
        assert!(
            matches!(err, crate::StoreError::InvalidArgument(_)),
            "{err}"
        );
    }
}

/// A store on a new, empty database of the test server (not migrated).
async fn unmigrated_clickhouse() -> ClickHouseStore {
    let database = format!("raceway_test_{}", Uuid::new_v4().simple());
    ClickHouseStore::connect(&clickhouse_url(), &database)
        .await
        .unwrap_or_else(|e| panic!("{e}\nrun `deploy/services.sh up`"))
}

#[tokio::test]
async fn clickhouse_records_migrations_once() {
    let store = unmigrated_clickhouse().await;
    store.migrate().await.expect("migrate");
    store.migrate().await.expect("migrate again");
    // A crash between adding columns and recording it: the server's answer to adding them
    // again is recognised as already applied.
    let add_columns = crate::migrations::CLICKHOUSE
        .iter()
        .flat_map(|m| m.statements())
        .filter(|s| s.contains("ADD COLUMN"));
    for statement in add_columns {
        let again = store.client_for_tests().query(&statement).execute().await;
        let message = again.expect_err("the columns exist").to_string();
        assert!(
            crate::migrations::is_applied_add_column(&statement, &message),
            "{message}"
        );
    }
    let versions: Vec<u32> = store
        .client_for_tests()
        .query("SELECT version FROM schema_migrations FINAL ORDER BY version")
        .fetch_all()
        .await
        .expect("read versions");
    store.drop_database().await.expect("drop");
    let expected: Vec<u32> = crate::migrations::CLICKHOUSE
        .iter()
        .map(|m| m.version)
        .collect();
    assert_eq!(versions, expected);
}

/// A store on a new database migrated to the versions before `before` only, as an earlier
/// release left it.
async fn clickhouse_migrated_before(before: u32) -> ClickHouseStore {
    let store = unmigrated_clickhouse().await;
    let client = store.client_for_tests();
    client
        .query("CREATE TABLE schema_migrations (version UInt32, name String) ENGINE = Log")
        .execute()
        .await
        .expect("schema_migrations");
    for migration in crate::migrations::CLICKHOUSE
        .iter()
        .filter(|m| m.version < before)
    {
        for statement in migration.statements() {
            client
                .query(&statement)
                .execute()
                .await
                .expect("old migration");
        }
        client
            .query("INSERT INTO schema_migrations (version, name) VALUES (?, ?)")
            .bind(migration.version)
            .bind(migration.name)
            .execute()
            .await
            .expect("record");
    }
    store
}

/// Two events of trace `a` (services bank, api) and one of `b` (ledger), in time order.
fn two_traces(a: Uuid, b: Uuid) -> [Event; 3] {
    let event = crate::conformance::event;
    [
        event(a, 0, "bank"),
        event(a, 10, "api"),
        event(b, 20, "ledger"),
    ]
}

/// Stores `events` as writers before migration 0008 did, then replays the first of them.
async fn stored_and_replayed_before_0008(store: &ClickHouseStore, events: &[Event]) {
    store
        .insert_events_before_0008(events)
        .await
        .expect("insert");
    store
        .insert_events_before_0008(&events[..1])
        .await
        .expect("replay");
}

/// A database written before trace summaries and `events_by_trace` existed gets them when it
/// migrates: the list, the stored-event counts and one trace's events read the backfilled rows.
#[tokio::test]
async fn clickhouse_migration_summarises_traces_stored_before_it() {
    let store = clickhouse_migrated_before(6).await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let events = two_traces(a, b);
    stored_and_replayed_before_0008(&store, &events).await;
    store.migrate().await.expect("migrate");
    let listed = store.list_traces(&Default::default()).await.expect("list");
    let counts = store.traces_event_counts(&[a, b]).await.expect("counts");
    let trace_a = store.trace_events(a).await.expect("trace a");
    store.drop_database().await.expect("drop");
    let ids = |events: &[Event]| events.iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(ids(&trace_a), ids(&events[..2]));
    let summaries: Vec<(Uuid, u64, Vec<String>)> = listed
        .traces
        .into_iter()
        .map(|t| (t.trace_id, t.event_count, t.services))
        .collect();
    let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        summaries,
        vec![(b, 1, names(&["ledger"])), (a, 2, names(&["api", "bank"]))]
    );
    assert_eq!(counts, [(a, 2), (b, 1)].into_iter().collect());
}

/// The number of `events` rows with and without a payload (distinct ids).
async fn clickhouse_payloads_in_events(store: &ClickHouseStore) -> (u64, u64) {
    store
        .client_for_tests()
        .query(
            "SELECT toUInt64(uniqExactIf(id, payload != '')), toUInt64(uniqExactIf(id, payload = '')) \
             FROM events",
        )
        .fetch_one::<(u64, u64)>()
        .await
        .expect("count payloads")
}

/// Each listed trace with its event count, in the list's order.
fn listed_counts(listed: crate::TracePage) -> Vec<(Uuid, u64)> {
    listed
        .traces
        .into_iter()
        .map(|t| (t.trace_id, t.event_count))
        .collect()
}

/// An event's payload is stored once, in `events_by_trace`: `events` keeps the other columns
/// with an empty payload, `events_in` keeps nothing, and every read sees the whole event.
#[tokio::test]
async fn clickhouse_stores_each_payload_once() {
    let store = unmigrated_clickhouse().await;
    store.migrate().await.expect("migrate");
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let events = two_traces(a, b);
    store.insert_events(&events).await.expect("insert");
    let payloads = clickhouse_payloads_in_events(&store).await;
    let kept_in_entry: u64 = store
        .client_for_tests()
        .query("SELECT toUInt64(count()) FROM events_in")
        .fetch_one()
        .await
        .expect("count events_in");
    let trace_a = store.trace_events(a).await.expect("trace a");
    let counts = store.traces_event_counts(&[a, b]).await.expect("counts");
    let listed = store.list_traces(&Default::default()).await.expect("list");
    store.drop_database().await.expect("drop");
    assert_eq!(payloads, (0, 3));
    assert_eq!(kept_in_entry, 0);
    assert_eq!(trace_a, events[..2].to_vec());
    assert_eq!(counts, [(a, 2), (b, 1)].into_iter().collect());
    assert_eq!(listed.traces.len(), 2);
}

/// Events stored before the payload was stored once (their payload in `events` too) read as
/// before after the migration, beside events written after it, in one trace and in others.
#[tokio::test]
async fn clickhouse_events_stored_with_two_payloads_still_read() {
    let store = clickhouse_migrated_before(8).await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let event = crate::conformance::event;
    let old = [event(a, 0, "bank"), event(a, 10, "api")];
    stored_and_replayed_before_0008(&store, &old).await;
    store.migrate().await.expect("migrate");
    let new = [event(a, 20, "api"), event(b, 30, "ledger")];
    store.insert_events(&new).await.expect("new insert");
    store.insert_events(&old[..1]).await.expect("replay after");
    let payloads = clickhouse_payloads_in_events(&store).await;
    let trace_a = store.trace_events(a).await.expect("trace a");
    let trace_b = store.trace_events(b).await.expect("trace b");
    let both = store.traces_events(&[a, b]).await.expect("both");
    let counts = store.traces_event_counts(&[a, b]).await.expect("counts");
    let listed = store.list_traces(&Default::default()).await.expect("list");
    store.drop_database().await.expect("drop");
    let ids = |events: &[Event]| events.iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(payloads, (2, 3));
    assert_eq!(
        trace_a,
        vec![old[0].clone(), old[1].clone(), new[0].clone()]
    );
    assert_eq!(trace_b, new[1..].to_vec());
    let mut expected = ids(&trace_a);
    expected.extend(ids(&trace_b));
    let mut read = ids(&both);
    read.sort();
    expected.sort();
    assert_eq!(read, expected);
    assert_eq!(counts, [(a, 3), (b, 1)].into_iter().collect());
    assert_eq!(listed_counts(listed), vec![(b, 1), (a, 3)]);
}

/// A writer of the previous version, still inserting into `events` during a rolling upgrade
/// after another process migrated the schema, stores events every read finds and every
/// summary counts, beside a new writer's events of the same trace, none twice.
#[tokio::test]
async fn clickhouse_writer_of_the_previous_version_still_stores_after_the_migration() {
    let store = unmigrated_clickhouse().await;
    store.migrate().await.expect("migrate");
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let event = crate::conformance::event;
    let old_writer = [event(a, 0, "bank"), event(b, 10, "ledger")];
    let new_writer = [event(a, 20, "api")];
    stored_and_replayed_before_0008(&store, &old_writer).await;
    store.insert_events(&new_writer).await.expect("new insert");
    let payloads = clickhouse_payloads_in_events(&store).await;
    let trace_a = store.trace_events(a).await.expect("trace a");
    let counts = store.traces_event_counts(&[a, b]).await.expect("counts");
    let listed = store.list_traces(&Default::default()).await.expect("list");
    store.drop_database().await.expect("drop");
    assert_eq!(payloads, (2, 1));
    assert_eq!(trace_a, vec![old_writer[0].clone(), new_writer[0].clone()]);
    assert_eq!(counts, [(a, 2), (b, 1)].into_iter().collect());
    assert_eq!(listed_counts(listed), vec![(b, 1), (a, 2)]);
}

/// With LZ4 bodies, as with a server on another machine (the test server is on loopback, where
/// bodies go uncompressed), events inserted read back whole, singly and in a list.
#[tokio::test]
async fn clickhouse_lz4_bodies_round_trip() {
    let mut store = unmigrated_clickhouse().await;
    store.client = store
        .client
        .clone()
        .with_compression(::clickhouse::Compression::Lz4);
    store.migrate().await.expect("migrate");
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let events = two_traces(a, b);
    store.insert_events(&events).await.expect("insert");
    let trace_a = store.trace_events(a).await.expect("trace a");
    let listed = store.list_traces(&Default::default()).await.expect("list");
    store.drop_database().await.expect("drop");
    assert_eq!(trace_a, events[..2].to_vec());
    assert_eq!(listed.traces.len(), 2);
}

#[tokio::test]
async fn sqlite_persists_across_reopen_in_wal_mode() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.db");
    let trace = Uuid::new_v4();
    let event = crate::conformance::event(trace, 0, "bank");
    {
        let store = SqliteStore::open(&path).expect("open");
        store.migrate().await.expect("migrate");
        store
            .insert_events(std::slice::from_ref(&event))
            .await
            .expect("insert");
    }
    let store = SqliteStore::open(&path).expect("reopen");
    store.migrate().await.expect("migrate again");
    assert_eq!(store.trace_events(trace).await.expect("read"), vec![event]);
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "wal");
    let versions: i64 = conn
        .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
        .expect("versions");
    assert_eq!(versions as usize, crate::migrations::SQLITE.len());
}

/// A migrated store in the file `store.db` of a fresh folder (removed when the first is dropped).
async fn migrated_sqlite_file() -> (tempfile::TempDir, std::path::PathBuf, SqliteStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.db");
    let store = SqliteStore::open(&path).expect("open");
    store.migrate().await.expect("migrate");
    (dir, path, store)
}

/// The race list's page reads findings in the order of `findings_newest_first`, without
/// sorting them all: the index's expression must stay the list's ORDER BY.
#[tokio::test]
async fn sqlite_race_list_reads_its_order_from_an_index() {
    let (_dir, path, _store) = migrated_sqlite_file().await;
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    let sql = crate::sqlite::findings::list_sql("occurrences > 0");
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql} LIMIT 50 OFFSET 100"))
        .expect("plan");
    let plan: Vec<String> = stmt
        .query_map([], |row| row.get::<_, String>(3))
        .expect("plan rows")
        .collect::<Result<_, _>>()
        .expect("plan text");
    assert_eq!(
        plan,
        vec!["SCAN findings USING INDEX findings_newest_first".to_string()]
    );
}

#[tokio::test]
async fn sqlite_in_memory_works() {
    let store = SqliteStore::open_in_memory().expect("open");
    store.migrate().await.expect("migrate");
    store.ping().await.expect("ping");
}

/// The store's writes are checkpointed into the database file off the writer, and a store with
/// no writes for a while keeps no WAL on disk: the file alone holds them.
#[tokio::test]
async fn sqlite_quiet_store_checkpoints_and_empties_its_wal() {
    let (dir, path, store) = migrated_sqlite_file().await;
    let trace = Uuid::new_v4();
    let events: Vec<Event> = (0..50)
        .map(|i| crate::conformance::event(trace, i, "bank"))
        .collect();
    store.insert_events(&events).await.expect("insert");
    let wal = dir.path().join("store.db-wal");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::metadata(&wal).map_or(1, |m| m.len()) > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the WAL was not emptied"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The database file alone, without its WAL, holds every event.
    let copy = dir.path().join("copy.db");
    std::fs::copy(&path, &copy).expect("copy the file");
    let conn = rusqlite::Connection::open(&copy).expect("open the copy");
    let stored: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM events WHERE trace_id = ?1",
            [trace.to_string()],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(stored, 50);
    drop(store);
}

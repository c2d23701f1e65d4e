//! The embedded (SQLite-log) bus: produce, consume, commit, resume, wake-up, durability.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use raceway_bus::Topics;
use raceway_bus::{partition_for, Bus, BusConsumer, BusError, ConsumedRecord, EmbeddedBus, Record};

use common::subscribe;

const PARTS: i32 = 4;

async fn open_with_topics(path: &Path) -> (EmbeddedBus, Topics) {
    let bus = EmbeddedBus::open(path, PARTS).expect("open embedded bus");
    let topics = Topics::with_prefix("");
    bus.create_topics(&topics.all(), 0)
        .await
        .expect("create topics");
    (bus, topics)
}

/// Polls until `n` records arrived (or fails after 10 s).
async fn poll_n(consumer: &mut dyn BusConsumer, n: usize) -> Vec<ConsumedRecord> {
    common::poll_n(consumer, n, Duration::from_secs(10)).await
}

/// Next offsets to commit for everything in `records`.
fn next_offsets(records: &[ConsumedRecord]) -> Vec<(String, i32, i64)> {
    let mut next: HashMap<(String, i32), i64> = HashMap::new();
    for r in records {
        let e = next.entry((r.topic.clone(), r.partition)).or_insert(0);
        *e = (*e).max(r.offset + 1);
    }
    next.into_iter().map(|((t, p), o)| (t, p, o)).collect()
}

fn records(prefix: &str, n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| Record::new(format!("{prefix}-key-{}", i % 7), format!("{prefix}-{i}")))
        .collect()
}

#[tokio::test]
async fn produce_consume_commit_and_resume_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bus.db");
    {
        let (bus, topics) = open_with_topics(&path).await;
        bus.produce(&topics.events, records("a", 30)).await.unwrap();
        let mut consumer = subscribe(&bus, "trace", &topics.events).await;
        let first = poll_n(consumer.as_mut(), 30).await;
        let mut values: Vec<_> = first.iter().map(|r| r.value.clone()).collect();
        values.sort();
        let mut expected: Vec<_> = (0..30).map(|i| format!("a-{i}").into_bytes()).collect();
        expected.sort();
        assert_eq!(values, expected);
        consumer.commit(&next_offsets(&first)).await.unwrap();
        // Produced after the commit: must be re-delivered after a restart.
        bus.produce(&topics.events, records("b", 10)).await.unwrap();
        let _uncommitted = poll_n(consumer.as_mut(), 10).await;
    }
    let (bus, topics) = open_with_topics(&path).await;
    let mut consumer = subscribe(&bus, "trace", &topics.events).await;
    let again = poll_n(consumer.as_mut(), 10).await;
    assert!(again
        .iter()
        .all(|r| String::from_utf8_lossy(&r.value).starts_with("b-")));
    let nothing = consumer
        .poll(100, Duration::from_millis(200))
        .await
        .unwrap();
    assert!(
        nothing.is_empty(),
        "re-delivered beyond the uncommitted: {nothing:?}"
    );
}

#[tokio::test]
async fn key_goes_to_partition_for_and_offsets_are_contiguous_and_ordered() {
    let dir = tempfile::tempdir().unwrap();
    let (bus, topics) = open_with_topics(&dir.path().join("bus.db")).await;
    // Several produce calls, several keys.
    for batch in 0..5 {
        let recs = (0..40)
            .map(|i| Record::new(format!("trace-{}", i % 9), format!("{batch}:{i:03}")))
            .collect();
        bus.produce(&topics.accesses, recs).await.unwrap();
    }
    let mut consumer = subscribe(&bus, "races", &topics.accesses).await;
    let got = poll_n(consumer.as_mut(), 200).await;
    let mut per_partition: HashMap<i32, Vec<&ConsumedRecord>> = HashMap::new();
    for r in &got {
        let key = r.key.as_deref().expect("key kept");
        assert_eq!(r.partition, partition_for(key, PARTS), "key {key:?}");
        per_partition.entry(r.partition).or_default().push(r);
    }
    for (part, recs) in per_partition {
        let offsets: Vec<i64> = recs.iter().map(|r| r.offset).collect();
        let expected: Vec<i64> = (0..recs.len() as i64).collect();
        assert_eq!(
            offsets, expected,
            "partition {part}: offsets contiguous from 0, in order"
        );
        let values: Vec<&Vec<u8>> = recs.iter().map(|r| &r.value).collect();
        let mut sorted = values.clone();
        sorted.sort();
        assert_eq!(values, sorted, "partition {part}: production order kept");
    }
}

#[tokio::test]
async fn groups_are_independent_and_one_consumer_per_group() {
    let dir = tempfile::tempdir().unwrap();
    let (bus, topics) = open_with_topics(&dir.path().join("bus.db")).await;
    bus.produce(&topics.events, records("x", 12)).await.unwrap();
    let mut a = subscribe(&bus, "a", &topics.events).await;
    let mut b = subscribe(&bus, "b", &topics.events).await;
    let got_a = poll_n(a.as_mut(), 12).await;
    a.commit(&next_offsets(&got_a)).await.unwrap();
    // b sees everything although a committed.
    let got_b = poll_n(b.as_mut(), 12).await;
    assert_eq!(got_b.len(), 12);

    let err = bus
        .subscribe("a", std::slice::from_ref(&topics.events))
        .await
        .err()
        .expect("second consumer in the same group must be refused");
    assert!(matches!(err, BusError::GroupBusy { .. }), "{err}");
    drop(a);
    let mut a2 = subscribe(&bus, "a", &topics.events).await;
    assert!(a2
        .poll(10, Duration::from_millis(100))
        .await
        .unwrap()
        .is_empty());
    // Commits are checked against the subscription.
    let err = a2
        .commit(&[(topics.accesses.clone(), 0, 1)])
        .await
        .unwrap_err();
    assert!(matches!(err, BusError::InvalidArgument(_)), "{err}");
}

#[tokio::test]
async fn poll_wakes_on_produce_and_times_out_when_idle() {
    let dir = tempfile::tempdir().unwrap();
    let (bus, topics) = open_with_topics(&dir.path().join("bus.db")).await;
    let mut consumer = subscribe(&bus, "g", &topics.events).await;

    let start = Instant::now();
    let idle = consumer.poll(10, Duration::from_millis(300)).await.unwrap();
    assert!(idle.is_empty());
    assert!(start.elapsed() >= Duration::from_millis(290));

    let producer = bus.clone();
    let topic = topics.events.clone();
    let handle = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        producer
            .produce(&topic, vec![Record::new("k", "v")])
            .await
            .unwrap();
        Instant::now()
    });
    let start = Instant::now();
    let got = consumer.poll(10, Duration::from_secs(30)).await.unwrap();
    let woke = Instant::now();
    let produced = handle.await.unwrap();
    assert_eq!(got.len(), 1);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "poll did not wake"
    );
    assert!(
        woke.duration_since(produced) < Duration::from_secs(1),
        "woke {:?} after the produce",
        woke.duration_since(produced)
    );
}

#[tokio::test]
async fn missing_topics_and_bad_arguments_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bus = EmbeddedBus::open(&dir.path().join("bus.db"), PARTS).unwrap();
    let err = bus
        .produce("nope", vec![Record::new("k", "v")])
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "topic nope does not exist: run `raceway migrate`"
    );
    assert!(!err.is_retryable());
    let err = bus.subscribe("g", &["nope".into()]).await.err().unwrap();
    assert!(matches!(err, BusError::UnknownTopic { .. }), "{err}");
    assert!(EmbeddedBus::open(&dir.path().join("other.db"), 0).is_err());

    // create_topics is idempotent and keeps an existing partition count.
    bus.create_topics(&["t".into()], 2).await.unwrap();
    bus.create_topics(&["t".into()], 5).await.unwrap();
    bus.produce("t", records("t", 50)).await.unwrap();
    let mut c = bus.subscribe("g", &["t".into()]).await.unwrap();
    let got = poll_n(c.as_mut(), 50).await;
    assert!(got.iter().all(|r| r.partition < 2));
}

/// Child half of `produced_records_survive_kill_9`: produces, reports, then waits to be killed.
#[tokio::test]
async fn child_produce_then_wait_for_kill() {
    let Ok(path) = std::env::var("RACEWAY_BUS_KILL_TEST_DB") else {
        return; // only meaningful when started by the parent test
    };
    let (bus, topics) = open_with_topics(Path::new(&path)).await;
    bus.produce(&topics.events, records("k", 100))
        .await
        .unwrap();
    println!("PRODUCED");
    tokio::time::sleep(Duration::from_secs(60)).await;
}

#[tokio::test]
async fn produced_records_survive_kill_9() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bus.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_produce_then_wait_for_kill", "--nocapture"])
        .env("RACEWAY_BUS_KILL_TEST_DB", &path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut produced = false;
    for line in BufReader::new(stdout).lines() {
        if line.unwrap().contains("PRODUCED") {
            produced = true;
            break;
        }
    }
    assert!(produced, "child did not produce");
    child.kill().unwrap(); // SIGKILL: no destructors, no checkpoint
    child.wait().unwrap();

    let (bus, topics) = open_with_topics(&path).await;
    let mut consumer = subscribe(&bus, "g", &topics.events).await;
    let got = poll_n(consumer.as_mut(), 100).await;
    assert_eq!(got.len(), 100);
}

#[tokio::test]
async fn lag_counts_unread_records_and_commits_compact_only_what_every_group_passed() {
    let dir = tempfile::tempdir().unwrap();
    let (bus, topics) = open_with_topics(&dir.path().join("bus.db")).await;
    bus.produce(&topics.events, records("a", 20)).await.unwrap();
    let events = std::slice::from_ref(&topics.events);
    let mut fast = bus.subscribe("fast", events).await.unwrap();
    let mut slow = bus.subscribe("slow", events).await.unwrap();
    let total_lag =
        |lags: Vec<raceway_bus::PartitionLag>| -> i64 { lags.iter().map(|l| l.lag).sum() };
    assert_eq!(total_lag(fast.lag().await.unwrap()), 20);

    let read = poll_n(fast.as_mut(), 20).await;
    assert_eq!(total_lag(fast.lag().await.unwrap()), 0);
    fast.commit(&next_offsets(&read)).await.unwrap();
    // The slow group has committed nothing: nothing may go.
    assert_eq!(bus.stored_records().await.unwrap(), 20);

    let slow_read = poll_n(slow.as_mut(), 20).await;
    let half: Vec<_> = slow_read.iter().filter(|r| r.offset < 1).cloned().collect();
    assert!(!half.is_empty() && half.len() < 20);
    slow.commit(&next_offsets(&half)).await.unwrap();
    assert_eq!(
        bus.stored_records().await.unwrap(),
        20 - half.len() as u64,
        "only what both groups passed"
    );
    // A restarted slow consumer still reads everything it has not committed.
    drop(slow);
    let mut slow = bus.subscribe("slow", events).await.unwrap();
    let rest = poll_n(slow.as_mut(), 20 - half.len()).await;
    assert_eq!(rest.len(), 20 - half.len());
    slow.commit(&next_offsets(&rest)).await.unwrap();
    assert_eq!(bus.stored_records().await.unwrap(), 0);
    assert_eq!(
        bus.prune_consumed().await.unwrap(),
        0,
        "nothing left to sweep"
    );
    // The dead-letter topic has no reader: kept.
    bus.produce(&topics.dead_letter, records("d", 3))
        .await
        .unwrap();
    assert_eq!(bus.prune_consumed().await.unwrap(), 0);
    assert_eq!(bus.stored_records().await.unwrap(), 3);
}

#[tokio::test]
async fn a_tail_reads_only_what_is_produced_after_it_opened_and_joins_no_group() {
    let dir = tempfile::tempdir().unwrap();
    let (bus, topics) = open_with_topics(&dir.path().join("bus.sqlite")).await;
    bus.produce(&topics.events, records("before", 5))
        .await
        .unwrap();
    let mut tail = bus
        .tail(std::slice::from_ref(&topics.events))
        .await
        .unwrap();
    bus.produce(&topics.events, records("after", 3))
        .await
        .unwrap();
    let mut read = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while read.len() < 3 && Instant::now() < deadline {
        read.extend(tail.poll(100, Duration::from_millis(200)).await.unwrap());
    }
    let keys: Vec<String> = read
        .iter()
        .map(|r| String::from_utf8_lossy(r.key.as_deref().unwrap_or_default()).to_string())
        .collect();
    assert_eq!(read.len(), 3, "{keys:?}");
    assert!(keys.iter().all(|k| k.starts_with("after")), "{keys:?}");
    // No group was registered: a group subscribing later still starts at the beginning.
    let mut group = subscribe(&bus, "g", &topics.events).await;
    assert_eq!(poll_n(group.as_mut(), 8).await.len(), 8);
    assert!(tail
        .poll(10, Duration::from_millis(50))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_retained_topic_keeps_its_newest_records_per_partition_and_a_tail_still_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let (bus, topics) = open_with_topics(&dir.path().join("bus.sqlite")).await;
    bus.retain_latest(&topics.findings, 5);
    let mut tail = bus
        .tail(std::slice::from_ref(&topics.findings))
        .await
        .unwrap();
    // One key: every record lands on one partition, so the bound cuts it to exactly 5. A tail
    // that keeps up (reads each produce before the next) still reads every record.
    let one_key = |i: usize| Record::new("trace", format!("notice-{i}"));
    let mut read = Vec::new();
    for chunk in 0..4 {
        bus.produce(
            &topics.findings,
            (chunk * 3..chunk * 3 + 3).map(one_key).collect(),
        )
        .await
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while read.len() < chunk * 3 + 3 && Instant::now() < deadline {
            read.extend(tail.poll(100, Duration::from_millis(200)).await.unwrap());
        }
    }
    assert_eq!(read.len(), 12);
    assert_eq!(bus.stored_records().await.unwrap(), 5);
    // Other topics keep their records until a group passes them.
    bus.produce(&topics.events, records("kept", 20))
        .await
        .unwrap();
    assert_eq!(bus.stored_records().await.unwrap(), 25);
}

/// Pages and free pages of the log's file, read beside the bus.
fn file_pages(path: &Path) -> (i64, i64) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let pages = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    let free = conn
        .query_row("PRAGMA freelist_count", [], |r| r.get(0))
        .unwrap();
    (pages, free)
}

#[tokio::test]
async fn commits_give_a_drained_backlog_back_to_the_file_system() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bus.sqlite");
    let (bus, topics) = open_with_topics(&path).await;
    // About 48 MiB of backlog: three times the pages a commit keeps spare.
    let value = "v".repeat(8 * 1024);
    for batch in 0..24 {
        let records = (0..256)
            .map(|i| Record::new(format!("k{}", i % 13), format!("{batch}-{i}-{value}")))
            .collect();
        bus.produce(&topics.events, records).await.unwrap();
    }
    let (backlog_pages, _) = file_pages(&path);
    assert!(backlog_pages > 3 * EmbeddedBus::SPARE_FREE_PAGES);

    let mut consumer = subscribe(&bus, "g", &topics.events).await;
    let read = poll_n(consumer.as_mut(), 24 * 256).await;
    assert_eq!(read.len(), 24 * 256, "every record is delivered");
    // Each commit returns at most RETURN_PAGES_PER_COMMIT: a few commits give back the rest.
    for _ in 0..(backlog_pages / EmbeddedBus::RETURN_PAGES_PER_COMMIT + 1) {
        consumer.commit(&next_offsets(&read)).await.unwrap();
    }
    assert_eq!(bus.stored_records().await.unwrap(), 0);
    let (pages, free) = file_pages(&path);
    assert!(
        free <= 2 * EmbeddedBus::SPARE_FREE_PAGES,
        "{free} pages left free"
    );
    assert!(
        pages < backlog_pages / 2,
        "the file kept {pages} of its {backlog_pages} pages"
    );
}

#[tokio::test]
async fn a_quiet_log_gives_its_spare_pages_and_its_wal_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bus.sqlite");
    let wal = dir.path().join("bus.sqlite-wal");
    let (bus, topics) = open_with_topics(&path).await;
    // About 12 MiB of records: once read and committed, fewer free pages than a commit keeps
    // spare, so only the quiet log gives them back.
    let mut backlog = Vec::new();
    for i in 0_u32..1536 {
        backlog.push(Record::new(i.to_be_bytes(), vec![b'v'; 8 * 1024]));
    }
    bus.produce(&topics.events, backlog).await.unwrap();
    let mut consumer = subscribe(&bus, "g", &topics.events).await;
    let read = poll_n(consumer.as_mut(), 1536).await;
    consumer.commit(&next_offsets(&read)).await.unwrap();
    assert_eq!(bus.stored_records().await.unwrap(), 0);
    let (_, free) = file_pages(&path);
    assert!(free > 1000, "the commit keeps its spare: {free} pages free");

    // Nothing is written from here on: the bus's thread gives the space back.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let wal_bytes = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        let (_, free) = file_pages(&path);
        if free == 0 && wal_bytes == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a quiet log kept {free} free pages and {wal_bytes} bytes of WAL"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The log still works after it.
    bus.produce(&topics.events, records("after", 3))
        .await
        .unwrap();
    assert_eq!(poll_n(consumer.as_mut(), 3).await.len(), 3);
}

#[tokio::test]
async fn a_log_written_without_auto_vacuum_is_converted_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bus.sqlite");
    let auto_vacuum = |path: &Path| -> i64 {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))
            .unwrap()
    };
    let (old, topics) = open_with_topics(&path).await;
    old.produce(&topics.events, records("old", 10))
        .await
        .unwrap();
    drop(old);
    // As a log of schema version 1 was: no auto-vacuum.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA auto_vacuum=NONE; VACUUM; PRAGMA user_version=1;")
        .unwrap();
    assert_eq!(auto_vacuum(&path), 0);

    let (bus, topics) = open_with_topics(&path).await;
    assert_eq!(auto_vacuum(&path), 2, "incremental");
    let mut consumer = subscribe(&bus, "g", &topics.events).await;
    assert_eq!(poll_n(consumer.as_mut(), 10).await.len(), 10);
}

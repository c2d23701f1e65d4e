//! Checks of access writes and the audit-trail reads.

use std::sync::Arc;

use super::*;

const BALANCE: &str = "account:alice.balance";

/// Every field of an access survives the store: both values and none, every access type, shared
/// and exclusive locks, no locks, empty and trusted clocks, awkward text.
pub async fn accesses_round_trip(store: &dyn Store) {
    let trace = Uuid::new_v4();
    let mut all = Vec::new();
    for (i, access_type) in AccessType::ALL.into_iter().enumerate() {
        let mut a = access(trace, BALANCE, i as i64, "bank");
        a.access_type = access_type;
        all.push(a);
    }
    all[0].old_value = None;
    all[0].value = r#"{"nested":["a'b","c\"d"],"n":1.5}"#.into();
    all[1].locks = vec![
        HeldLock {
            lock_id: "accounts".into(),
            mode: LockMode::Shared,
        },
        HeldLock {
            lock_id: "row:alice".into(),
            mode: LockMode::Exclusive,
        },
    ]
    .into();
    all[2].locks = Arc::from([]);
    all[2].clock = CompactClock::default();
    all[3].trusted_clock = true;
    all[3].clock = CompactClock::from_pairs([("bank#i-1/thread-9", u64::MAX)]);
    all[4].actor = ActorId {
        service: "ledger ünïcode".into(),
        instance: String::new(),
        thread: "task:42".into(),
    }
    .into();
    all[4].location = "ledger.rs:7 'quoted'".into();
    all[4].trace_start_ns = -5;
    all[4].trace_end_ns = i64::MAX;
    store.insert_accesses(&all).await.expect("insert");
    assert_eq!(
        store
            .trace_variable_accesses(trace, BALANCE)
            .await
            .expect("read"),
        sorted_accesses(all)
    );
}

/// The same access written several times (also within one batch) is stored once; writing it
/// again with other clocks or locks (a re-analysis) replaces it.
pub async fn insert_accesses_is_idempotent_latest_wins(store: &dyn Store) {
    let trace = Uuid::new_v4();
    let accesses: Vec<Access> = (0..4)
        .map(|i| access(trace, BALANCE, i * SECOND, "bank"))
        .collect();
    store.insert_accesses(&accesses).await.expect("insert");
    store.insert_accesses(&accesses).await.expect("again");
    let mut doubled = accesses.clone();
    doubled.extend(accesses[1..3].iter().cloned());
    store.insert_accesses(&doubled).await.expect("duplicates");
    let read = store
        .trace_variable_accesses(trace, BALANCE)
        .await
        .expect("read");
    assert_eq!(read, sorted_accesses(accesses.clone()));
    let all = store
        .variable_accesses(&AccessQuery::variable(BALANCE, 100))
        .await
        .expect("read variable");
    assert_eq!(all.len(), 4);

    let mut reanalysed = accesses[2].clone();
    reanalysed.clock = reanalysed
        .clock
        .iter()
        .map(|(c, n)| (c.to_owned(), n))
        .chain([(format!("{trace}/bank/thread-3"), 7)])
        .collect();
    reanalysed.locks = Arc::from([]);
    reanalysed.trace_end_ns += SECOND;
    store
        .insert_accesses(std::slice::from_ref(&reanalysed))
        .await
        .expect("re-analysis");
    let mut expected = accesses.clone();
    expected[2] = reanalysed;
    let read = store
        .trace_variable_accesses(trace, BALANCE)
        .await
        .expect("read");
    assert_eq!(read, sorted_accesses(expected.clone()));
    let read = store
        .variable_accesses(&AccessQuery {
            environment: Some("test".into()),
            ..AccessQuery::variable(BALANCE, 100)
        })
        .await
        .expect("read variable");
    assert_eq!(read, sorted_accesses(expected));
}

/// Across traces and days; filtered by environment and time (inclusive bounds); ordered by
/// (timestamp, event id); truncated to `limit`; other variables never.
pub async fn variable_accesses_filter_and_order(store: &dyn Store) {
    let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    // Around midnight UTC, so the accesses fall in two ClickHouse partitions.
    let day = 86_400 * SECOND;
    let midnight = (BASE_NS / day + 1) * day - BASE_NS;
    let at = |s: i64| midnight + s * SECOND;
    let mut prod = access(c, BALANCE, at(2), "bank");
    prod.environment = "prod".into();
    let same_time: Vec<Access> = (0..3)
        .map(|_| access(b, BALANCE, at(1), "ledger"))
        .collect();
    let mut accesses = vec![
        access(a, BALANCE, at(-1), "bank"),
        access(a, BALANCE, at(3), "bank"),
        prod.clone(),
        access(a, "account:alice.balance.history", at(0), "bank"),
        access(a, "account:bob.balance", at(0), "bank"),
    ];
    accesses.extend(same_time.iter().cloned());
    store.insert_accesses(&accesses).await.expect("insert");
    let read = |env: Option<&'static str>, from: Option<i64>, to: Option<i64>, limit: u32| async move {
        store
            .variable_accesses(&AccessQuery {
                environment: env.map(str::to_string),
                time: TimeRange::new(from.map(|s| BASE_NS + at(s)), to.map(|s| BASE_NS + at(s))),
                ..AccessQuery::variable(BALANCE, limit)
            })
            .await
            .expect("variable_accesses")
    };
    let balance: Vec<Access> = sorted_accesses(
        accesses
            .iter()
            .filter(|x| *x.variable == *BALANCE)
            .cloned()
            .collect(),
    );
    assert_eq!(balance.len(), 6);
    let ids = |xs: &[Access]| xs.iter().map(|x| x.event_id).collect::<Vec<_>>();
    assert_eq!(read(None, None, None, 100).await, balance);
    let tied: Vec<Uuid> = ids(&balance[1..4]);
    let mut tied_sorted = tied.clone();
    tied_sorted.sort();
    assert_eq!(tied, tied_sorted, "same timestamp: by event id");
    let test_only: Vec<Access> = balance
        .iter()
        .filter(|x| &*x.environment == "test")
        .cloned()
        .collect();
    assert_eq!(read(Some("test"), None, None, 100).await, test_only);
    assert_eq!(read(Some("prod"), None, None, 100).await, vec![prod]);
    assert!(read(Some("staging"), None, None, 100).await.is_empty());
    assert_eq!(read(None, Some(1), None, 100).await, balance[1..].to_vec());
    assert_eq!(read(None, None, Some(1), 100).await, balance[..4].to_vec());
    assert_eq!(
        read(None, Some(1), Some(2), 100).await,
        balance[1..5].to_vec()
    );
    assert!(read(None, Some(4), None, 100).await.is_empty());
    assert_eq!(read(None, None, None, 2).await, balance[..2].to_vec());
    assert!(read(None, None, None, 0).await.is_empty());
    assert!(store
        .variable_accesses(&AccessQuery::variable("account:nobody", 100))
        .await
        .expect("unknown variable")
        .is_empty());
}

/// Only the trace's accesses to that variable (any environment), in (timestamp, id) order.
pub async fn trace_variable_accesses_by_trace(store: &dyn Store) {
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let mut mine = vec![
        access(a, BALANCE, 3, "bank"),
        access(a, BALANCE, 1, "ledger"),
        access(a, BALANCE, 2, "bank"),
    ];
    mine[1].environment = "prod".into();
    let others = vec![
        access(b, BALANCE, 1, "bank"),
        access(a, "account:alice.limit", 1, "bank"),
    ];
    store.insert_accesses(&others).await.expect("others");
    store.insert_accesses(&mine).await.expect("mine");
    assert_eq!(
        store
            .trace_variable_accesses(a, BALANCE)
            .await
            .expect("read"),
        sorted_accesses(mine)
    );
    assert!(store
        .trace_variable_accesses(a, "account:alice")
        .await
        .expect("prefix only")
        .is_empty());
    assert!(store
        .trace_variable_accesses(Uuid::new_v4(), BALANCE)
        .await
        .expect("unknown trace")
        .is_empty());
}

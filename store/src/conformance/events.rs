//! Checks of event writes and reads.

use raceway_schemas::json::EventJson;

use super::*;

/// Migrating again is harmless, and the store still works.
pub async fn migrate_is_idempotent(store: &dyn Store) {
    store.migrate().await.expect("second migrate");
    store.migrate().await.expect("third migrate");
    store.ping().await.expect("ping");
    let trace = Uuid::new_v4();
    let e = event(trace, 0, "bank");
    store
        .insert_events(std::slice::from_ref(&e))
        .await
        .expect("insert");
    assert_eq!(store.trace_events(trace).await.expect("read"), vec![e]);
}

/// The same event inserted several times (also inside one batch) is stored once.
pub async fn insert_events_is_idempotent(store: &dyn Store) {
    let trace = Uuid::new_v4();
    let events: Vec<Event> = (0..5).map(|i| event(trace, i * 10, "bank")).collect();
    store.insert_events(&events).await.expect("insert");
    store.insert_events(&events).await.expect("insert again");
    store
        .insert_events(&events[1..3])
        .await
        .expect("insert a subset");
    let mut doubled = events.clone();
    doubled.extend(events.iter().cloned());
    store
        .insert_events(&doubled)
        .await
        .expect("insert a batch with duplicates");
    assert_eq!(
        store.trace_events(trace).await.expect("read"),
        sorted(events)
    );
    let listed = page(store, TraceQuery::default()).await;
    assert_eq!(listed.total, 1);
    assert_eq!(listed.traces[0].event_count, 5);
    let counts = store
        .traces_event_counts(&[trace, Uuid::new_v4()])
        .await
        .expect("count");
    assert_eq!(
        counts.into_iter().collect::<Vec<_>>(),
        vec![(trace, 5)],
        "distinct events per trace; a trace without events is left out"
    );
}

/// A trace's event count is its distinct event ids, whichever writes and days hold them: the
/// same ids written again in later batches (on ClickHouse, other parts), and one id written again
/// with a time days later (another day's partition), count once; another trace's events never.
pub async fn event_counts_are_distinct_ids_across_writes(store: &dyn Store) {
    const DAY: i64 = 86_400 * SECOND;
    let (trace, other) = (Uuid::new_v4(), Uuid::new_v4());
    let events: Vec<Event> = (0..6).map(|i| event(trace, i * SECOND, "bank")).collect();
    store.insert_events(&events[..4]).await.expect("insert");
    store
        .insert_events(&events[2..])
        .await
        .expect("insert, half again");
    let mut moved = events[0].clone();
    moved.timestamp_ns += 3 * DAY;
    store
        .insert_events(&[moved])
        .await
        .expect("insert one id again, days later");
    store
        .insert_events(&[event(other, 0, "bank")])
        .await
        .expect("insert another trace");
    let counts = store
        .traces_event_counts(&[trace, other])
        .await
        .expect("count");
    assert_eq!(counts.get(&trace), Some(&6), "distinct ids of the trace");
    assert_eq!(counts.get(&other), Some(&1));
    let listed = page(store, TraceQuery::default()).await;
    let count_of = |id: Uuid| {
        listed
            .traces
            .iter()
            .find(|t| t.trace_id == id)
            .map(|t| t.event_count)
    };
    assert_eq!((count_of(trace), count_of(other)), (Some(6), Some(1)));
}

/// Events come back ordered by (timestamp, id) whatever the insert order; other traces' events
/// never; an unknown trace has none.
pub async fn trace_events_are_ordered(store: &dyn Store) {
    let trace = Uuid::new_v4();
    let other = Uuid::new_v4();
    let mut events: Vec<Event> = (0..12)
        .map(|i| event(trace, (i % 4) * SECOND, "bank"))
        .collect();
    events.reverse();
    store.insert_events(&events[..6]).await.expect("insert");
    store
        .insert_events(&[event(other, 1, "bank")])
        .await
        .expect("insert other");
    store
        .insert_events(&events[6..])
        .await
        .expect("insert rest");
    let read = store.trace_events(trace).await.expect("read");
    assert_eq!(read, sorted(events));
    assert!(store
        .trace_events(Uuid::new_v4())
        .await
        .expect("unknown")
        .is_empty());
}

/// Every kind of event survives the store unchanged.
pub async fn events_round_trip(store: &dyn Store) {
    let trace = Uuid::new_v4();
    let events = events_of_every_kind(trace);
    store.insert_events(&events).await.expect("insert");
    assert_eq!(
        store.trace_events(trace).await.expect("read"),
        sorted(events)
    );
}

/// The events with their JSON: the same events in the same order; each text, where there is
/// one, what the whole event encodes to, beside the fields the happens-before analysis reads;
/// a whole event where there is none. An unknown trace has none.
pub async fn trace_events_with_json_match_trace_events(store: &dyn Store) {
    let trace = Uuid::new_v4();
    let events = events_of_every_kind(trace);
    store.insert_events(&events).await.expect("insert");
    let whole = store.trace_events(trace).await.expect("read");
    let read = store.trace_events_with_json(trace).await.expect("read");
    assert_eq!(read.events.len(), whole.len());
    assert_eq!(read.json.len(), whole.len());
    for ((event, json), expected) in read.events.iter().zip(&read.json).zip(&whole) {
        let Some(json) = json else {
            assert_eq!(event, expected);
            continue;
        };
        assert_eq!(json, &EventJson(expected).to_json());
        let ordering_fields = |e: &Event| {
            (
                (e.id, e.trace_id, e.parent_id, e.timestamp_ns, e.actor()),
                (e.metadata.environment.clone(), e.metadata.tags.clone()),
                (
                    e.causality_vector.clone(),
                    e.lock_set.clone(),
                    e.kind.name(),
                ),
            )
        };
        assert_eq!(ordering_fields(event), ordering_fields(expected));
        if let (EventKind::LockAcquire(lock), EventKind::LockAcquire(stored)) =
            (&event.kind, &expected.kind)
        {
            assert_eq!(
                (&lock.lock_id, lock.mode, &lock.lock_type),
                (&stored.lock_id, stored.mode, &stored.lock_type)
            );
        }
    }
    let unknown = store
        .trace_events_with_json(Uuid::new_v4())
        .await
        .expect("unknown");
    assert!(unknown.events.is_empty() && unknown.json.is_empty());
}

/// Events of `trace` of several kinds, with a parent, an instance, a duration and a tag.
fn events_of_every_kind(trace: Uuid) -> Vec<Event> {
    let root = event(trace, 0, "bank");
    let mut events = vec![root.clone()];
    let mut add = |offset: i64, kind: EventKind| {
        let mut e = event(trace, offset, "bank");
        e.parent_id = Some(root.id);
        e.kind = kind;
        e.metadata.instance_id = Some("i-1".into());
        e.metadata.duration_ns = Some(1234);
        e.metadata
            .tags
            .insert("raceway.clock".into(), "actor-v1".into());
        events.push(e);
    };
    add(
        1,
        EventKind::FunctionCall(FunctionCall {
            function_name: "transfer".into(),
            module: "bank".into(),
            args: r#"{"amount":50}"#.into(),
            file: "bank.rs".into(),
            line: 40,
        }),
    );
    add(
        2,
        EventKind::LockAcquire(LockEvent {
            lock_id: "accounts".into(),
            mode: LockMode::Shared,
            lock_type: "RwLock::Read".into(),
            location: "bank.rs:41".into(),
        }),
    );
    add(
        3,
        EventKind::HttpRequest(HttpRequest {
            method: "POST".into(),
            url: "http://bank/transfer".into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: Some(r#"{"to":"bob"}"#.into()),
        }),
    );
    add(
        4,
        EventKind::Custom(Custom {
            name: "audit".into(),
            data: r#"{"ok":true}"#.into(),
        }),
    );
    add(
        5,
        EventKind::StateChange(StateChange {
            variable: "balance".into(),
            old_value: Some("1".into()),
            new_value: r#"{"a":[1,"x\n"]}"#.into(),
            location: "bank.rs:42".into(),
            access_type: AccessType::AtomicRMW,
        }),
    );
    // A duration Avro cannot carry: the embedded store keeps this one as JSON text.
    if let Some(last) = events.last_mut() {
        last.metadata.duration_ns = Some(u64::MAX);
    }
    events
}

/// Several traces' events in one call: only theirs, deduplicated, ordered by trace then time;
/// a repeated or unknown id adds nothing.
pub async fn traces_events_reads_several_traces(store: &dyn Store) {
    let (a, b, other) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let events: Vec<Event> = [a, b, other]
        .iter()
        .flat_map(|t| (0..3).map(move |i| event(*t, (2 - i) * SECOND, "bank")))
        .collect();
    store.insert_events(&events).await.expect("insert");
    store
        .insert_events(&events[..2])
        .await
        .expect("insert again");
    let read = store
        .traces_events(&[b, a, b, Uuid::new_v4()])
        .await
        .expect("read");
    let (mut first, mut second) = (a, b);
    if second < first {
        std::mem::swap(&mut first, &mut second);
    }
    let expected: Vec<Event> = sorted(
        events
            .iter()
            .filter(|e| e.trace_id == first)
            .cloned()
            .collect(),
    )
    .into_iter()
    .chain(sorted(
        events
            .iter()
            .filter(|e| e.trace_id == second)
            .cloned()
            .collect(),
    ))
    .collect();
    assert_eq!(read, expected);
    assert!(store.traces_events(&[]).await.expect("none").is_empty());
}

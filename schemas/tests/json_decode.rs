//! Raceway JSON decoding: the real SDK fixture, the SDKs' variations, and rejections.

mod common;

use common::*;
use raceway_schemas::json::*;
use raceway_schemas::*;
use serde_json::{json, Value};

const FIXTURE: &str = include_str!("../../tests/fixtures/raceway-events-example.json");

fn rejected(value: Value) -> FieldError {
    match decode_event(&value) {
        Ok(e) => panic!("accepted: {e:?}"),
        Err(e) => e,
    }
}

#[test]
fn the_sdk_fixture_decodes() {
    let events: Vec<Event> = decode_events_body(FIXTURE.as_bytes())
        .unwrap()
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(events.len(), 3);
    let names: Vec<&str> = events.iter().map(|e| e.kind.name()).collect();
    assert_eq!(names, ["FunctionCall", "StateChange", "StateChange"]);
    let threads: Vec<&str> = events
        .iter()
        .map(|e| e.metadata.thread_id.as_str())
        .collect();
    assert_eq!(threads, ["thread-main", "worker-1", "worker-2"]);

    let EventKind::FunctionCall(call) = &events[0].kind else {
        unreachable!()
    };
    assert_eq!(call.args, r#"{"id":42}"#);
    assert_eq!(call.line, 10);
    assert_eq!(events[0].parent_id, None);
    assert_eq!(events[0].timestamp_ns, 1_704_110_400_000_000_000);
    assert_eq!(events[0].metadata.duration_ns, Some(17_000_000));

    let writes: Vec<(&str, Option<&str>, &str, AccessType)> = events[1..]
        .iter()
        .map(|e| {
            let s = e.state_change().unwrap();
            (
                s.variable.as_str(),
                s.old_value.as_deref(),
                s.new_value.as_str(),
                s.access_type,
            )
        })
        .collect();
    assert_eq!(
        writes,
        [
            ("balance", Some("10"), "15", AccessType::Write),
            ("balance", Some("15"), "20", AccessType::Write)
        ]
    );
    assert_eq!(events[1].timestamp_ns, 1_704_110_400_001_000_000);
    assert_eq!(events[1].parent_id, Some(events[0].id));
    assert_eq!(events[1].causality_vector, [("web#web-1".to_string(), 1)]);
    assert_eq!(events[1].metadata.instance_id.as_deref(), Some("web-1"));
    assert_eq!(events[1].metadata.upstream_span_id, None);
    assert!(events
        .iter()
        .all(|e| e.trace_id == trace_id() && e.metadata.service_name == "web"));
}

#[test]
fn go_sdk_variations_are_accepted() {
    // FunctionReturn is kept as Custom with the whole payload.
    let kind = kind_of(
        json!({"FunctionReturn": {"function_name": "f", "return_value": [1], "file": "a.go", "line": 3}}),
    );
    assert_eq!(
        kind,
        EventKind::Custom(Custom {
            name: "FunctionReturn".into(),
            data: r#"{"file":"a.go","function_name":"f","line":3,"return_value":[1]}"#.into()
        })
    );
    // AsyncSpawn with a non-UUID task id, a task name and spawned_at, and no spawned_by.
    let kind = kind_of(
        json!({"AsyncSpawn": {"task_id": "goroutine-7", "task_name": "w", "spawned_at": "main.go:9"}}),
    );
    assert_eq!(
        kind,
        EventKind::AsyncSpawn(AsyncSpawn {
            task_id: "goroutine-7".into(),
            spawned_by: String::new(),
            task_name: Some("w".into()),
            spawned_at: Some("main.go:9".into())
        })
    );
    // Go's nil maps and slices arrive as null; process_id may be missing.
    let event = decode_ok(json!({
        "id": "bbbbbbbb-bbbb-4bbb-bbbb-bbbbbbbbbbbb", "trace_id": TRACE, "parent_id": null,
        "timestamp": "2024-01-01T12:00:00.123456789+02:00",
        "kind": {"Error": {"error_type": "E", "message": "m", "stack_trace": null}},
        "metadata": {"thread_id": 17, "service_name": "go-svc", "tags": null, "duration_ns": null},
        "causality_vector": null, "lock_set": null
    }));
    assert_eq!(event.metadata.process_id, 0);
    assert_eq!(event.metadata.thread_id, "17");
    assert_eq!(event.timestamp_ns, 1_704_103_200_123_456_789);
    assert!(
        event.causality_vector.is_empty()
            && event.lock_set.is_empty()
            && event.metadata.tags.is_empty()
    );
    let EventKind::Error(error) = event.kind else {
        panic!()
    };
    assert!(error.stack_trace.is_empty());
}

#[test]
fn lock_types_of_every_sdk_give_the_right_mode_and_are_kept_as_sent() {
    for (lock_type, mode) in [
        ("Mutex", LockMode::Exclusive),
        ("RwLock::Read", LockMode::Shared),
        ("RwLock::Write", LockMode::Exclusive),
        ("RWLock-Read", LockMode::Shared),
        ("RWLock-Write", LockMode::Exclusive),
        ("RWLock", LockMode::Exclusive),
    ] {
        for kind in ["LockAcquire", "LockRelease"] {
            let decoded = kind_of(
                json!({kind: {"lock_id": "m1", "lock_type": lock_type, "location": "a:1"}}),
            );
            let (EventKind::LockAcquire(lock) | EventKind::LockRelease(lock)) = &decoded else {
                panic!()
            };
            assert_eq!(decoded.name(), kind);
            assert_eq!((lock.lock_type.as_str(), lock.mode), (lock_type, mode));
        }
    }
}

#[test]
fn unknown_and_unit_like_kinds_are_kept() {
    assert_eq!(
        kind_of(json!({"Sleep": {"ms": 5}})),
        EventKind::Custom(Custom {
            name: "Sleep".into(),
            data: r#"{"ms":5}"#.into()
        })
    );
    assert_eq!(
        kind_of(json!({"Tick": 3})),
        EventKind::Custom(Custom {
            name: "Tick".into(),
            data: "3".into()
        })
    );
    assert_eq!(
        kind_of(json!("Yield")),
        EventKind::Custom(Custom {
            name: "Yield".into(),
            data: "null".into()
        })
    );
    assert_eq!(
        kind_of(json!("AsyncAwait")),
        EventKind::AsyncAwait(AsyncAwait::default())
    );
    assert_eq!(
        kind_of(json!({"DatabaseResult": null})),
        EventKind::DatabaseResult(DatabaseResult { rows_affected: 0 })
    );
    // Other kinds given as null (an SDK serialising every member of a kind struct) are ignored.
    let kind =
        kind_of(json!({"StateChange": null, "MemoryFence": {"ordering": "seqcst"}, "Error": null}));
    assert_eq!(
        kind,
        EventKind::MemoryFence(MemoryFence {
            ordering: MemoryOrdering::SeqCst,
            location: String::new()
        })
    );
    // A Custom kind without our {name, data} shape keeps its whole payload.
    assert_eq!(
        kind_of(json!({"Custom": {"x": 1}})),
        EventKind::Custom(Custom {
            name: "Custom".into(),
            data: r#"{"x":1}"#.into()
        })
    );
}

#[test]
fn headers_arrive_as_an_object_and_are_sorted_by_name() {
    let kind = kind_of(
        json!({"HttpRequest": {"method": "GET", "url": "/", "headers": {"X-B": "2", "Accept": "*/*", "x-a": 1}}}),
    );
    let EventKind::HttpRequest(request) = kind else {
        panic!()
    };
    let names: Vec<&str> = request.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["Accept", "X-B", "x-a"]);
    assert_eq!(request.headers[2].1, "1");
    assert_eq!(request.body, None);
    // Duplicates and their order survive an encode/decode round trip (as [[name, value]] pairs).
    let mut event = all_kinds_events()[8].clone();
    let EventKind::HttpResponse(response) = &mut event.kind else {
        panic!()
    };
    response.headers = vec![
        ("Set-Cookie".into(), "a=1".into()),
        ("Set-Cookie".into(), "b=2".into()),
        ("A".into(), "x".into()),
    ];
    assert_eq!(decode_event(&encode_event(&event)).unwrap(), event);
}

#[test]
fn lenient_numbers_and_strings() {
    let event = decode_ok(json!({
        "id": "BBBBBBBB-BBBB-4BBB-BBBB-BBBBBBBBBBBB", "trace_id": TRACE, "parent_id": "",
        "timestamp": "2024-01-01T12:00:00.5",
        "kind": {"HttpResponse": {"status": "404", "duration_ms": 12.0, "body": "not found"}},
        "metadata": {"thread_id": "t", "process_id": "77", "service_name": "svc",
                     "tags": {"retries": 3, "ok": true}, "instance_id": 5},
        "causality_vector": [["svc", 2], {"component": "other", "counter": "3"}]
    }));
    assert_eq!(event.parent_id, None);
    assert_eq!(
        event.timestamp_ns, 1_704_110_400_500_000_000,
        "no offset = UTC"
    );
    assert_eq!(event.metadata.process_id, 77);
    assert_eq!(event.metadata.tags["retries"], "3");
    assert_eq!(event.metadata.tags["ok"], "true");
    assert_eq!(event.metadata.instance_id.as_deref(), Some("5"));
    assert_eq!(
        event.causality_vector,
        [("svc".to_string(), 2), ("other".to_string(), 3)]
    );
    let EventKind::HttpResponse(response) = event.kind else {
        panic!()
    };
    assert_eq!(
        (
            response.status,
            response.duration_ms,
            response.body.as_deref()
        ),
        (404, 12, Some("\"not found\""))
    );
}

#[test]
fn bad_events_are_rejected_with_the_field_named() {
    let state =
        |access: Value| with_kind(json!({"StateChange": {"variable": "x", "access_type": access}}));
    let err = rejected(state(json!("Wrte")));
    assert_eq!(err.field, "kind.StateChange.access_type");
    assert!(err.reason.contains("unknown access type \"Wrte\""), "{err}");
    assert_eq!(
        rejected(state(Value::Null)).to_string(),
        "field `kind.StateChange.access_type`: missing (required)"
    );
    assert_eq!(
        rejected(state(json!({"a": 1}))).reason,
        "expected a string, got an object"
    );

    let mut e = with_kind(json!({"AsyncAwait": {}}));
    e["id"] = json!("not-a-uuid");
    let err = rejected(e.clone());
    assert_eq!(err.field, "id");
    assert!(
        err.reason.starts_with("invalid UUID \"not-a-uuid\""),
        "{err}"
    );
    e["id"] = json!(12);
    assert_eq!(rejected(e.clone()).reason, "expected a UUID string, got 12");
    e.as_object_mut().unwrap().remove("id");
    assert_eq!(
        rejected(e).to_string(),
        "field `id`: missing (required UUID)"
    );

    let mut e = with_kind(json!("AsyncAwait"));
    e["timestamp"] = json!(1704110400);
    let err = rejected(e.clone());
    assert_eq!(err.field, "timestamp");
    assert!(
        err.reason.starts_with("expected an RFC 3339 timestamp"),
        "{err}"
    );
    e["timestamp"] = json!("yesterday");
    assert_eq!(rejected(e).field, "timestamp");

    for (metadata, field) in [
        (json!({"service_name": "s"}), "metadata.thread_id"),
        (
            json!({"thread_id": "t", "service_name": ""}),
            "metadata.service_name",
        ),
        (
            json!({"thread_id": "t", "service_name": "s", "process_id": -1}),
            "metadata.process_id",
        ),
        (
            json!({"thread_id": "t", "service_name": "s", "tags": [1]}),
            "metadata.tags",
        ),
        (
            json!({"thread_id": "t", "service_name": "s", "duration_ns": "slow"}),
            "metadata.duration_ns",
        ),
        (json!(null), "metadata"),
    ] {
        let mut e = with_kind(json!("AsyncAwait"));
        e["metadata"] = metadata;
        assert_eq!(rejected(e).field, field);
    }

    for (kind, field) in [
        (Value::Null, "kind"),
        (json!({}), "kind"),
        (json!(["StateChange"]), "kind"),
        (
            json!({"StateChange": {"variable": "x", "access_type": "Read"}, "FunctionCall": {}}),
            "kind",
        ),
        (json!({"StateChange": 5}), "kind.StateChange"),
        (
            json!({"StateChange": {"access_type": "Read"}}),
            "kind.StateChange.variable",
        ),
        (
            json!({"LockAcquire": {"lock_type": "Mutex"}}),
            "kind.LockAcquire.lock_id",
        ),
        (
            json!({"MemoryFence": {"ordering": "Sequential"}}),
            "kind.MemoryFence.ordering",
        ),
        (
            json!({"HttpResponse": {"status": 70000}}),
            "kind.HttpResponse.status",
        ),
        (
            json!({"HttpRequest": {"headers": "Accept: */*"}}),
            "kind.HttpRequest.headers",
        ),
        (
            json!({"FunctionCall": {"line": 1.5}}),
            "kind.FunctionCall.line",
        ),
    ] {
        assert_eq!(rejected(with_kind(kind.clone())).field, field, "{kind}");
    }
    let err = rejected(with_kind(json!({"A": 1, "B": 2})));
    assert_eq!(
        err.to_string(),
        "field `kind`: several kinds given (A, B); expected exactly one"
    );

    let mut e = with_kind(json!("AsyncAwait"));
    e["causality_vector"] = json!([["a", 1], ["b", -2]]);
    assert_eq!(rejected(e.clone()).field, "causality_vector[1]");
    e["causality_vector"] = json!([["a", 1, 2]]);
    assert_eq!(rejected(e).field, "causality_vector[0]");
    assert_eq!(
        rejected(json!([1])).to_string(),
        "event: expected an event object, got an array"
    );
}

#[test]
fn lock_types_are_known_exclusive_shared_non_excluding_or_unknown() {
    use raceway_schemas::{LockExclusion, LockKind};
    let exclusive = "Mutex RwLock::Write RWLock-Write Lock sync.Mutex";
    let shared = "RwLock::Read RWLock-Read rwlock_read";
    let groups = [
        (
            exclusive,
            LockKind::Known(LockExclusion::Exclusive),
            LockMode::Exclusive,
        ),
        (
            shared,
            LockKind::Known(LockExclusion::Shared),
            LockMode::Shared,
        ),
        (
            "Semaphore asyncio.Semaphore",
            LockKind::Known(LockExclusion::None),
            LockMode::Exclusive,
        ),
        // Unknown types are assumed exclusive.
        ("Latch", LockKind::Unknown, LockMode::Exclusive),
    ];
    for (names, kind, mode) in groups {
        for lock_type in names.split(' ') {
            assert_eq!(LockKind::of(lock_type), kind, "{lock_type}");
            assert_eq!(LockMode::from_lock_type(lock_type), mode, "{lock_type}");
            assert_eq!(kind.excludes(), !lock_type.contains("Semaphore"));
        }
    }
}

/// Lock types longer than the stack buffer or with non-ASCII characters take the allocating
/// path of `LockKind::of`, and are classified by the same rules.
#[test]
fn long_and_non_ascii_lock_types_follow_the_same_rules() {
    let shared = LockKind::Known(LockExclusion::Shared);
    let none = LockKind::Known(LockExclusion::None);
    assert_eq!(LockKind::of("my_crate::sync::RwLock-Read"), shared);
    assert_eq!(
        LockKind::of("a_very_long_namespace::of::things::RwLock::Read"),
        shared
    );
    assert_eq!(
        LockKind::of("tokio::sync::Semaphore::acquire_many_owned_permit"),
        none
    );
    assert_eq!(LockKind::of("Sémaphore-semaphore"), none);
    assert_eq!(LockKind::of("Mütex"), LockKind::Unknown);
    assert_eq!(
        LockKind::of("RW_LOCK.write"),
        LockKind::Known(LockExclusion::Exclusive)
    );
}

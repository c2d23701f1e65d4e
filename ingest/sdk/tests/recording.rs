//! Sampling, the off switch, the other event kinds, clock pruning and task-following actors.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{clock, local_var, memory_tracer, memory_tracer_with};
use raceway_schemas::{EventKind, MemoryOrdering, TRUSTED_CLOCK_VALUE};
use raceway_sdk::{spawn, with_actor, with_current};

#[test]
fn sampling_records_a_deterministic_fraction_of_traces() {
    let (tracer, sink) = memory_tracer_with(|c| c.sample_rate(0.25));
    let mut sampled = 0;
    for _ in 0..400 {
        let mut actor = tracer.start_trace("request");
        actor.write("x", &0, &1);
        sampled += usize::from(actor.is_sampled());
        // A second actor in the same trace agrees with the first.
        assert_eq!(
            tracer
                .actor_in_trace("other", actor.trace_id())
                .is_sampled(),
            actor.is_sampled()
        );
    }
    tracer.shutdown_blocking().unwrap();
    assert!(
        (50..150).contains(&sampled),
        "{sampled} of 400 sampled at 0.25"
    );
    assert_eq!(sink.event_count(), sampled, "one write per sampled trace");
}

#[test]
fn the_off_switch_records_nothing() {
    let (tracer, sink) = memory_tracer_with(|c| c.enabled(false));
    let mut actor = tracer.start_trace("request");
    actor.write("x", &0, &1);
    actor.call("bank::withdraw", &[30]);
    let child = actor.spawn_child("child");
    actor.join(child);
    tracer.shutdown_blocking().unwrap();
    assert_eq!(sink.event_count(), 0);
    assert_eq!(tracer.stats().queued, 0);
}

#[test]
fn calls_errors_custom_events_and_fences_are_located_at_the_caller() {
    let (tracer, sink) = memory_tracer();
    let mut actor = tracer.start_trace("main");
    let call_line = line!() + 1;
    actor.call("bank::ledger::apply", &serde_json::json!({"amount": 30}));
    let error = std::io::Error::new(std::io::ErrorKind::NotFound, "no such account");
    let error_line = line!() + 1;
    actor.error(&error);
    actor.custom("checkpoint", &serde_json::json!({"step": 2}));
    let fence_line = line!() + 1;
    actor.fence(Ordering::SeqCst);
    tracer.shutdown_blocking().unwrap();

    let events = sink.events();
    assert_eq!(events.len(), 4);
    for event in &events {
        assert_eq!(common::clock_tag(event), Some(TRUSTED_CLOCK_VALUE));
    }
    match &events[0].kind {
        EventKind::FunctionCall(call) => {
            assert_eq!(call.module, "bank::ledger");
            assert_eq!(call.function_name, "apply");
            assert_eq!(call.args, r#"{"amount":30}"#);
            assert_eq!((call.file.as_str(), call.line), (file!(), call_line));
        }
        other => panic!("expected a call, got {other:?}"),
    }
    match &events[1].kind {
        EventKind::Error(error) => {
            assert_eq!(error.message, "no such account");
            assert!(
                error.error_type.contains("io::error::Error"),
                "{}",
                error.error_type
            );
            assert_eq!(error.stack_trace[0], format!("{}:{error_line}", file!()));
        }
        other => panic!("expected an error, got {other:?}"),
    }
    assert!(matches!(&events[2].kind, EventKind::Custom(c) if c.name == "checkpoint"));
    match &events[3].kind {
        EventKind::MemoryFence(fence) => {
            assert_eq!(fence.ordering, MemoryOrdering::SeqCst);
            assert_eq!(fence.location, format!("{}:{fence_line}", file!()));
        }
        other => panic!("expected a fence, got {other:?}"),
    }
    // One actor: each event's clock is after the previous one's.
    for pair in events.windows(2) {
        assert!(clock(&pair[0]).happens_before(&clock(&pair[1])));
    }
}

#[test]
fn clocks_forget_long_finished_actors() {
    let (tracer, sink) = memory_tracer_with(|c| c.prune_finished_after(Duration::ZERO));
    let mut main = tracer.start_trace("main");
    for _ in 0..64 {
        let mut child = main.spawn_child("short-lived");
        child.write("x", &0, &1);
        main.join(child);
    }
    assert!(
        main.clock().len() <= 17,
        "clock kept {} components",
        main.clock().len()
    );
    assert!(
        main.clock().get(main.component()) > 0,
        "own component is kept"
    );
    tracer.shutdown_blocking().unwrap();
    drop(sink);

    // Without pruning (the default keeps finished actors for a minute), every child stays.
    let (tracer, _sink) = memory_tracer();
    let mut main = tracer.start_trace("main");
    for _ in 0..64 {
        let mut child = main.spawn_child("short-lived");
        child.write("x", &0, &1);
        main.join(child);
    }
    assert_eq!(main.clock().len(), 65);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_tasks_inherit_the_clock_and_awaiting_joins_it() {
    let (tracer, sink) = memory_tracer();
    let root = tracer.start_trace("request");
    let root_name = root.name().to_string();
    let spawn_line = line!() + 3;
    let ((), root) = with_actor(root, async {
        with_current(|actor| actor.write("before", &0, &1));
        let handle = spawn("audit", async {
            with_current(|actor| actor.write("audit", &0, &1));
            7
        });
        assert_eq!(handle.await.unwrap(), 7);
        with_current(|actor| actor.read("audit", &1));
    })
    .await;
    drop(root);
    tracer.shutdown().await.unwrap();

    let events = sink.events();
    let event_of = |variable: &str, write: bool| {
        events
            .iter()
            .find(|e| {
                e.state_change().is_some_and(|c| {
                    c.variable == local_var(variable) && c.access_type.is_write() == write
                })
            })
            .unwrap_or_else(|| panic!("no access to {variable}"))
    };
    let (before, audit, after) = (
        event_of("before", true),
        event_of("audit", true),
        event_of("audit", false),
    );
    assert_ne!(
        audit.metadata.thread_id, root_name,
        "the child is its own actor"
    );
    assert!(
        clock(before).happens_before(&clock(audit)),
        "spawn inherits"
    );
    assert!(clock(audit).happens_before(&clock(after)), "await joins");
    let spawned = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::AsyncSpawn(s) => s.spawned_at.clone(),
            _ => None,
        })
        .unwrap();
    assert_eq!(spawned, format!("{}:{spawn_line}", file!()));
}

//! Terse builders for the trace and anomaly unit tests: events of service `web` in trace
//! [`TRACE`], timestamps in milliseconds.

use raceway_schemas::{
    AsyncAwait, AsyncSpawn, ErrorEvent, Event, EventKind, FunctionCall, HttpRequest, HttpResponse,
    MessageEvent,
};
use uuid::Uuid;

/// The trace most tests use.
pub(crate) const TRACE: Uuid = Uuid::from_u128(0xbbbb);
/// One millisecond in nanoseconds.
pub(crate) const MS: i64 = 1_000_000;

pub(crate) use crate::testing::id;

/// Event `n` of service `web` on `thread` at `ms` milliseconds, no parent, no duration.
pub(crate) fn at(n: u128, thread: &str, ms: i64, kind: EventKind) -> Event {
    crate::testing::event_in(TRACE, n, thread, ms * MS, kind)
}

/// Sets the parent link.
pub(crate) fn with_parent(mut event: Event, parent: u128) -> Event {
    event.parent_id = Some(id(parent));
    event
}

/// Sets a measured duration in milliseconds.
pub(crate) fn lasting(mut event: Event, ms: i64) -> Event {
    event.metadata.duration_ns = u64::try_from(ms * MS).ok();
    event
}

/// Moves the event to another service.
pub(crate) fn on(service: &str, mut event: Event) -> Event {
    event.metadata.service_name = service.into();
    event
}

/// Sets the event's own span and the caller's span it was called from.
pub(crate) fn span(mut event: Event, own: &str, upstream: Option<&str>) -> Event {
    event.metadata.distributed_span_id = Some(own.into());
    event.metadata.upstream_span_id = upstream.map(Into::into);
    event
}

/// A function call.
pub(crate) fn call(name: &str) -> EventKind {
    EventKind::FunctionCall(FunctionCall {
        function_name: name.into(),
        module: "app".into(),
        ..FunctionCall::default()
    })
}

/// A task spawn naming the task's thread.
pub(crate) fn spawn(task: &str) -> EventKind {
    EventKind::AsyncSpawn(AsyncSpawn {
        task_id: task.into(),
        spawned_by: "main".into(),
        task_name: Some(task.into()),
        spawned_at: Some("app.rs:1".into()),
    })
}

/// An await of the task whose thread is `task`.
pub(crate) fn await_task(task: &str) -> EventKind {
    EventKind::AsyncAwait(AsyncAwait {
        future_id: task.into(),
        awaited_at: "app.rs:2".into(),
    })
}

/// A Kafka message on partition 0 when the offset is known.
pub(crate) fn kafka(topic: &str, key: Option<&str>, offset: Option<i64>) -> MessageEvent {
    MessageEvent {
        topic: topic.into(),
        partition: offset.map(|_| 0),
        offset,
        key: key.map(Into::into),
        location: String::new(),
    }
}

/// A message send.
pub(crate) fn send(message: MessageEvent) -> EventKind {
    EventKind::MessageSend(message)
}

/// A message receive.
pub(crate) fn receive(message: MessageEvent) -> EventKind {
    EventKind::MessageReceive(message)
}

/// An HTTP request.
pub(crate) fn request(url: &str) -> EventKind {
    EventKind::HttpRequest(HttpRequest {
        method: "GET".into(),
        url: url.into(),
        ..HttpRequest::default()
    })
}

/// An HTTP response.
pub(crate) fn response(status: u16) -> EventKind {
    EventKind::HttpResponse(HttpResponse {
        status,
        ..HttpResponse::default()
    })
}

/// An error.
pub(crate) fn error(kind: &str) -> EventKind {
    EventKind::Error(ErrorEvent {
        error_type: kind.into(),
        message: "boom".into(),
        stack_trace: Vec::new(),
    })
}

/// A mutex acquisition (`acquire = true`) or release.
pub(crate) fn mutex(lock_id: &str, acquire: bool) -> EventKind {
    let mode = raceway_schemas::LockMode::Exclusive;
    if acquire {
        crate::testing::acquire(lock_id, mode)
    } else {
        crate::testing::release(lock_id, mode)
    }
}

/// `n` calls on thread `main`, one a millisecond, each the parent of the next.
pub(crate) fn chain(n: u128) -> Vec<Event> {
    (1..=n)
        .map(|k| {
            let event = at(k, "main", k as i64, call("step"));
            if k > 1 {
                with_parent(event, k - 1)
            } else {
                event
            }
        })
        .collect()
}

/// Marks the event as carrying `clock` from our SDK.
pub(crate) fn clocked(mut event: Event, clock: &[(&str, u64)]) -> Event {
    event.causality_vector = clock.iter().map(|(c, n)| (c.to_string(), *n)).collect();
    event.metadata.tags.insert(
        raceway_schemas::TRUSTED_CLOCK_TAG.to_string(),
        raceway_schemas::TRUSTED_CLOCK_VALUE.to_string(),
    );
    event
}

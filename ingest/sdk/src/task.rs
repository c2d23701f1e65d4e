//! The current actor of a tokio task: [`with_actor`] and [`with_current`].
//!
//! An [`Actor`] is `Send`, so a task can also simply own one. The task-local form is for code
//! deep inside a task that should record without an actor being passed down to it.
//!
//! ```
//! # use raceway_sdk::{MemorySink, Tracer, TracerConfig, with_actor, with_current};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! # let tracer = Tracer::new(TracerConfig::new("bank"), MemorySink::new()).unwrap();
//! let mut parent = tracer.start_trace("request");
//! let child = parent.spawn_child("audit");
//! let task = tokio::spawn(with_actor(child, async {
//!     with_current(|actor| actor.write("audit.count", &0, &1));
//! }));
//! let ((), child) = task.await.unwrap();
//! parent.join(child);
//! # }
//! ```

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::task::{JoinError, JoinHandle};

use crate::actor::{caller_location, Actor};

tokio::task_local! {
    static CURRENT: RefCell<Actor>;
}

/// Runs `future` with `actor` as the current actor of the task and returns the future's output
/// together with the actor, so that it can be joined ([`Actor::join`]) afterwards.
pub async fn with_actor<F: Future>(actor: Actor, future: F) -> (F::Output, Actor) {
    let scoped = CURRENT.scope(RefCell::new(actor), future);
    tokio::pin!(scoped);
    let output = (&mut scoped).await;
    let actor = scoped
        .as_mut()
        .take_value()
        .expect("a finished task-local scope still holds its value");
    (output, actor.into_inner())
}

/// Calls `f` with the current actor of the task; `None` when the task runs no [`with_actor`]
/// scope, or when called from inside another `with_current` call of the same task.
///
/// Accesses recorded inside `f` are located at their line inside the closure.
pub fn with_current<R>(f: impl FnOnce(&mut Actor) -> R) -> Option<R> {
    CURRENT
        .try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut actor) => Some(f(&mut actor)),
            Err(_) => {
                tracing::debug!("raceway: nested with_current call, nothing recorded");
                None
            }
        })
        .ok()
        .flatten()
}

/// Spawns `future` on the current tokio runtime as a child actor of the calling task's current
/// actor: the child inherits the parent's clock (an `AsyncSpawn` event) and is the spawned
/// task's current actor, so code inside it records through [`with_current`] and can spawn
/// further. Awaiting the returned [`TracedJoinHandle`] joins the child's clock back into the
/// awaiting task's current actor (an `AsyncAwait` event).
///
/// Without a current actor the future is spawned as a plain task.
#[track_caller]
pub fn spawn<F>(name: &str, future: F) -> TracedJoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let location = caller_location();
    let spawned = location.clone();
    match with_current(move |parent| parent.spawn_child_at(name, spawned)) {
        Some(child) => TracedJoinHandle {
            inner: Inner::Traced(tokio::spawn(with_actor(child, future))),
            location,
        },
        None => TracedJoinHandle {
            inner: Inner::Plain(tokio::spawn(future)),
            location,
        },
    }
}

/// The handle of a task started with [`spawn`]: a future of the task's output (or the
/// `JoinError` of a panicked or cancelled task) that joins the child's clock into the awaiting
/// task's current actor when the task finished normally.
///
/// The `AsyncAwait` event is located where the task was spawned: a `Future::poll` cannot see
/// the `.await` that drives it.
pub struct TracedJoinHandle<T> {
    inner: Inner<T>,
    location: String,
}

enum Inner<T> {
    Traced(JoinHandle<(T, Actor)>),
    Plain(JoinHandle<T>),
}

impl<T> TracedJoinHandle<T> {
    /// Aborts the task, like `JoinHandle::abort`.
    pub fn abort(&self) {
        match &self.inner {
            Inner::Traced(handle) => handle.abort(),
            Inner::Plain(handle) => handle.abort(),
        }
    }
}

impl<T> Future for TracedJoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Both handles are Unpin, so the enum is too.
        let this = self.get_mut();
        match &mut this.inner {
            Inner::Plain(handle) => Pin::new(handle).poll(cx),
            Inner::Traced(handle) => {
                let result = ready!(Pin::new(handle).poll(cx));
                let location = &this.location;
                Poll::Ready(result.map(|(output, child)| {
                    with_current(|parent| parent.join_at(child, location.clone()));
                    output
                }))
            }
        }
    }
}

impl<T> std::fmt::Debug for TracedJoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracedJoinHandle").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemorySink, Tracer, TracerConfig};

    #[tokio::test]
    async fn current_actor_records_in_its_task_only() {
        let sink = MemorySink::new();
        let tracer = Tracer::new(TracerConfig::new("svc"), sink.clone()).unwrap();
        let mut parent = tracer.start_trace("parent");
        let child = parent.spawn_child("child");
        let child_name = child.name().to_string();

        assert!(with_current(|_| ()).is_none(), "no actor outside a scope");
        let (nested, child) = with_actor(child, async {
            tokio::task::yield_now().await;
            with_current(|actor| {
                actor.read("x", &1);
                with_current(|_| ())
            })
        })
        .await;
        assert_eq!(nested, Some(None), "nested call is refused, outer one runs");
        parent.join(child);
        tracer.shutdown().await.unwrap();

        let events = sink.events();
        let read = events
            .iter()
            .find(|e| e.state_change().is_some())
            .expect("the read was recorded");
        assert_eq!(read.metadata.thread_id, child_name);
        assert_eq!(events.len(), 3, "spawn, read, await");
    }
}

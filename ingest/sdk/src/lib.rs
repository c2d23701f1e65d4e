//! Raceway's Rust SDK: records what the threads and tasks of a service do, with a vector clock
//! per actor, and delivers the events in batches per trace (DESIGN.md "Event model", "Clocks").
//!
//! - A [`Tracer`] is configured once ([`TracerConfig`]) with a [`Sink`] ([`HttpSink`] to the
//!   ingest gateway, [`MemorySink`] in memory). Recording never blocks: a full queue drops and
//!   counts events ([`Tracer::dropped_events`]).
//! - An [`Actor`] is one thread or task: it records accesses ([`Actor::read`],
//!   [`Actor::write`], located at the caller's `file:line`), spawns and joins children, and
//!   carries the clock that orders its events. Every event is tagged
//!   `raceway.clock = actor-v1`, so the processors trust its clock.
//! - [`TrackedMutex`] orders critical sections (release -> acquire); [`with_actor`] and
//!   [`with_current`] give a tokio task a current actor.
//!
//! ```
//! use std::sync::Arc;
//! use raceway_sdk::{MemorySink, Tracer, TracerConfig, TrackedMutex};
//!
//! # fn main() -> Result<(), raceway_sdk::SdkError> {
//! let sink = MemorySink::new(); // or HttpSink::new("http://127.0.0.1:8080")?
//! let tracer = Tracer::new(TracerConfig::new("bank").environment("dev"), sink.clone())?;
//! let balance = Arc::new(TrackedMutex::new("balance", 100_i64));
//! let mut main = tracer.start_trace("main");
//! let (mut child, shared) = (main.spawn_child("withdraw"), balance.clone());
//! let worker = std::thread::spawn(move || {
//!     let mut guard = shared.lock(&mut child).expect("not poisoned");
//!     let (value, actor) = guard.split();
//!     actor.write("balance", &*value, &(*value - 30));
//!     *value -= 30;
//!     drop(guard);
//!     child
//! });
//! main.join(worker.join().expect("worker panicked"));
//! tracer.shutdown_blocking()?; // delivers what is buffered
//! assert_eq!(sink.event_count(), 5); // spawn, acquire, write, release, await
//! # Ok(())
//! # }
//! ```
//!
//! - Also: [`TrackedRwLock`], [`TrackedAsyncMutex`] (tokio), [`TrackedAtomic`] (release -> acquire), [`Tracked`] variables,
//!   [`spawn`] for tokio tasks that inherit and join clocks, function calls, errors, custom
//!   events and fences ([`Actor::call`], [`Actor::error`], [`Actor::custom`], [`Actor::fence`]),
//!   sampling and an off switch ([`TracerConfig::sample_rate`], [`TracerConfig::enabled`]),
//!   clock pruning ([`TracerConfig::prune_finished_after`]), Prometheus metrics
//!   (`TracerMetrics`, feature `metrics`), and [`propagation`] across services.
//!
//! Features: `http` (default) enables [`HttpSink`] (reqwest); `kafka` the Kafka sink and rdkafka
//! header adapters (rdkafka); `server` the tower layer (tower, http); `client` reqwest requests
//! that carry the trace context; `metrics` the Prometheus collector `TracerMetrics` (prometheus).
//! Without features the SDK pulls tokio with `rt`, `sync`, `time` and `macros` only.

mod actor;
mod async_mutex;
mod atomic;
mod config;
mod delivery;
mod error;
mod events;
mod held;
#[cfg(feature = "metrics")]
mod metrics;
mod mutex;
pub mod propagation;
mod prune;
mod recorded;
mod rwlock;
mod setters;
pub mod sink;
mod task;
mod tracer;
mod tracked;

pub use actor::{Actor, FinishedActor, Var};
pub use async_mutex::{TrackedAsyncMutex, TrackedAsyncMutexGuard};
pub use atomic::{
    AtomicInteger, AtomicPrimitive, TrackedAtomic, TrackedAtomicBool, TrackedAtomicI32,
    TrackedAtomicI64, TrackedAtomicIsize, TrackedAtomicU32, TrackedAtomicU64, TrackedAtomicUsize,
    WrappingArith,
};
pub use config::TracerConfig;
pub use error::SdkError;
#[cfg(feature = "metrics")]
pub use metrics::TracerMetrics;
pub use mutex::{TrackedMutex, TrackedMutexGuard};
#[cfg(feature = "client")]
pub use propagation::client::TracedRequest;
#[cfg(feature = "server")]
pub use propagation::server::RacewayLayer;
pub use propagation::TraceContext;
pub use raceway_schemas::VectorClock;
pub use rwlock::{TrackedReadGuard, TrackedRwLock, TrackedWriteGuard};
#[cfg(feature = "http")]
pub use sink::{HttpSink, RetryPolicy};
#[cfg(feature = "kafka")]
pub use sink::{KafkaSink, KafkaSinkConfig};
pub use sink::{MemorySink, Sink};
pub use task::{spawn, with_actor, with_current, TracedJoinHandle};
pub use tracer::{Tracer, TracerStats};
pub use tracked::Tracked;

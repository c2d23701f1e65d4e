//! The event model: one [`Event`] is one step of one actor.
//!
//! These types are what every other crate works with. The wire forms (Avro on Kafka, the Raceway
//! JSON format on the HTTP gateway) are converted to and from them in [`crate::avro`] and
//! [`crate::json`]. Values of arbitrary JSON (function arguments, old and new values, bodies,
//! custom data) are kept as strings holding JSON text, exactly as the Avro schema stores them.

use std::collections::BTreeMap;
use std::fmt;

use uuid::Uuid;

/// Metadata tag that marks an event whose clock was produced by our SDK (DESIGN.md "Clocks").
pub const TRUSTED_CLOCK_TAG: &str = "raceway.clock";
/// Value of [`TRUSTED_CLOCK_TAG`] for clocks kept per actor by our SDK.
pub const TRUSTED_CLOCK_VALUE: &str = "actor-v1";

/// One recorded step of one actor (a thread or task of a service instance).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: Uuid,
    pub trace_id: Uuid,
    pub parent_id: Option<Uuid>,
    /// Nanoseconds since the Unix epoch.
    pub timestamp_ns: i64,
    pub kind: EventKind,
    pub metadata: Metadata,
    /// The event's vector clock as (component, counter) pairs, as sent.
    pub causality_vector: Vec<(String, u64)>,
    /// Locks the actor held, as sent. The existing SDKs always send none; the processors rebuild
    /// lock sets from LockAcquire/LockRelease events.
    pub lock_set: Vec<String>,
}

impl Event {
    /// True when this event's clock comes from our SDK and may be used as is.
    pub fn has_trusted_clock(&self) -> bool {
        !self.causality_vector.is_empty()
            && self
                .metadata
                .tags
                .get(TRUSTED_CLOCK_TAG)
                .map(String::as_str)
                == Some(TRUSTED_CLOCK_VALUE)
    }

    /// The actor that performed this event: service, instance and thread (or task).
    pub fn actor(&self) -> ActorId {
        ActorId {
            service: self.metadata.service_name.clone(),
            instance: self.metadata.instance_id.clone().unwrap_or_default(),
            thread: self.metadata.thread_id.clone(),
        }
    }

    /// The state access this event records, if it is a [`EventKind::StateChange`].
    pub fn state_change(&self) -> Option<&StateChange> {
        match &self.kind {
            EventKind::StateChange(change) => Some(change),
            _ => None,
        }
    }
}

/// Who performed an event. Tasks serving different requests are different actors.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActorId {
    pub service: String,
    pub instance: String,
    pub thread: String,
}

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.instance.is_empty() {
            write!(f, "{}/{}", self.service, self.thread)
        } else {
            write!(f, "{}#{}/{}", self.service, self.instance, self.thread)
        }
    }
}

/// Who, where and how long: the context of an event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metadata {
    pub thread_id: String,
    pub process_id: u32,
    pub service_name: String,
    pub environment: String,
    pub tags: BTreeMap<String, String>,
    /// Inclusive duration of the step, when the SDK measured one.
    pub duration_ns: Option<u64>,
    pub instance_id: Option<String>,
    pub distributed_span_id: Option<String>,
    pub upstream_span_id: Option<String>,
}

/// What happened. The variants are the Avro union `raceway.EventKind`, in schema order.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    FunctionCall(FunctionCall),
    AsyncSpawn(AsyncSpawn),
    AsyncAwait(AsyncAwait),
    StateChange(StateChange),
    LockAcquire(LockEvent),
    LockRelease(LockEvent),
    MemoryFence(MemoryFence),
    HttpRequest(HttpRequest),
    HttpResponse(HttpResponse),
    DatabaseQuery(DatabaseQuery),
    DatabaseResult(DatabaseResult),
    Error(ErrorEvent),
    MessageSend(MessageEvent),
    MessageReceive(MessageEvent),
    /// Anything else, including kinds we do not know (kept, never rejected).
    Custom(Custom),
}

impl EventKind {
    /// Every kind's name, in variant order, which is also the order of the Avro `kind` union
    /// (a test checks it against `event.avsc`).
    pub const NAMES: [&'static str; 15] = [
        "FunctionCall",
        "AsyncSpawn",
        "AsyncAwait",
        "StateChange",
        "LockAcquire",
        "LockRelease",
        "MemoryFence",
        "HttpRequest",
        "HttpResponse",
        "DatabaseQuery",
        "DatabaseResult",
        "Error",
        "MessageSend",
        "MessageReceive",
        "Custom",
    ];

    /// The kind's name as it appears in the JSON format and in the store.
    #[inline]
    pub fn name(&self) -> &'static str {
        Self::NAMES[self.index()]
    }

    /// The kind's position in [`EventKind::NAMES`] (variant order): the branch of the Avro
    /// `kind` union, and a slot per kind for whoever keeps something per kind.
    #[inline]
    pub fn index(&self) -> usize {
        match self {
            EventKind::FunctionCall(_) => 0,
            EventKind::AsyncSpawn(_) => 1,
            EventKind::AsyncAwait(_) => 2,
            EventKind::StateChange(_) => 3,
            EventKind::LockAcquire(_) => 4,
            EventKind::LockRelease(_) => 5,
            EventKind::MemoryFence(_) => 6,
            EventKind::HttpRequest(_) => 7,
            EventKind::HttpResponse(_) => 8,
            EventKind::DatabaseQuery(_) => 9,
            EventKind::DatabaseResult(_) => 10,
            EventKind::Error(_) => 11,
            EventKind::MessageSend(_) => 12,
            EventKind::MessageReceive(_) => 13,
            EventKind::Custom(_) => 14,
        }
    }
}

/// A function was entered.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FunctionCall {
    pub function_name: String,
    pub module: String,
    /// JSON text.
    pub args: String,
    pub file: String,
    pub line: u32,
}

/// A task or goroutine was spawned. Task ids are free-form: the Go SDK sends non-UUID ids.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AsyncSpawn {
    pub task_id: String,
    pub spawned_by: String,
    pub task_name: Option<String>,
    pub spawned_at: Option<String>,
}

/// A future or task was awaited (joined).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AsyncAwait {
    pub future_id: String,
    pub awaited_at: String,
}

/// A read or write of shared state.
#[derive(Debug, Clone, PartialEq)]
pub struct StateChange {
    pub variable: String,
    /// JSON text, when the SDK knew the previous value.
    pub old_value: Option<String>,
    /// JSON text.
    pub new_value: String,
    pub location: String,
    pub access_type: AccessType,
}

/// How a [`StateChange`] touched its variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccessType {
    Read,
    Write,
    AtomicRead,
    AtomicWrite,
    AtomicRMW,
}

impl AccessType {
    /// Every access type, in Avro enum order.
    pub const ALL: [AccessType; 5] = [
        AccessType::Read,
        AccessType::Write,
        AccessType::AtomicRead,
        AccessType::AtomicWrite,
        AccessType::AtomicRMW,
    ];

    /// The name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessType::Read => "Read",
            AccessType::Write => "Write",
            AccessType::AtomicRead => "AtomicRead",
            AccessType::AtomicWrite => "AtomicWrite",
            AccessType::AtomicRMW => "AtomicRMW",
        }
    }

    /// Parses a wire name; `None` for an unknown name.
    pub fn parse(name: &str) -> Option<AccessType> {
        AccessType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// True for accesses that change the variable.
    pub fn is_write(self) -> bool {
        matches!(
            self,
            AccessType::Write | AccessType::AtomicWrite | AccessType::AtomicRMW
        )
    }

    /// True for atomic accesses, which never race with each other.
    pub fn is_atomic(self) -> bool {
        matches!(
            self,
            AccessType::AtomicRead | AccessType::AtomicWrite | AccessType::AtomicRMW
        )
    }
}

/// A lock was acquired or released.
#[derive(Debug, Clone, PartialEq)]
pub struct LockEvent {
    pub lock_id: String,
    pub mode: LockMode,
    /// The lock type exactly as sent (`Mutex`, `RwLock::Read`, `RWLock-Write`, ...).
    pub lock_type: String,
    pub location: String,
}

/// Whether a held lock excludes readers too (exclusive) or only writers (shared).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LockMode {
    Exclusive,
    Shared,
}

impl LockMode {
    /// The mode of a lock type as the SDKs spell it: read locks (`RwLock::Read`, `RWLock-Read`,
    /// any case) are shared, everything else (`Mutex`, write locks, unknown types) exclusive.
    /// Whether a lock excludes at all is [`LockKind::of`]'s question.
    pub fn from_lock_type(lock_type: &str) -> LockMode {
        match LockKind::of(lock_type) {
            LockKind::Known(LockExclusion::Shared) => LockMode::Shared,
            _ => LockMode::Exclusive,
        }
    }

    /// The name used in stored lock sets.
    pub fn as_str(self) -> &'static str {
        match self {
            LockMode::Exclusive => "exclusive",
            LockMode::Shared => "shared",
        }
    }
}

/// What holding a lock of some type guarantees about other holders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockExclusion {
    /// One holder at a time (`Mutex`, a write lock): it excludes every other hold.
    Exclusive,
    /// A read lock: holders overlap each other, and exclude only exclusive holders.
    Shared,
    /// Holders overlap whatever they hold (`Semaphore`: the SDKs record no permit count, so
    /// nothing says a second holder had to wait).
    None,
}

/// How the analyses treat a lock type as the SDKs spell it (`Mutex`, `RwLock::Read`,
/// `RWLock-Write`, `Semaphore`, ...): matched case-insensitively with separators (`:`, `-`, `_`,
/// `.`, spaces) ignored.
///
/// A type not in the known lists is [`LockKind::Unknown`] and treated as exclusive, the
/// assumption every lock type had before types were told apart: it can hide a race behind a lock
/// that did not exclude, so findings name such types (see the findings' explanations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockKind {
    /// A type whose exclusion is known.
    Known(LockExclusion),
    /// A type we do not know, treated as exclusive.
    Unknown,
}

impl LockKind {
    /// Exclusive types: mutexes, plain and re-entrant locks, write locks (and an `RwLock` with
    /// no mode, which the SDKs send for the write side).
    const EXCLUSIVE: [&'static str; 16] = [
        "mutex",
        "lock",
        "rlock",
        "reentrantlock",
        "spinlock",
        "syncmutex",
        "rwlock",
        "rwlockwrite",
        "rwlockwriter",
        "rwmutex",
        "rwmutexwrite",
        "rwmutexlock",
        "syncrwmutex",
        "writelock",
        "asynciolock",
        "threadinglock",
    ];
    /// Shared types: read locks.
    const SHARED: [&'static str; 6] = [
        "rwlockread",
        "rwlockreader",
        "rwmutexread",
        "rwmutexrlock",
        "readlock",
        "syncrwmutexrlock",
    ];

    /// The kind of `lock_type`.
    pub fn of(lock_type: &str) -> LockKind {
        // Normalised on the stack when short and ASCII (every name above, and what the SDKs
        // send): the analyses ask at every acquire and release.
        let mut buffer = [0u8; 32];
        let mut len = 0;
        let mut short = true;
        for byte in lock_type.bytes() {
            if matches!(byte, b':' | b'-' | b'_' | b'.' | b' ') {
                continue;
            }
            if !byte.is_ascii() || len == buffer.len() {
                short = false;
                break;
            }
            buffer[len] = byte.to_ascii_lowercase();
            len += 1;
        }
        if short {
            // ASCII bytes only, so always valid UTF-8.
            return Self::of_normalised(std::str::from_utf8(&buffer[..len]).unwrap_or_default());
        }
        let name: String = lock_type
            .chars()
            .filter(|c| !matches!(c, ':' | '-' | '_' | '.' | ' '))
            .map(|c| c.to_ascii_lowercase())
            .collect();
        Self::of_normalised(&name)
    }

    /// The kind of a lock type without separators, in lower case.
    fn of_normalised(name: &str) -> LockKind {
        if name.contains("semaphore") {
            LockKind::Known(LockExclusion::None)
        } else if Self::SHARED.contains(&name) {
            LockKind::Known(LockExclusion::Shared)
        } else if Self::EXCLUSIVE.contains(&name) {
            LockKind::Known(LockExclusion::Exclusive)
        } else if name.contains("rwlock") && name.ends_with("read") {
            LockKind::Known(LockExclusion::Shared)
        } else {
            LockKind::Unknown
        }
    }

    /// False only for types that exclude nobody (semaphores).
    pub fn excludes(self) -> bool {
        self != LockKind::Known(LockExclusion::None)
    }
}

/// A memory fence with its ordering.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryFence {
    pub ordering: MemoryOrdering,
    pub location: String,
}

/// Memory orderings of atomics and fences (C++/Rust names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MemoryOrdering {
    Relaxed,
    Acquire,
    Release,
    AcqRel,
    SeqCst,
}

impl MemoryOrdering {
    /// Every ordering, in Avro enum order.
    pub const ALL: [MemoryOrdering; 5] = [
        MemoryOrdering::Relaxed,
        MemoryOrdering::Acquire,
        MemoryOrdering::Release,
        MemoryOrdering::AcqRel,
        MemoryOrdering::SeqCst,
    ];

    /// The name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            MemoryOrdering::Relaxed => "Relaxed",
            MemoryOrdering::Acquire => "Acquire",
            MemoryOrdering::Release => "Release",
            MemoryOrdering::AcqRel => "AcqRel",
            MemoryOrdering::SeqCst => "SeqCst",
        }
    }

    /// Parses a wire name; `None` for an unknown name.
    pub fn parse(name: &str) -> Option<MemoryOrdering> {
        MemoryOrdering::ALL.into_iter().find(|o| o.as_str() == name)
    }
}

/// An outgoing or incoming HTTP request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    /// Header name and value pairs; `Authorization` and `Cookie` values are redacted on ingest.
    pub headers: Vec<(String, String)>,
    /// JSON text.
    pub body: Option<String>,
}

/// An HTTP response.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// JSON text.
    pub body: Option<String>,
    pub duration_ms: u64,
}

/// A database query was sent.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DatabaseQuery {
    pub query: String,
    pub database: String,
    pub duration_ms: u64,
}

/// A database query returned.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DatabaseResult {
    pub rows_affected: u64,
}

/// An error was raised.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ErrorEvent {
    pub error_type: String,
    pub message: String,
    pub stack_trace: Vec<String>,
}

/// A message was sent to or received from a topic (Kafka).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MessageEvent {
    pub topic: String,
    pub partition: Option<i32>,
    pub offset: Option<i64>,
    pub key: Option<String>,
    pub location: String,
}

/// A user-defined event, or a kind this version does not know (then `name` is the kind's name and
/// `data` its JSON payload).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Custom {
    pub name: String,
    /// JSON text.
    pub data: String,
}

/// Events that travel together in one Kafka record (Avro `raceway.EventBatch`), keyed by
/// `trace_id`: one trace's events, or (from the ingest gateway) the events of several traces whose
/// ids place them in the same partition as `trace_id`. Readers take each event's own trace id.
#[derive(Debug, Clone, PartialEq)]
pub struct EventBatch {
    pub trace_id: Uuid,
    pub events: Vec<Event>,
}

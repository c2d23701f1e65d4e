//! The record the trace stage forwards to the race stage (topic `raceway.accesses`, key = variable).

use std::sync::Arc;

use uuid::Uuid;

use crate::compact_clock::CompactClock;
use crate::model::{AccessType, ActorId, LockMode};

/// A lock held while an access happened, with the mode it was taken in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HeldLock {
    pub lock_id: String,
    pub mode: LockMode,
}

/// One shared-state access with its final happens-before information: the clock the trace stage
/// settled on (trusted as sent, or derived) and the lock set rebuilt from acquire/release events.
///
/// The names that repeat across accesses (environment, variable, location, actor, lock set) are
/// shared `Arc`s, one copy per name from a [`SharedNames`](crate::SharedNames) table (see the
/// `names` module for why); an access owns only its clock and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Access {
    pub event_id: Uuid,
    pub trace_id: Uuid,
    pub timestamp_ns: i64,
    /// Variables are named per environment (DESIGN.md "Clocks").
    pub environment: Arc<str>,
    pub variable: Arc<str>,
    pub access_type: AccessType,
    pub location: Arc<str>,
    /// JSON text of the value read or written.
    pub value: String,
    /// JSON text of the value before a write, when known.
    pub old_value: Option<String>,
    pub actor: Arc<ActorId>,
    /// The final vector clock, over a table of component names shared with the other accesses
    /// of the trace (or of the decoded batch).
    pub clock: CompactClock,
    /// True when `clock` came from our SDK; false when the trace stage derived it.
    pub trusted_clock: bool,
    pub locks: Arc<[HeldLock]>,
    /// The time span of the access's trace, for the cross-trace overlap guard.
    pub trace_start_ns: i64,
    pub trace_end_ns: i64,
}

impl Access {
    /// The key the access is partitioned by: environment and variable name.
    pub fn partition_key(&self) -> String {
        format!("{}/{}", self.environment, self.variable)
    }
}

//! The record the trace stage produces for lost-update analysis: one [`UpdateSpan`] per
//! read-modify-write of a variable by one actor (the actor's latest read of the variable before a
//! write of it, with no write of its own in between). It goes to the race stage with the same key
//! as the write's [`Access`] ([`UpdateSpan::partition_key`]), so that it meets every other write
//! of the variable there.
//!
//! Why the trace stage pairs the read with the write: only it sees the actor's whole program
//! order and its lock acquisitions. Pairing them in the race stage would depend on which of the
//! actor's accesses had arrived yet, and arrival order must never change a verdict.

use uuid::Uuid;

use crate::access::{Access, HeldLock};
use crate::compact_clock::CompactClock;

/// The read half of a read-modify-write.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateRead {
    /// The read's event.
    pub event_id: Uuid,
    pub timestamp_ns: i64,
    pub location: String,
    /// JSON text of the value read.
    pub value: String,
    /// The read's final vector clock (usually over the same table as the write's).
    pub clock: CompactClock,
}

/// A read-modify-write: `write` completes `read`, both by the same actor in the same trace.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateSpan {
    /// The read, which the write's value was presumably computed from.
    pub read: UpdateRead,
    /// The write, exactly as forwarded as an [`Access`].
    pub write: Access,
    /// Locks the actor held without a break from the read through the write, with their modes:
    /// another write under one of them (in an excluding mode) cannot fall between the two.
    pub held_throughout: Vec<HeldLock>,
}

impl UpdateSpan {
    /// The key the span is partitioned by: the write's (environment/variable).
    pub fn partition_key(&self) -> String {
        self.write.partition_key()
    }
}

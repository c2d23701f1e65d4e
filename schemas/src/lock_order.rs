//! The record the trace stage produces for lock-order analysis: one [`LockOrderEdge`] per
//! "actor acquired lock B while holding lock A" in a trace. The race stage groups edges by the
//! sorted lock pair (key [`LockOrderEdge::partition_key`]) and reports two actors that took the
//! same two locks in opposite orders.

use uuid::Uuid;

use crate::access::HeldLock;
use crate::model::{ActorId, LockMode};

/// One lock acquisition, as a side of a lock-order edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockAcquisition {
    /// The LockAcquire event.
    pub event_id: Uuid,
    pub lock_id: String,
    pub mode: LockMode,
    pub location: String,
    pub timestamp_ns: i64,
    /// The acquire event's final vector clock, sorted by component.
    pub clock: Vec<(String, u64)>,
    /// The lock type as sent (`Mutex`, `RwLock::Read`, ...); empty when the record predates
    /// lock types ([`crate::framing::LOCK_ORDER_EDGE_V1_SCHEMA_ID`]).
    pub lock_type: String,
}

/// Actor `actor` acquired `acquired` while holding `held` (taken earlier and not yet released).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockOrderEdge {
    pub trace_id: Uuid,
    /// Lock ids are named per environment, like variables.
    pub environment: String,
    pub actor: ActorId,
    /// The lock held (taken first).
    pub held: LockAcquisition,
    /// The lock taken while holding `held`.
    pub acquired: LockAcquisition,
    /// What the actor knew just before it acquired `held`: the join of the clocks of the acquire
    /// event's predecessors other than lock hand-overs (derived clocks), or the clock of the
    /// actor's previous event (trusted clocks). Empty when unknown; an empty clock orders nothing.
    pub start_clock: Vec<(String, u64)>,
    /// Other locks held without a break from before `held` was taken until `acquired` was:
    /// guard locks, which serialise the whole nested section.
    pub guards: Vec<HeldLock>,
    /// True when the clocks came from our SDK; false when the trace stage derived them.
    pub trusted_clock: bool,
    /// The time span of the edge's trace, for the cross-trace overlap guard.
    pub trace_start_ns: i64,
    pub trace_end_ns: i64,
}

impl LockOrderEdge {
    /// The two lock ids, sorted: the identity of the lock pair whatever the direction.
    pub fn lock_pair(&self) -> (&str, &str) {
        let (a, b) = (self.held.lock_id.as_str(), self.acquired.lock_id.as_str());
        if a <= b {
            (a, b)
        } else {
            (b, a)
        }
    }

    /// The key edges are partitioned by: their environment alone. A cycle of any length must
    /// meet in one place, and its edges share no lock pair (a -> b, b -> c, c -> a), so keying by
    /// pair would send them to different processors, which would each miss the cycle.
    pub fn partition_key(&self) -> String {
        format!("{}/lock-order", self.environment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acquisition(lock_id: &str) -> LockAcquisition {
        LockAcquisition {
            event_id: Uuid::nil(),
            lock_id: lock_id.into(),
            mode: LockMode::Exclusive,
            location: "a.rs:1".into(),
            timestamp_ns: 0,
            clock: Vec::new(),
            lock_type: "Mutex".into(),
        }
    }

    #[test]
    fn every_edge_of_an_environment_shares_the_partition_key() {
        let mut edge = LockOrderEdge {
            trace_id: Uuid::nil(),
            environment: "prod".into(),
            actor: ActorId {
                service: "web".into(),
                instance: "1".into(),
                thread: "t".into(),
            },
            held: acquisition("b"),
            acquired: acquisition("a"),
            start_clock: Vec::new(),
            guards: Vec::new(),
            trusted_clock: false,
            trace_start_ns: 0,
            trace_end_ns: 0,
        };
        assert_eq!(edge.lock_pair(), ("a", "b"));
        let key = edge.partition_key();
        std::mem::swap(&mut edge.held, &mut edge.acquired);
        assert_eq!(edge.partition_key(), key);
        edge.acquired = acquisition("c");
        assert_eq!(edge.partition_key(), key);
        assert_eq!(key, "prod/lock-order");
        edge.environment = "staging".into();
        assert_ne!(edge.partition_key(), key);
    }
}

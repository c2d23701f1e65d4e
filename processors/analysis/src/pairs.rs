//! What the race detector reports: pairs of accesses, and for a lost update the
//! read-modify-write it breaks.

use std::sync::Arc;

use raceway_schemas::{Access, FindingKind, UpdateRead};
use uuid::Uuid;

/// For a lost-update pair: which write completed which read.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateContext {
    /// The event id of the write of the read-modify-write (one of the pair's sides).
    pub write_event_id: Uuid,
    /// The read it completed.
    pub read: UpdateRead,
}

/// Two accesses that race, `first` being the earlier by (timestamp, event id), so that the pair
/// does not depend on which side arrived first.
#[derive(Debug, Clone, PartialEq)]
pub struct RacePair {
    /// The earlier access.
    pub first: Arc<Access>,
    /// The later access.
    pub second: Arc<Access>,
    /// What kind of finding the pair is evidence for.
    pub kind: FindingKind,
    /// For `lost_update`: the read-modify-write whose write is one of the sides.
    pub update: Option<Arc<UpdateContext>>,
}

impl RacePair {
    /// Builds a pair of `kind`, putting the earlier access first.
    pub fn new(a: Arc<Access>, b: Arc<Access>, kind: FindingKind) -> Self {
        let (first, second) = if (a.timestamp_ns, a.event_id) <= (b.timestamp_ns, b.event_id) {
            (a, b)
        } else {
            (b, a)
        };
        RacePair {
            first,
            second,
            kind,
            update: None,
        }
    }

    /// A `lost_update` pair: `write`, the write of the read-modify-write `update`, and `other`,
    /// a write that can fall inside it.
    pub fn lost_update(write: Arc<Access>, update: Arc<UpdateContext>, other: Arc<Access>) -> Self {
        let mut pair = RacePair::new(write, other, FindingKind::LostUpdate);
        pair.update = Some(update);
        pair
    }
}

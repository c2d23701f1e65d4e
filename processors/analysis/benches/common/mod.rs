//! Event builders both benchmarks use.

use raceway_schemas::{EventKind, LockEvent, LockMode};

/// A `Mutex` acquisition (`acquire = true`) or release of `lock_id` at `location`.
pub fn mutex(lock_id: String, location: &str, acquire: bool) -> EventKind {
    let event = LockEvent {
        lock_id,
        mode: LockMode::Exclusive,
        lock_type: "Mutex".into(),
        location: location.into(),
    };
    if acquire {
        EventKind::LockAcquire(event)
    } else {
        EventKind::LockRelease(event)
    }
}

//! What every benchmark of this crate shares: the `raceway` binary's global allocator, and
//! event builders.

/// The allocator of the `raceway` binary (`src/main.rs`), so that allocation costs here are the
/// deployed ones: glibc's malloc is slower on these many small objects and would misplace the
/// hot spots.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

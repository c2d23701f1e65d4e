//! The event model of Raceway and its wire forms.
//!
//! - [`model`]: the Rust types (`Event`, `EventKind`, ...).
//! - [`clock`]: [`VectorClock`], the one representation of happens-before, shared by the SDK
//!   that stamps events and the analyses that compare them.
//! - [`compact_clock`]: [`CompactClock`], the clocks of the race inputs over a table of component
//!   names shared per trace or decoded batch; [`JoinedClock`], one built by joins and increments
//!   (a trace's derived clocks), valid by construction.
//! - [`avro`]: Avro encoding of `EventBatch` and `Access` records; the `.avsc` files under
//!   `schemas/avro/` are the source of truth.
//! - [`framing`]: Confluent wire framing (magic byte 0, 4-byte schema id) with fixed schema ids.
//! - [`json`]: the Raceway JSON format that the existing SDKs send to `POST /events`.
//! - [`access`], [`update`], [`lock_order`], [`finding`]: the records passed between the processor
//!   stages and to the store.
//! - [`names`]: [`SharedNames`], the one shared copy of each name repeated across race inputs.
//! - [`error`]: [`SchemaError`], the error of the Avro codecs and the framing.

// The integration tests' sample events (`tests/common`) name the crate; unit tests share them.
#[cfg(test)]
extern crate self as raceway_schemas;

pub mod access;
pub mod avro;
pub mod clock;
pub mod compact_clock;
pub mod error;
pub mod finding;
pub mod framing;
mod joined_clock;
pub mod json;
pub mod lock_order;
pub mod model;
pub mod names;
pub mod notice;
#[cfg(feature = "openapi")]
pub mod openapi;
mod packing;
pub mod update;

pub use access::{Access, HeldLock};
pub use clock::VectorClock;
pub use compact_clock::{
    component_names, ClockTable, CompactClock, ComponentIndex, ComponentNames, Renumbering,
};
pub use error::SchemaError;
pub use finding::{FindingEvent, FindingKind, RaceFinding, Severity};
pub use joined_clock::{join_entries, JoinedClock};
pub use lock_order::{LockAcquisition, LockOrderEdge};
pub use model::*;
pub use names::SharedNames;
pub use update::{UpdateRead, UpdateSpan};

//! raceway-analysis: Raceway's pure analyses. No I/O, no async, no broker or store: the streaming
//! runtime (`raceway-processors`) feeds these with events and accesses and stores what they
//! return, so every rule here can be tested with plain values.
//!
//! Modules, one analysis each:
//!
//! - [`causality`]: happens-before for one trace: the final clock of every event (trusted as sent,
//!   or derived from program order, parent links, upstream spans, lock hand-overs and atomics),
//!   the lock set rebuilt for every event, and a deterministic causal order.
//! - [`accesses`]: the shared-state accesses of a trace with their clocks and lock sets, as the
//!   trace stage forwards them to the race stage.
//! - [`races`]: the data race rule and [`RaceDetector`], which compares accesses per variable as
//!   they arrive, in any order and across traces.
//! - [`findings`]: [`FindingAggregator`], which deduplicates race pairs into findings with
//!   deterministic ids, counts and representative pairs.
//! - [`updates`]: the read-modify-writes of a trace ([`UpdateSpan`](raceway_schemas::UpdateSpan)s),
//!   and [`lost_updates`]: the lost-update rule, which [`RaceDetector`] applies to them.
//! - [`lock_order`]: lock-order edges of a trace and [`LockOrderDetector`], which finds
//!   inversions per sorted lock pair.
//! - [`inputs`]: [`race_inputs`], everything the trace stage forwards for one trace.
//! - [`time_travel`]: the state of a trace after any step of its causal order (variables, threads
//!   and their locks), and the differences between two such states.
//! - `scenarios` (feature `scenarios`): loading and scoring the labeled race scenarios.
//!
//! Internal helpers: `graph` (cycle breaking and priority topological order for derived clocks),
//! `interning` (a fast hasher for the race stage's internal keys),
//! `locksets` (per-actor lock hold replay) and `retention` (which accesses the race detector keeps,
//! and why dropping the others is sound, with compact clocks over dense component ids).

#![warn(missing_docs)]

pub mod accesses;
pub mod anomalies;
pub mod causality;
pub mod findings;
mod graph;
pub mod inputs;
mod interning;
pub mod lock_order;
mod locksets;
pub mod lost_updates;
pub mod races;
mod retention;
#[cfg(feature = "scenarios")]
pub mod scenarios;
#[cfg(test)]
mod testing;
pub mod time_travel;
pub mod trace;
pub mod updates;

pub use accesses::{accesses_with, trace_accesses, trace_span};
pub use causality::{
    access_ordering, trace_causality, EventCausality, TraceCausality, ORDERING_TAG,
};
pub use findings::{
    explain, explain_inversion, finding_id, inversion_id, severity, FindingAggregator,
    DEFAULT_MAX_PAIRS_PER_FINDING, FINDING_NAMESPACE,
};
pub use inputs::{race_inputs, race_inputs_with, RaceInputs};
pub use lock_order::{
    is_lock_order_inversion, lock_order_edges, lock_order_edges_with, InversionPair,
    LockOrderDetector,
};
pub use lost_updates::{is_lost_update, span_lock_protects};
pub use races::{
    common_lock_protects, is_data_race, trace_spans_overlap, Observation, RaceConfig, RaceDetector,
    RacePair, UpdateContext,
};
/// The clock type lives with the event model; re-exported for the analyses' users.
pub use raceway_schemas::VectorClock;
pub use updates::{trace_update_spans, update_spans_with};

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
//! - [`rules`]: the race rules, side by side: [`is_data_race`], [`is_lost_update`] and
//!   [`is_lock_order_inversion`].
//! - [`races`]: [`RaceDetector`], which compares accesses and update spans per variable as they
//!   arrive, in any order and across traces, and reports the pairs the rules accept
//!   ([`RacePair`]s, of module [`pairs`]); [`RaceConfig`] (module [`config`]) sets it up.
//! - [`findings`]: [`FindingAggregator`], which deduplicates race pairs into findings with
//!   deterministic ids, counts and representative pairs.
//! - [`updates`]: the read-modify-writes of a trace ([`UpdateSpan`](raceway_schemas::UpdateSpan)s),
//!   which [`RaceDetector`] checks with the lost-update rule.
//! - [`lock_order`]: lock-order edges of a trace and [`LockOrderDetector`], which finds
//!   inversions per sorted lock pair.
//! - [`inputs`]: [`race_inputs`], everything the trace stage forwards for one trace.
//! - [`time_travel`]: the state of a trace after any step of its causal order (variables, threads
//!   and their locks), and the differences between two such states.
//! - [`percentile`]: nearest-rank percentiles, shared by dependencies and service health.
//! - [`service_health`]: a service's latency percentiles, error and anomaly rates, and its trend
//!   against its own earlier history.
//! - `scenarios` (feature `scenarios`): loading and scoring the labeled race scenarios.
//!
//! Internal helpers: `graph` (cycle breaking and priority topological order for derived clocks),
//! `interning` (shared copies of the strings that repeat across retained accesses),
//! `locksets` (per-actor lock hold replay) and `retention` (which accesses the race detector keeps,
//! and why dropping the others is sound, with compact clocks over dense component ids).
//!
//! Imports between these modules form no cycle: `rules`, `config`, `pairs`, `graph` and
//! `locksets` depend on no other module; `retention` and `races` (the detector engine) build on
//! the rules; the per-trace extractions (`causality`, `accesses`, `updates`, `lock_order`,
//! `inputs`, `trace`) build on each other in that order.

#![warn(missing_docs)]

pub mod accesses;
pub mod anomalies;
pub mod causality;
pub mod config;
pub mod findings;
mod graph;
pub mod inputs;
mod interning;
pub mod lock_order;
mod locksets;
pub mod pairs;
pub mod percentile;
pub mod races;
mod retention;
pub mod rules;
#[cfg(feature = "scenarios")]
pub mod scenarios;
pub mod service_health;
mod short_text;
pub mod simulate;
#[cfg(test)]
mod testing;
pub mod time_travel;
pub mod trace;
pub mod updates;

pub use accesses::{accesses_with, trace_accesses, trace_span};
pub use causality::{
    access_ordering, trace_causality, EventCausality, TraceCausality, ORDERING_TAG,
};
pub use config::RaceConfig;
pub use findings::{
    explain, explain_inversion, finding_id, inversion_id, severity, FindingAggregator,
    DEFAULT_MAX_PAIRS_PER_FINDING, FINDING_NAMESPACE,
};
pub use inputs::{race_inputs, race_inputs_with, RaceInputs};
pub use lock_order::{lock_order_edges, lock_order_edges_with, LockCycle, LockOrderDetector};
pub use pairs::{RacePair, UpdateContext};
pub use races::{EvictedIds, Observation, RaceDetector};
/// The clock type lives with the event model; re-exported for the analyses' users.
pub use raceway_schemas::VectorClock;
pub use rules::{
    common_lock_protects, is_data_race, is_lock_order_cycle, is_lock_order_inversion,
    is_lost_update, span_lock_protects, trace_spans_overlap,
};
pub use updates::{trace_update_spans, update_spans_with};

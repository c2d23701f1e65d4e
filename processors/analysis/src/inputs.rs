//! Everything the trace stage forwards to the race stage for one trace, from one happens-before
//! computation: accesses (topic key: environment/variable), update spans (same key as their
//! write) and lock-order edges (key: environment and sorted lock pair).

use raceway_schemas::{Access, Event, LockOrderEdge, UpdateSpan};

use crate::accesses::accesses_with;
use crate::causality::{trace_causality, TraceCausality};
use crate::lock_order::lock_order_edges_with;
use crate::updates::update_spans_reusing;

/// The race-stage inputs of one trace.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RaceInputs {
    /// One per StateChange, in causal order: feed to [`crate::RaceDetector::observe`].
    pub accesses: Vec<Access>,
    /// One per read-modify-write: feed to [`crate::RaceDetector::observe_update`].
    pub updates: Vec<UpdateSpan>,
    /// One per nested lock acquisition: feed to [`crate::LockOrderDetector::observe`].
    pub lock_edges: Vec<LockOrderEdge>,
}

/// The race-stage inputs of one trace (events in any order).
pub fn race_inputs(events: &[Event]) -> RaceInputs {
    race_inputs_with(events, &trace_causality(events))
}

/// Like [`race_inputs`], reusing a [`TraceCausality`] already computed for the events.
pub fn race_inputs_with(events: &[Event], causality: &TraceCausality) -> RaceInputs {
    let accesses = accesses_with(events, causality);
    RaceInputs {
        updates: update_spans_reusing(events, causality, &accesses),
        accesses,
        lock_edges: lock_order_edges_with(events, causality),
    }
}

//! Everything the trace stage forwards to the race stage for one trace, from one happens-before
//! computation: accesses (topic key: environment/variable), update spans (same key as their
//! write) and lock-order edges (key: environment and sorted lock pair).

use raceway_schemas::{Access, Event, LockOrderEdge, UpdateSpan};

use crate::accesses::{accesses_taking_clocks, accesses_with};
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

/// The race-stage inputs of one trace (events in any order). The causality is computed here
/// and dropped after, so the accesses take their clocks from it instead of copying them: the
/// lock-order edges, which read clocks of other events too, are built first, and the update
/// spans read their reads' clocks from the accesses.
pub fn race_inputs(events: &[Event]) -> RaceInputs {
    let mut causality = trace_causality(events);
    let lock_edges = lock_order_edges_with(events, &causality);
    let accesses = accesses_taking_clocks(events, &mut causality);
    RaceInputs {
        updates: update_spans_reusing(events, &causality, &accesses),
        accesses,
        lock_edges,
    }
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

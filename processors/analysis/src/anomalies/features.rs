//! [`TraceFeatures`]: the shape of one trace as numbers, what the trace models learn from.
//!
//! Counts and durations enter the models on a log scale ([`TraceFeatures::to_vector`]): a trace
//! of 10,000 events is unusual next to ones of 100, but one of 110 is not, and without the log
//! the largest traces would dominate every distance.

use foldhash::HashSet;
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::trace::{CriticalPath, LinkKind, TraceTree};

/// Number of model features.
pub const FEATURE_COUNT: usize = 12;

/// Names of the model features, in [`TraceFeatures::to_vector`] order. Persisted models carry
/// them, so a model trained on other features is refused rather than misread.
pub const FEATURE_NAMES: [&str; FEATURE_COUNT] = [
    "log_duration_ms",
    "log_events",
    "log_max_depth",
    "services",
    "actors",
    "log_errors",
    "log_races",
    "critical_path_share",
    "log_remote_calls",
    "log_messages",
    "log_lock_acquires",
    "log_state_changes",
];

/// The features of one trace, in natural units.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TraceFeatures {
    /// The trace.
    pub trace_id: Uuid,
    /// Wall-clock duration.
    pub duration_ns: u64,
    /// Number of events.
    pub events: u64,
    /// Depth of the tree.
    pub max_depth: u32,
    /// Distinct services.
    pub services: u32,
    /// Distinct (service, thread) actors.
    pub actors: u32,
    /// Error events and 5xx responses.
    pub errors: u32,
    /// Race findings involving the trace: known to the race stage, not here, so the caller sets
    /// it ([`TraceFeatures::with_races`]); 0 otherwise.
    pub races: u32,
    /// The critical path's share of the wall clock.
    pub critical_path_share: f64,
    /// Steps entered through a remote call.
    pub remote_calls: u32,
    /// Messages sent.
    pub messages: u32,
    /// Lock acquisitions.
    pub lock_acquires: u32,
    /// Shared-state accesses.
    pub state_changes: u32,
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl TraceFeatures {
    /// The features of a trace from its tree and critical path.
    pub fn from_trace(tree: &TraceTree, path: &CriticalPath) -> Self {
        let mut services: HashSet<&str> = HashSet::default();
        let mut actors: HashSet<(&str, &str)> = HashSet::default();
        let mut features = TraceFeatures {
            trace_id: tree.trace_id,
            duration_ns: tree.wall_clock_ns(),
            max_depth: tree.max_depth(),
            critical_path_share: path.share_of_trace,
            ..TraceFeatures::default()
        };
        let mut events = 0u64;
        let mut previous: Option<&crate::trace::TreeNode> = None;
        for node in tree.event_nodes() {
            events += 1;
            // Consecutive nodes usually share their actor's names (one shared copy per tree):
            // same addresses, same strings, nothing new to count.
            let same_actor = previous.is_some_and(|p| {
                std::sync::Arc::ptr_eq(&p.service, &node.service)
                    && std::sync::Arc::ptr_eq(&p.thread, &node.thread)
            });
            if !same_actor {
                services.insert(&*node.service);
                actors.insert((&*node.service, &*node.thread));
            }
            previous = Some(node);
            let bump = |n: &mut u32| *n = n.saturating_add(1);
            if node.error {
                bump(&mut features.errors);
            }
            if node.link == Some(LinkKind::RemoteCall) {
                bump(&mut features.remote_calls);
            }
            match &*node.kind {
                "MessageSend" => bump(&mut features.messages),
                "LockAcquire" => bump(&mut features.lock_acquires),
                "StateChange" => bump(&mut features.state_changes),
                _ => {}
            }
        }
        features.events = events;
        features.services = count(services.len());
        features.actors = count(actors.len());
        features
    }

    /// Sets the number of race findings involving the trace.
    pub fn with_races(mut self, races: u32) -> Self {
        self.races = races;
        self
    }

    /// The model's input, in [`FEATURE_NAMES`] order.
    pub fn to_vector(&self) -> [f64; FEATURE_COUNT] {
        let log = |x: f64| x.max(0.0).ln_1p();
        [
            log(self.duration_ns as f64 / 1e6),
            log(self.events as f64),
            log(f64::from(self.max_depth)),
            f64::from(self.services),
            f64::from(self.actors),
            log(f64::from(self.errors)),
            log(f64::from(self.races)),
            if self.critical_path_share.is_finite() {
                self.critical_path_share
            } else {
                0.0
            },
            log(f64::from(self.remote_calls)),
            log(f64::from(self.messages)),
            log(f64::from(self.lock_acquires)),
            log(f64::from(self.state_changes)),
        ]
    }
}

/// The model input of many traces: one row per trace, [`FEATURE_COUNT`] columns.
pub fn feature_matrix(traces: &[TraceFeatures]) -> Array2<f64> {
    let mut matrix = Array2::zeros((traces.len(), FEATURE_COUNT));
    for (mut row, features) in matrix.rows_mut().into_iter().zip(traces) {
        for (cell, value) in row.iter_mut().zip(features.to_vector()) {
            *cell = value;
        }
    }
    matrix
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::fixtures::{at, call, error, lasting, on, span, with_parent};
    use crate::trace::{critical_path, trace_tree};

    #[test]
    fn features_count_what_the_tree_holds() {
        let events = vec![
            lasting(
                span(on("api", at(1, "main", 0, call("checkout"))), "s1", None),
                40,
            ),
            lasting(
                with_parent(on("api", at(2, "main", 1, call("price"))), 1),
                4,
            ),
            lasting(
                span(
                    on("stock", at(3, "w", 10, call("reserve"))),
                    "s2",
                    Some("s1"),
                ),
                10,
            ),
            with_parent(on("stock", at(4, "w", 15, error("Db"))), 3),
            with_parent(at(5, "x", 20, call("lost")), 99),
        ];
        let tree = trace_tree(&events);
        let features = TraceFeatures::from_trace(&tree, &critical_path(&tree)).with_races(2);
        assert_eq!(features.events, 5, "placeholders are not events");
        assert_eq!((features.services, features.actors), (3, 3));
        assert_eq!(
            (features.errors, features.remote_calls, features.races),
            (1, 1, 2)
        );
        assert_eq!(features.duration_ns, 40_000_000);
        assert_eq!(features.max_depth, 2);
        assert!(features.critical_path_share > 0.0 && features.critical_path_share <= 1.0);
        let vector = features.to_vector();
        assert_eq!(vector[1], 5f64.ln_1p());
        assert_eq!(vector[3], 3.0);
        let matrix = feature_matrix(&[features.clone(), TraceFeatures::default()]);
        assert_eq!(matrix.dim(), (2, FEATURE_COUNT));
        assert_eq!(matrix.row(0).to_vec(), vector.to_vec());
        assert!(matrix.row(1).iter().all(|&x| x == 0.0));
    }
}

//! Durations and self times of the nodes of a trace tree.
//!
//! # Rules
//!
//! - A node starts at its event's timestamp, or at the earliest timestamp of the steps its actor
//!   ran after it when one is earlier (the SDK's order wins over timestamps inside an actor: see
//!   `crate::causality::ActorOrder::effective_ns`), so a request never starts after its own
//!   handler steps.
//! - **Measured**: `duration_ns`, when the SDK sent it, is inclusive (it covers the node's
//!   children) and is used as is.
//! - **Derived** (the Go SDK never sends a duration, ours only sometimes): a node with children
//!   lasts until the latest end among them (its last descendant, recursively); a leaf lasts until
//!   its actor's next event, since the actor was busy with this step until it did something
//!   else; a leaf that is its actor's last event lasts 0.
//! - A **placeholder** (missing parent) spans its children and has no time of its own.
//! - **Self time** = duration minus the union of the children's intervals, each clipped to the
//!   node's own interval: parallel children are not subtracted twice, and a child that outlives
//!   its parent (a spawned task still running) takes no more than the parent had.
//!
//! When parent links chain an actor's events (our SDK makes each event the parent of the
//! actor's next one), these rules give each step the time until the actor's next step as self
//! time, and the rest of the actor's work as inclusive duration.

/// What the timing rules need to know about one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimingInput {
    /// The event's timestamp (ignored for placeholders).
    pub start_ns: i64,
    /// The duration the SDK measured, if any.
    pub measured_ns: Option<u64>,
    /// Timestamp of the actor's next event, if any.
    pub actor_next_ns: Option<i64>,
    /// True for a placeholder node standing in for a missing parent.
    pub placeholder: bool,
}

/// The timing of one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timing {
    /// Start, ns since the epoch.
    pub start_ns: i64,
    /// End, ns since the epoch; never before `start_ns`.
    pub end_ns: i64,
    /// The part of `[start_ns, end_ns]` not covered by any child.
    pub self_ns: u64,
}

impl Timing {
    /// Inclusive duration.
    pub fn duration_ns(&self) -> u64 {
        span_ns(self.start_ns, self.end_ns)
    }
}

/// Length of `[start, end]`, 0 when reversed.
fn span_ns(start: i64, end: i64) -> u64 {
    u64::try_from(i128::from(end) - i128::from(start)).unwrap_or(0)
}

/// `start + duration`, saturating at the end of time.
fn add_ns(start: i64, duration: u64) -> i64 {
    i64::try_from(i128::from(start) + i128::from(duration)).unwrap_or(i64::MAX)
}

/// Computes the timing of every node. `children[v]` lists v's children sorted by start, each
/// numbered after v (pre-order numbering), so one pass from the last node back sees every child
/// before its parent: O(nodes + edges). A child numbered before its parent breaks that
/// precondition and is ignored rather than read before it is computed.
pub fn timings(inputs: &[TimingInput], children: &[Vec<usize>]) -> Vec<Timing> {
    let mut out = vec![Timing::default(); inputs.len()];
    // One scratch buffer for all nodes: chains of single children would otherwise allocate once
    // per node.
    let mut kids: Vec<Timing> = Vec::new();
    for v in (0..inputs.len()).rev() {
        let input = inputs[v];
        kids.clear();
        if let Some(list) = children.get(v) {
            let ready = list.iter().filter(|&&k| k > v && k < inputs.len());
            kids.extend(ready.map(|&k| out[k]));
        }
        let latest_child_end = kids.iter().map(|k| k.end_ns).max();
        let (start_ns, end_ns) = if input.placeholder {
            let start = kids.iter().map(|k| k.start_ns).min().unwrap_or(0);
            (start, latest_child_end.unwrap_or(start))
        } else {
            let start = input.start_ns;
            let end = match (input.measured_ns, latest_child_end) {
                (Some(measured), _) => add_ns(start, measured),
                (None, Some(child_end)) => child_end,
                (None, None) => input.actor_next_ns.unwrap_or(start),
            };
            (start, end.max(start))
        };
        let self_ns = if input.placeholder {
            0
        } else {
            span_ns(start_ns, end_ns).saturating_sub(covered_ns(start_ns, end_ns, &kids))
        };
        out[v] = Timing {
            start_ns,
            end_ns,
            self_ns,
        };
    }
    out
}

/// Length of the union of the children's intervals clipped to `[start, end]`; children sorted
/// by start, so one merge pass suffices.
fn covered_ns(start: i64, end: i64, kids: &[Timing]) -> u64 {
    let mut covered = 0u64;
    let mut run: Option<(i64, i64)> = None;
    for kid in kids {
        let (from, to) = (kid.start_ns.max(start), kid.end_ns.min(end));
        if from >= to {
            continue;
        }
        run = match run {
            Some((run_from, run_to)) if from <= run_to => Some((run_from, run_to.max(to))),
            Some((run_from, run_to)) => {
                covered += span_ns(run_from, run_to);
                Some((from, to))
            }
            None => Some((from, to)),
        };
    }
    if let Some((run_from, run_to)) = run {
        covered += span_ns(run_from, run_to);
    }
    covered
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(start_ns: i64, measured_ns: Option<u64>) -> TimingInput {
        TimingInput {
            start_ns,
            measured_ns,
            ..TimingInput::default()
        }
    }

    #[test]
    fn measured_parent_minus_union_of_overlapping_children() {
        // Root 0..25 with children 5..10 and 5..25: the union is 20, self time 5.
        let inputs = [node(0, Some(25)), node(5, Some(5)), node(5, Some(20))];
        let out = timings(&inputs, &[vec![1, 2], vec![], vec![]]);
        assert_eq!(out[0].duration_ns(), 25);
        assert_eq!(out[0].self_ns, 5);
        assert_eq!((out[1].self_ns, out[2].self_ns), (5, 20));
    }

    #[test]
    fn derived_durations_use_last_descendant_or_next_actor_event() {
        // 0 (unmeasured) -> 1 (unmeasured leaf, actor moves on at 40) and 2 (measured 30..50).
        let inputs = [
            node(0, None),
            TimingInput {
                start_ns: 10,
                actor_next_ns: Some(40),
                ..TimingInput::default()
            },
            node(30, Some(20)),
        ];
        let out = timings(&inputs, &[vec![1, 2], vec![], vec![]]);
        assert_eq!((out[1].start_ns, out[1].end_ns), (10, 40));
        assert_eq!(out[0].end_ns, 50, "last descendant ends at 50");
        assert_eq!(
            out[0].self_ns, 10,
            "0..10 is not covered by 10..40 or 30..50"
        );
        let last = timings(&[node(7, None)], &[vec![]]);
        assert_eq!(last[0].duration_ns(), 0, "an actor's last leaf lasts 0");
    }

    #[test]
    fn children_outliving_the_parent_are_clipped() {
        let inputs = [node(0, Some(10)), node(4, Some(100))];
        let out = timings(&inputs, &[vec![1], vec![]]);
        assert_eq!(out[0].self_ns, 4);
        assert_eq!(out[1].self_ns, 100);
    }

    #[test]
    fn placeholder_spans_its_children_without_self_time() {
        let placeholder = TimingInput {
            placeholder: true,
            ..TimingInput::default()
        };
        let out = timings(
            &[placeholder, node(5, Some(3)), node(20, Some(5))],
            &[vec![1, 2], vec![], vec![]],
        );
        assert_eq!((out[0].start_ns, out[0].end_ns, out[0].self_ns), (5, 25, 0));
    }

    #[test]
    fn extreme_values_saturate_and_bad_numbering_is_ignored() {
        let out = timings(&[node(i64::MAX - 1, Some(u64::MAX))], &[vec![]]);
        assert_eq!(out[0].end_ns, i64::MAX);
        let out = timings(&[node(0, Some(5)), node(1, Some(1))], &[vec![], vec![0]]);
        assert_eq!(
            out[1].self_ns, 1,
            "child numbered before its parent is ignored"
        );
    }
}

//! The join of two vector clocks kept as entries: `(number, counter)` pairs sorted by a dense
//! component number, no number twice, no zero counter.
//!
//! The race detector's retained clocks (`retention::clock`) and a trace's derived clocks
//! (`causality`) both keep this form, so both join with this one merge.
//!
//! Rule: both sides number their components from one table (the detector's ids, or the trace's
//! table of names), and the result is sorted the same way. Entries numbered by two tables would
//! mix unrelated components and give a clock that orders events at random.

use std::cmp::Ordering;

/// `into` becomes the component-wise maximum of itself and `from`: the largest counter of every
/// component of either.
pub(crate) fn join(into: &mut Vec<(u32, u64)>, from: &[(u32, u64)]) {
    if from.is_empty() {
        return;
    }
    if into.is_empty() {
        into.extend_from_slice(from);
        return;
    }
    if same_components(into, from) {
        // Same components: in place, without a branch per component.
        for (x, y) in into.iter_mut().zip(from) {
            x.1 = x.1.max(y.1);
        }
        return;
    }
    let mut merged = Vec::with_capacity(into.len().max(from.len()));
    let (mut i, mut j) = (0, 0);
    while i < into.len() && j < from.len() {
        match into[i].0.cmp(&from[j].0) {
            Ordering::Less => {
                merged.push(into[i]);
                i += 1;
            }
            Ordering::Greater => {
                merged.push(from[j]);
                j += 1;
            }
            Ordering::Equal => {
                merged.push((into[i].0, into[i].1.max(from[j].1)));
                i += 1;
                j += 1;
            }
        }
    }
    merged.extend_from_slice(&into[i..]);
    merged.extend_from_slice(&from[j..]);
    *into = merged;
}

/// True when `a` and `b` list the same components (in the same places, as sorted entries do).
fn same_components(a: &[(u32, u64)], b: &[(u32, u64)]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.0 == y.0)
}

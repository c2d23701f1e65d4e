//! Cross-service order from the clocks of the existing SDKs (derived traces only): rule 6 of the
//! module doc of [`crate::causality`].
//!
//! The TypeScript, Python and Go SDKs keep one clock per request context with one component per
//! service instance (`"{service}#{instance}"`), send it with every outgoing call, start the
//! callee's context from it, and merge the callee's clock into the caller's when the response
//! comes back. Inside an instance those counters order nothing (concurrent requests and threads
//! of one instance count on the same component from the same starting value), but a caller's step
//! whose clock holds the callee's component at `k` was recorded after the callee reached `k`.
//!
//! So for a caller event `x` in span S whose clock holds component `c` of another instance at
//! counter `k`: among the callee actors of S (actors whose events carry `upstream_span_id = S`
//! and count on `c` as their own component), those with a step counted at most `k` not yet known
//! to precede `x`'s actor are the candidates. When exactly one is, its last such step happens
//! before `x`. When several are (parallel calls into one instance, which start from the same
//! clock), nothing says which one answered, and no edge is added: a missing edge can at worst
//! report a race that the merge would have ruled out, a wrong one would hide real races.

use foldhash::HashMap;
use raceway_schemas::Event;

/// A callee actor's steps in one upstream span: (own counter, position), in program order.
type Steps = Vec<(u64, usize)>;

/// The edges of rule 6 over `events[sorted[p]]`, as (before, after) positions; `actor_of` gives
/// the actor number of every position.
pub(super) fn response_edges(
    events: &[Event],
    sorted: &[usize],
    actor_of: &[usize],
) -> Vec<(usize, usize)> {
    // (upstream span, own component) -> callee actor -> its steps.
    let mut callees: HashMap<(&str, &str), Vec<(usize, Steps)>> = HashMap::default();
    for (position, &index) in sorted.iter().enumerate() {
        let event = &events[index];
        let Some(upstream) = non_empty(&event.metadata.upstream_span_id) else {
            continue;
        };
        let Some((component, counter)) = own_counter(event) else {
            continue;
        };
        let actors = callees.entry((upstream, component)).or_default();
        let actor = actor_of[position];
        match actors.iter_mut().find(|(a, _)| *a == actor) {
            Some((_, steps)) => steps.push((counter, position)),
            None => actors.push((actor, vec![(counter, position)])),
        }
    }
    if callees.is_empty() {
        return Vec::new();
    }

    let mut edges = Vec::new();
    // (caller actor, callee actor) -> how many of the callee's steps already precede the caller.
    let mut linked: HashMap<(usize, usize), usize> = HashMap::default();
    for (position, &index) in sorted.iter().enumerate() {
        let event = &events[index];
        let Some(span) = non_empty(&event.metadata.distributed_span_id) else {
            continue;
        };
        let caller = actor_of[position];
        let own = own_counter(event).map(|(component, _)| component);
        for (component, k) in &event.causality_vector {
            if Some(component.as_str()) == own {
                continue;
            }
            let Some(actors) = callees.get(&(span, component.as_str())) else {
                continue;
            };
            let mut candidates = actors.iter().filter_map(|(callee, steps)| {
                let done = linked.get(&(caller, *callee)).copied().unwrap_or(0);
                // Steps counted at most k, in program order; the last of them is the latest
                // step the merged clock covers.
                let covered = steps.iter().rposition(|&(counter, _)| counter <= *k)? + 1;
                (*callee != caller && covered > done).then_some((*callee, covered, steps))
            });
            let (Some((callee, covered, steps)), None) = (candidates.next(), candidates.next())
            else {
                continue;
            };
            edges.push((steps[covered - 1].1, position));
            linked.insert((caller, callee), covered);
        }
    }
    edges
}

/// The event's own clock component (`"{service}#{instance}"`) and its counter, if its clock
/// holds it.
fn own_counter(event: &Event) -> Option<(&str, u64)> {
    let service = event.metadata.service_name.as_str();
    let instance = event.metadata.instance_id.as_deref().unwrap_or_default();
    event
        .causality_vector
        .iter()
        .find_map(|(component, counter)| {
            let (s, i) = component.rsplit_once('#')?;
            (s == service && i == instance).then_some((component.as_str(), *counter))
        })
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|s| !s.is_empty())
}

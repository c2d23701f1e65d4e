//! One-line explanations of findings, for people: who did what where, and why nothing ordered it.

use raceway_schemas::{Access, AccessType, ActorId, FindingKind, LockKind};

use super::impact::{lost_update_impact, number_text};
use crate::lock_order::LockCycle;
use crate::pairs::RacePair;

/// The one-line explanation of a pair, e.g. "worker-2 wrote balance at balance.rs:45 while
/// worker-1's write at balance.rs:12 was not ordered before it; no common lock".
pub fn explain(pair: &RacePair) -> String {
    let (first, second) = (&*pair.first, &*pair.second);
    let (first_name, second_name) = names(&first.actor, &second.actor);
    let elsewhere = elsewhere(first.trace_id == second.trace_id);
    if let (FindingKind::LostUpdate, Some(update)) = (pair.kind, &pair.update) {
        // The read-modify-write is the side whose write completed the read.
        let (rmw, rmw_name, other, other_name) = if update.write_event_id == first.event_id {
            (first, first_name, second, second_name)
        } else {
            (second, second_name, first, first_name)
        };
        let outcome = match lost_update_impact(rmw, &update.read.value, other) {
            Some(impact) => format!(
                "one of the two updates was lost: final {} {}; applying both updates gives {}: \
                 {} lost",
                rmw.variable,
                number_text(impact.final_value),
                number_text(impact.serial_value),
                number_text(impact.lost),
            ),
            None => "one of the two updates can be lost".to_string(),
        };
        return format!(
            "{rmw_name} read {} ({}) at {} and wrote it at {}, but {other_name}'s {} at {}{elsewhere} \
             is ordered neither before that read nor after that write: {outcome}",
            rmw.variable,
            update.read.value,
            update.read.location,
            rmw.location,
            noun(other.access_type),
            other.location,
        );
    }
    let summary = format!(
        "{second_name} {} {} at {} while {first_name}'s {} at {}{elsewhere}",
        verb(second.access_type),
        second.variable,
        second.location,
        noun(first.access_type),
        first.location,
    );
    match pair.kind {
        FindingKind::DataRace => {
            format!(
                "{summary} was not ordered before it; {}",
                lock_clause(first, second)
            )
        }
        other => format!("{}: {summary}", other.as_str()),
    }
}

/// The one-line explanation of a lock-order inversion: every actor of the cycle, the lock it
/// held and the lock it went for, with their locations, and the lock types of the cycle that
/// were not known and assumed exclusive (see [`LockKind`]): the finding depends on that
/// assumption, so the user sees it.
pub fn explain_inversion(cycle: &LockCycle) -> String {
    let explanation = describe_cycle(cycle);
    let mut assumed: Vec<String> = cycle
        .edges
        .iter()
        .flat_map(|e| [&e.held, &e.acquired])
        .filter(|a| !a.lock_type.is_empty() && LockKind::of(&a.lock_type) == LockKind::Unknown)
        .map(|a| format!("{} ({:?})", a.lock_id, a.lock_type))
        .collect();
    assumed.sort_unstable();
    assumed.dedup();
    if assumed.is_empty() {
        explanation
    } else {
        format!(
            "{explanation}; lock types not known, assumed exclusive: {}",
            assumed.join(", ")
        )
    }
}

fn describe_cycle(cycle: &LockCycle) -> String {
    let other_trace = cycle
        .edges
        .iter()
        .any(|e| e.trace_id != cycle.first().trace_id);
    if let [first, second] = &cycle.edges[..] {
        let (first_name, second_name) = names(&first.actor, &second.actor);
        return format!(
            "{first_name} took {} at {} then {} at {} while {second_name} took {} at {} then {} \
             at {}{}: in another schedule each waits for the other (deadlock); no common guard \
             lock",
            first.held.lock_id,
            first.held.location,
            first.acquired.lock_id,
            first.acquired.location,
            second.held.lock_id,
            second.held.location,
            second.acquired.lock_id,
            second.acquired.location,
            elsewhere(!other_trace),
        );
    }
    let steps: Vec<String> = cycle
        .edges
        .iter()
        .map(|e| {
            format!(
                "{} took {} at {} then {} at {}",
                e.actor, e.held.lock_id, e.held.location, e.acquired.lock_id, e.acquired.location
            )
        })
        .collect();
    format!(
        "{}{}: in another schedule each of these {} actors waits for the next (deadlock); no \
         common guard lock",
        steps.join(", "),
        if other_trace { " across traces" } else { "" },
        cycle.edges.len(),
    )
}

/// Thread names read best; when both actors share one (two services' "main"), say more.
fn names(first: &ActorId, second: &ActorId) -> (String, String) {
    if first.thread == second.thread {
        (first.to_string(), second.to_string())
    } else {
        (first.thread.clone(), second.thread.clone())
    }
}

fn elsewhere(same_trace: bool) -> &'static str {
    if same_trace {
        ""
    } else {
        " in another trace"
    }
}

fn lock_clause(first: &Access, second: &Access) -> String {
    let mut common: Vec<&str> = first
        .locks
        .iter()
        .filter(|mine| {
            second
                .locks
                .iter()
                .any(|theirs| theirs.lock_id == mine.lock_id)
        })
        .map(|lock| lock.lock_id.as_str())
        .collect();
    common.sort_unstable();
    common.dedup();
    if common.is_empty() {
        "no common lock".to_string()
    } else {
        format!("both held {} only in shared mode", common.join(", "))
    }
}

fn verb(access_type: AccessType) -> &'static str {
    match access_type {
        AccessType::Read => "read",
        AccessType::Write => "wrote",
        AccessType::AtomicRead => "atomically read",
        AccessType::AtomicWrite => "atomically wrote",
        AccessType::AtomicRMW => "atomically updated",
    }
}

fn noun(access_type: AccessType) -> &'static str {
    match access_type {
        AccessType::Read => "read",
        AccessType::Write => "write",
        AccessType::AtomicRead => "atomic read",
        AccessType::AtomicWrite => "atomic write",
        AccessType::AtomicRMW => "atomic update",
    }
}

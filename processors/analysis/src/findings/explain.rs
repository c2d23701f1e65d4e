//! One-line explanations of findings, for people: who did what where, and why nothing ordered it.

use raceway_schemas::{Access, AccessType, ActorId, FindingKind};

use crate::lock_order::InversionPair;
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
        return format!(
            "{rmw_name} read {} ({}) at {} and wrote it at {}, but {other_name}'s {} at {}{elsewhere} \
             is ordered neither before that read nor after that write: one of the two updates can \
             be lost",
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

/// The one-line explanation of a lock-order inversion.
pub fn explain_inversion(pair: &InversionPair) -> String {
    let (first, second) = (&*pair.first, &*pair.second);
    let (first_name, second_name) = names(&first.actor, &second.actor);
    format!(
        "{first_name} took {} at {} then {} at {} while {second_name} took {} at {} then {} at \
         {}{}: in another schedule each waits for the other (deadlock); no common guard lock",
        first.held.lock_id,
        first.held.location,
        first.acquired.lock_id,
        first.acquired.location,
        second.held.lock_id,
        second.held.location,
        second.acquired.lock_id,
        second.acquired.location,
        elsewhere(first.trace_id == second.trace_id),
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

//! The step sequences of a trace, what the sequence model ([`super::sequence_model`]) learns and
//! judges.
//!
//! **A sequence is one actor's steps.** An actor is one (service, thread) of the trace; its
//! sequence is its events in the order of the trace tree (pre-order: a step before the steps it
//! encloses, siblings in time order), which inside one actor is its program order. Each step is a
//! *symbol*, its event kind and location (`StateChange:account.rs:12`); the sequence ends with
//! [`SEQUENCE_END`], so a sequence cut short is as visible as one with a step too many.
//!
//! Sequences are per actor, not per trace or service, because the threads of a service run
//! concurrently: a trace-wide order would interleave them differently on every run, and a model
//! of that order would learn the scheduler, flagging ordinary interleavings as unusual and
//! drowning the real changes of order inside one thread.
//!
//! **The entry point** of a sequence is its first symbol: where the actor entered the code (a
//! request handler's `HttpRequest`, a worker's first step). Sequences are modelled per
//! [`SequenceKey`] (service, entry point): a handler and a background worker of one service do
//! different things, and one model of both would find each unusual next to the other. The other
//! trace models key by whole traces and the baselines by single steps, so neither key is reused.

use std::collections::BTreeMap;
use std::sync::Arc;

use foldhash::HashMap;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::trace::TraceTree;

/// The symbol that ends every sequence.
pub const SEQUENCE_END: &str = "$end";

/// Which model judges a sequence: its service and entry point.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SequenceKey {
    /// The actor's service.
    pub service: String,
    /// The symbol of the actor's first step.
    pub entry: String,
}

/// One step of a sequence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequenceStep {
    /// `kind:location`, one copy shared by every step of the trace with the same symbol.
    pub symbol: Arc<str>,
    /// The event.
    pub event_id: Uuid,
}

/// One actor's steps in one trace, in program order (without [`SEQUENCE_END`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorSequence {
    /// Its model's key.
    pub key: SequenceKey,
    /// The actor's thread.
    pub thread: String,
    /// At least one step.
    pub steps: Vec<SequenceStep>,
}

/// A transition between two symbols and how often a sequence takes it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TransitionCount {
    /// The earlier step's symbol.
    pub from: String,
    /// The next step's symbol, or [`SEQUENCE_END`].
    pub to: String,
    /// Times taken.
    pub count: u64,
}

/// What the model trains on for one sequence: its key and its transitions counted. A loop of a
/// thousand identical steps is one row, so a trace's counts stay small enough to store with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequenceCounts {
    /// Its model's key.
    pub key: SequenceKey,
    /// Its transitions, sorted by (from, to).
    pub transitions: Vec<TransitionCount>,
}

/// The symbol of a step: `kind:location`.
pub fn step_symbol(kind: &str, location: &str) -> String {
    format!("{kind}:{location}")
}

/// Every actor's sequence in `tree`, actors in the order of their first step.
pub fn trace_sequences(tree: &TraceTree) -> Vec<ActorSequence> {
    let mut by_actor: HashMap<(Arc<str>, Arc<str>), usize> = HashMap::default();
    // The tree shares one copy of each distinct location, service and thread, and a kind is a
    // static name, none a prefix of another, so their addresses identify them for as long as
    // `tree` is borrowed: each symbol is formatted once (then cloned), and a step of the same
    // actor as the one before skips the actor lookup.
    let mut symbols: HashMap<(*const u8, *const u8), Arc<str>> = HashMap::default();
    let mut last_actor: Option<((*const u8, *const u8), usize)> = None;
    let mut sequences: Vec<ActorSequence> = Vec::new();
    for node in tree.event_nodes() {
        let symbol = symbols
            .entry((node.kind.as_ptr(), address(&node.location)))
            .or_insert_with(|| Arc::from(step_symbol(&node.kind, &node.location)))
            .clone();
        let step = SequenceStep {
            symbol,
            event_id: node.id,
        };
        let addresses = (address(&node.service), address(&node.thread));
        if let Some((last, at)) = last_actor {
            if last == addresses {
                sequences[at].steps.push(step);
                continue;
            }
        }
        let actor = (node.service.clone(), node.thread.clone());
        let at = match by_actor.get(&actor) {
            Some(&at) => {
                sequences[at].steps.push(step);
                at
            }
            None => {
                by_actor.insert(actor, sequences.len());
                sequences.push(ActorSequence {
                    key: SequenceKey {
                        service: node.service.to_string(),
                        entry: step.symbol.to_string(),
                    },
                    thread: node.thread.to_string(),
                    steps: vec![step],
                });
                sequences.len() - 1
            }
        };
        last_actor = Some((addresses, at));
    }
    sequences
}

/// Where a shared string lives: equal addresses mean the same string (while it is borrowed).
fn address(text: &Arc<str>) -> *const u8 {
    Arc::as_ptr(text).cast()
}

impl ActorSequence {
    /// The transitions of the sequence in order, the last into [`SEQUENCE_END`]; each with the
    /// event it leads to (the last step's for the end).
    pub fn transitions(&self) -> impl Iterator<Item = (&str, &str, Uuid)> + '_ {
        let last = self
            .steps
            .last()
            .map(|s| (&*s.symbol, SEQUENCE_END, s.event_id));
        self.steps
            .windows(2)
            .map(|w| (&*w[0].symbol, &*w[1].symbol, w[1].event_id))
            .chain(last)
    }

    /// The sequence's transitions counted.
    pub fn counts(&self) -> SequenceCounts {
        let mut counts: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        for (from, to, _) in self.transitions() {
            *counts.entry((from, to)).or_default() += 1;
        }
        SequenceCounts {
            key: self.key.clone(),
            transitions: counts
                .into_iter()
                .map(|((from, to), count)| TransitionCount {
                    from: from.to_string(),
                    to: to.to_string(),
                    count,
                })
                .collect(),
        }
    }
}

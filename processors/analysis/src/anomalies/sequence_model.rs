//! [`SequenceModels`]: a first-order Markov chain of step transitions per (service, entry
//! point), and the `unusual_sequence` anomalies it finds. What a sequence is, and why per actor
//! and entry point, is in [`super::sequences`].
//!
//! **The model.** For each [`SequenceKey`], the transition counts of its training sequences give
//! `P(to | from) = (n(from, to) + α) / (n(from) + α·V)`, where `V` is the number of symbols the
//! key's sequences step into plus one for every symbol never seen (additive, Lidstone,
//! smoothing). A transition never seen keeps a small probability instead of zero, so one new step
//! lowers a score instead of making it minus infinity, and the scores of all traces stay
//! comparable.
//!
//! **The score** of a sequence is its mean log-likelihood per transition (the end included): the
//! mean, not the sum, so long and short sequences of one entry point are judged alike. At
//! training, every training sequence is scored, and each key keeps the median and MAD of those
//! scores. A sequence is *unusual* when its score is more than [`SequenceConfig::mads`] MADs
//! below its key's median **and** it takes at least one improbable transition (probability below
//! [`SequenceConfig::improbable_below`]); the anomaly names the first of them (from, to, its
//! probability, the event it leads to). Without the second condition a rare but ordinary branch
//! (taken by a tenth of the traces) would be flagged whenever most traces agree.
//!
//! **MAD = 0.** When at least half of the training sequences score the same (identical
//! sequences, common in tests and in simple handlers), the MAD is 0 and any lower score would be
//! infinitely many MADs off. The scale is therefore at least [`SequenceConfig::min_mad`] nats per
//! transition: any score clearly lower than the agreeing majority's is unusual, and rounding
//! noise is not.
//!
//! **Why a smoothed Markov chain.** Traces per entry point are few (tens to thousands), the
//! model must say *why* a trace is unusual (the first improbable transition is an explanation a
//! person can check against the code), and training and scoring must cost little (counting, one
//! pass). A first-order chain fits all three and is deterministic. An LSTM would need far more
//! traces per entry point to learn anything, train slowly, and explain nothing; longer-range
//! orders that a first-order chain misses rarely change without also changing some adjacent pair.
//!
//! Training scores its own training sequences (in-sample), which favours them slightly: the
//! threshold is therefore a little strict, never lax.

use std::collections::BTreeMap;

use foldhash::HashMap;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::baseline::{AnomalySeverity, ANOMALY_NAMESPACE};
use super::reservoir::median_and_mad;
use super::sequences::{ActorSequence, SequenceCounts, SequenceKey};

/// How the sequence models are trained and judge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequenceConfig {
    /// The additive smoothing constant α.
    pub alpha: f64,
    /// Training sequences a key needs before it judges.
    pub min_sequences: usize,
    /// MADs below the median from which a sequence is unusual.
    pub mads: f64,
    /// The smallest scale, nats per transition (see the module doc on MAD = 0).
    pub min_mad: f64,
    /// A transition less likely than this is improbable.
    pub improbable_below: f64,
    /// MADs below the median above which an unusual sequence is critical (a warning otherwise).
    pub critical_above: f64,
}

impl Default for SequenceConfig {
    fn default() -> Self {
        SequenceConfig {
            alpha: 0.1,
            min_sequences: 20,
            mads: 3.0,
            min_mad: 0.05,
            improbable_below: 0.02,
            critical_above: 5.0,
        }
    }
}

/// The transitions out of one symbol.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
struct Outgoing {
    total: u64,
    to: BTreeMap<String, u64>,
}

/// The chain of one key and the spread of its training scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyModel {
    /// The key.
    pub key: SequenceKey,
    /// Training sequences.
    pub sequences: usize,
    /// Median score of the training sequences.
    pub median: f64,
    /// Their MAD.
    pub mad: f64,
    /// `V`: symbols stepped into, plus one for the unseen.
    vocabulary: u64,
    outgoing: BTreeMap<String, Outgoing>,
}

/// A sequence's first improbable transition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImprobableTransition {
    /// The earlier step's symbol.
    pub from: String,
    /// The next step's symbol (or `$end`).
    pub to: String,
    /// `P(to | from)` under the model.
    pub probability: f64,
    /// The event the transition leads to (the last step for `$end`).
    pub event_id: Uuid,
}

/// An actor's sequence unlike its entry point's training sequences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequenceAnomaly {
    /// Deterministic: (trace, key, thread) under [`ANOMALY_NAMESPACE`].
    pub id: Uuid,
    /// The trace.
    pub trace_id: Uuid,
    /// The model's key.
    pub key: SequenceKey,
    /// The actor's thread.
    pub thread: String,
    /// Mean log-likelihood per transition.
    pub score: f64,
    /// The key's median training score.
    pub median: f64,
    /// MADs (at least the floor) below the median.
    pub deviations: f64,
    /// The first improbable transition.
    pub transition: ImprobableTransition,
    /// Improbable transitions of the sequence.
    pub improbable_transitions: u32,
    /// Training sequences of the key.
    pub training_sequences: usize,
    /// Warning, or critical beyond [`SequenceConfig::critical_above`].
    pub severity: AnomalySeverity,
}

impl KeyModel {
    fn train(key: SequenceKey, sequences: &[&SequenceCounts], alpha: f64) -> Self {
        let mut outgoing: BTreeMap<String, Outgoing> = BTreeMap::new();
        let mut targets = std::collections::BTreeSet::new();
        for counts in sequences {
            for t in &counts.transitions {
                let out = outgoing.entry(t.from.clone()).or_default();
                out.total += t.count;
                *out.to.entry(t.to.clone()).or_default() += t.count;
                targets.insert(t.to.as_str());
            }
        }
        let vocabulary = targets.len() as u64 + 1;
        let mut model = KeyModel {
            key,
            sequences: sequences.len(),
            median: 0.0,
            mad: 0.0,
            vocabulary,
            outgoing,
        };
        let mut scores: Vec<f64> = sequences
            .iter()
            .map(|counts| {
                let (sum, n) = counts.transitions.iter().fold((0.0, 0u64), |(s, n), t| {
                    let ln = model.probability(&t.from, &t.to, alpha).ln();
                    (s + ln * t.count as f64, n + t.count)
                });
                sum / n.max(1) as f64
            })
            .collect();
        (model.median, model.mad) = median_and_mad(&mut scores);
        model
    }

    /// `P(to | from)`, smoothed.
    pub fn probability(&self, from: &str, to: &str, alpha: f64) -> f64 {
        let (seen, total) = self.outgoing.get(from).map_or((0, 0), |out| {
            (out.to.get(to).copied().unwrap_or(0), out.total)
        });
        (seen as f64 + alpha) / (total as f64 + alpha * self.vocabulary as f64)
    }
}

/// The Markov chains of every key with enough training sequences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequenceModels {
    /// The settings it was trained with.
    pub config: SequenceConfig,
    /// One per key, sorted by key.
    pub keys: Vec<KeyModel>,
}

impl SequenceModels {
    /// Trains one chain per key that has at least `config.min_sequences` sequences.
    pub fn train<'a>(
        sequences: impl IntoIterator<Item = &'a SequenceCounts>,
        config: &SequenceConfig,
    ) -> Self {
        let mut by_key: BTreeMap<&SequenceKey, Vec<&SequenceCounts>> = BTreeMap::new();
        for counts in sequences {
            by_key.entry(&counts.key).or_default().push(counts);
        }
        let keys = by_key
            .into_iter()
            .filter(|(_, seqs)| seqs.len() >= config.min_sequences.max(1))
            .map(|(key, seqs)| KeyModel::train(key.clone(), &seqs, config.alpha))
            .collect();
        SequenceModels {
            config: config.clone(),
            keys,
        }
    }

    /// The chain of `key`, if trained.
    pub fn model(&self, key: &SequenceKey) -> Option<&KeyModel> {
        self.keys
            .binary_search_by(|m| m.key.cmp(key))
            .ok()
            .map(|at| &self.keys[at])
    }

    /// The unusual sequences among a trace's `sequences` (keys without a chain are not judged).
    pub fn judge(&self, trace_id: Uuid, sequences: &[ActorSequence]) -> Vec<SequenceAnomaly> {
        sequences
            .iter()
            .filter_map(|sequence| self.judge_one(trace_id, sequence))
            .collect()
    }

    fn judge_one(&self, trace_id: Uuid, sequence: &ActorSequence) -> Option<SequenceAnomaly> {
        let model = self.model(&sequence.key)?;
        let config = &self.config;
        let mut sum = 0.0;
        let mut n = 0u64;
        let mut first: Option<ImprobableTransition> = None;
        let mut improbable = 0u32;
        // A loop takes the same few transitions over and over, and the steps of a fresh trace
        // share one copy of each symbol (`trace_sequences`), so each distinct pair is looked up
        // in the chain once, keyed by the two texts' addresses and lengths (equal keys are the
        // same text; an equal text elsewhere only misses the memo). A tuple hashes as four
        // words, where an array would hash as one byte slice, more slowly.
        let mut memo: HashMap<(usize, usize, usize, usize), (f64, f64)> = HashMap::default();
        for (from, to, event_id) in sequence.transitions() {
            let key = (
                from.as_ptr() as usize,
                from.len(),
                to.as_ptr() as usize,
                to.len(),
            );
            let (probability, ln) = *memo.entry(key).or_insert_with(|| {
                let probability = model.probability(from, to, config.alpha);
                (probability, probability.ln())
            });
            sum += ln;
            n += 1;
            if probability < config.improbable_below {
                improbable = improbable.saturating_add(1);
                first.get_or_insert_with(|| ImprobableTransition {
                    from: from.to_string(),
                    to: to.to_string(),
                    probability,
                    event_id,
                });
            }
        }
        let score = sum / n.max(1) as f64;
        let deviations = (model.median - score) / model.mad.max(config.min_mad);
        let transition = first.filter(|_| deviations > config.mads)?;
        let name = format!(
            "unusual_sequence\0{trace_id}\0{}\0{}\0{}",
            sequence.key.service, sequence.key.entry, sequence.thread
        );
        Some(SequenceAnomaly {
            id: Uuid::new_v5(&ANOMALY_NAMESPACE, name.as_bytes()),
            trace_id,
            key: sequence.key.clone(),
            thread: sequence.thread.clone(),
            score,
            median: model.median,
            deviations,
            transition,
            improbable_transitions: improbable,
            training_sequences: model.sequences,
            severity: if deviations > config.critical_above {
                AnomalySeverity::Critical
            } else {
                AnomalySeverity::Warning
            },
        })
    }
}

#[cfg(test)]
#[path = "sequence_model_tests.rs"]
mod tests;

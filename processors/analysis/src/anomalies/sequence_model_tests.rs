use uuid::Uuid;

use super::*;
use crate::anomalies::sequences::{trace_sequences, SequenceStep, SEQUENCE_END};
use crate::trace::fixtures::{at, call};
use crate::trace::trace_tree;

fn key() -> SequenceKey {
    SequenceKey {
        service: "bank".into(),
        entry: "HttpRequest:POST /transfer".into(),
    }
}

/// A sequence of `steps` under [`key`], event ids `trace * 1000 + i`.
fn sequence(trace: u128, steps: &[&str]) -> ActorSequence {
    let mut all = vec![key().entry];
    all.extend(steps.iter().map(|s| s.to_string()));
    ActorSequence {
        key: key(),
        thread: "main".into(),
        steps: all
            .into_iter()
            .enumerate()
            .map(|(i, symbol)| SequenceStep {
                symbol: symbol.into(),
                event_id: Uuid::from_u128(trace * 1000 + i as u128),
            })
            .collect(),
    }
}

/// Normal transfers: read both balances, lock, (a cache hit one time in four), one to three
/// updates, unlock, respond.
fn normal(trace: u128) -> ActorSequence {
    let mut steps = vec!["StateRead:account.rs:10", "StateRead:account.rs:11"];
    steps.push("LockAcquire:account.rs:20");
    if trace % 4 == 0 {
        steps.push("FunctionCall:cache.rs:5");
    }
    let updates = 1 + (trace % 3) as usize;
    steps.extend(std::iter::repeat_n("StateChange:account.rs:30", updates));
    steps.extend(["LockRelease:account.rs:40", "HttpResponse:account.rs:50"]);
    sequence(trace, &steps)
}

fn train(sequences: &[ActorSequence]) -> SequenceModels {
    let counts: Vec<SequenceCounts> = sequences.iter().map(ActorSequence::counts).collect();
    SequenceModels::train(&counts, &SequenceConfig::default())
}

#[test]
fn exactly_the_trace_with_two_steps_swapped_is_unusual_and_named() {
    let mut traces: Vec<ActorSequence> = (1..=100).map(normal).collect();
    // Trace 101: the update before the lock.
    let swapped = sequence(
        101,
        &[
            "StateRead:account.rs:10",
            "StateRead:account.rs:11",
            "StateChange:account.rs:30",
            "LockAcquire:account.rs:20",
            "LockRelease:account.rs:40",
            "HttpResponse:account.rs:50",
        ],
    );
    traces.push(swapped.clone());
    let models = train(&traces);
    let flagged: Vec<SequenceAnomaly> = traces
        .iter()
        .enumerate()
        .flat_map(|(i, s)| models.judge(Uuid::from_u128(i as u128 + 1), std::slice::from_ref(s)))
        .collect();
    assert_eq!(flagged.len(), 1, "{flagged:#?}");
    let anomaly = &flagged[0];
    assert_eq!(anomaly.trace_id, Uuid::from_u128(101));
    assert_eq!(anomaly.transition.from, "StateRead:account.rs:11");
    assert_eq!(anomaly.transition.to, "StateChange:account.rs:30");
    assert_eq!(anomaly.transition.event_id, swapped.steps[3].event_id);
    // Seen once, in the swapped trace itself: about 1 in 100.
    assert!(anomaly.transition.probability < 0.02, "{anomaly:?}");
    assert!(anomaly.deviations > 3.0 && anomaly.score < anomaly.median);
    assert_eq!(anomaly.training_sequences, 101);
    assert!(anomaly.improbable_transitions >= 2, "{anomaly:?}");
}

#[test]
fn identical_training_sequences_flag_any_improbable_change_and_nothing_else() {
    let same: Vec<ActorSequence> = (1..=50)
        .map(|t| sequence(t, &["A:a", "B:b", "C:c"]))
        .collect();
    let models = train(&same);
    let model = models.model(&key()).expect("trained");
    assert_eq!(model.mad, 0.0, "identical sequences have no spread");
    assert!(models.judge(Uuid::nil(), &same[..1]).is_empty());
    let cut_short = sequence(60, &["A:a", "B:b"]);
    let flagged = models.judge(Uuid::nil(), &[cut_short]);
    assert_eq!(flagged.len(), 1);
    assert_eq!(
        (
            flagged[0].transition.from.as_str(),
            flagged[0].transition.to.as_str()
        ),
        ("B:b", SEQUENCE_END)
    );
    assert!(flagged[0].deviations.is_finite());
}

#[test]
fn a_rare_but_ordinary_branch_is_not_unusual() {
    // Nine in ten take the short path: the MAD is 0, the long path scores lower, yet none of
    // its transitions is improbable.
    let traces: Vec<ActorSequence> = (1..=100)
        .map(|t| match t % 10 {
            0 => sequence(t, &["A:a", "X:x", "B:b"]),
            _ => sequence(t, &["A:a", "B:b"]),
        })
        .collect();
    let models = train(&traces);
    let flagged = models.judge(Uuid::nil(), &traces);
    assert!(flagged.is_empty(), "{flagged:#?}");
}

#[test]
fn keys_with_too_few_sequences_are_not_judged_and_unseen_keys_are_skipped() {
    let few: Vec<ActorSequence> = (1..=5).map(normal).collect();
    let models = train(&few);
    assert!(models.keys.is_empty());
    assert!(models
        .judge(Uuid::nil(), &[sequence(9, &["Z:z"])])
        .is_empty());
}

#[test]
fn probabilities_are_smoothed_and_sum_to_one_over_the_vocabulary() {
    let models = train(&(1..=40).map(normal).collect::<Vec<_>>());
    let model = models.model(&key()).expect("trained");
    let alpha = models.config.alpha;
    let from = "LockAcquire:account.rs:20";
    let targets = [
        "StateRead:account.rs:10",
        "StateRead:account.rs:11",
        "LockAcquire:account.rs:20",
        "FunctionCall:cache.rs:5",
        "StateChange:account.rs:30",
        "LockRelease:account.rs:40",
        "HttpResponse:account.rs:50",
        SEQUENCE_END,
    ];
    let seen: f64 = targets
        .iter()
        .map(|t| model.probability(from, t, alpha))
        .sum();
    let unseen = model.probability(from, "Never:seen", alpha);
    assert!(unseen > 0.0);
    assert!((seen + unseen - 1.0).abs() < 1e-9, "{seen} + {unseen}");
}

#[test]
fn a_round_trip_through_json_judges_alike() {
    let mut traces: Vec<ActorSequence> = (1..=60).map(normal).collect();
    traces.push(sequence(61, &["HttpResponse:account.rs:50"]));
    let models = train(&traces);
    let text = serde_json::to_string(&models).unwrap();
    let back: SequenceModels = serde_json::from_str(&text).unwrap();
    assert_eq!(back, models);
    assert_eq!(
        back.judge(Uuid::nil(), &traces),
        models.judge(Uuid::nil(), &traces)
    );
}

#[test]
fn sequences_are_per_thread_so_interleavings_do_not_matter() {
    let events = |offset: i64| {
        vec![
            at(1, "t1", 0, call("a")),
            at(2, "t1", 10, call("b")),
            at(3, "t2", offset, call("c")),
            at(4, "t2", offset + 10, call("d")),
        ]
    };
    let symbols = |events: &[raceway_schemas::Event]| {
        trace_sequences(&trace_tree(events))
            .into_iter()
            .map(|s| {
                let steps: Vec<String> = s.steps.iter().map(|st| st.symbol.to_string()).collect();
                (s.key, s.thread, steps)
            })
            .collect::<std::collections::BTreeSet<_>>()
    };
    let interleaved = symbols(&events(5));
    assert_eq!(interleaved, symbols(&events(20)));
    assert_eq!(interleaved.len(), 2);
    let (_, thread, steps) = interleaved.iter().next().unwrap();
    assert_eq!(thread, "t1");
    assert_eq!(steps.len(), 2);
}

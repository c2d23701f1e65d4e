use std::sync::OnceLock;

use raceway_schemas::Event;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::*;
use crate::anomalies::{trace_sequences, SequenceCounts};
use crate::trace::fixtures::{at, call, mutex, on, span, with_parent};
use crate::trace::{critical_path, trace_tree};

/// A request handled by `services[0]` in `steps` chained steps, calling each other service once
/// (a few steps there), with random gaps between steps.
fn request(
    trace: u128,
    steps: u128,
    services: &[&str],
    rng: &mut Xoshiro256PlusPlus,
) -> Vec<Event> {
    let mut events = Vec::new();
    let mut now_us = 0i64;
    let mut next = |rng: &mut Xoshiro256PlusPlus| {
        now_us += rng.gen_range(100..1_000);
        now_us / 1_000
    };
    let root = services[0];
    for step in 0..steps {
        let kind = if step % 7 == 3 {
            mutex("m", step % 2 == 0)
        } else {
            call("step")
        };
        let event = span(
            on(root, at(step + 1, "main", next(rng), kind)),
            "root",
            None,
        );
        events.push(if step == 0 {
            event
        } else {
            with_parent(event, step)
        });
    }
    for (j, service) in services.iter().enumerate().skip(1) {
        let base = 100_000 * j as u128;
        for k in 0..4u128 {
            let event = on(service, at(base + k, "worker", next(rng), call("serve")));
            let event = span(event, service, Some("root"));
            events.push(if k == 0 {
                event
            } else {
                with_parent(event, base + k - 1)
            });
        }
    }
    for event in &mut events {
        event.trace_id = Uuid::from_u128(trace);
    }
    events
}

fn features_of(events: &[Event]) -> TraceFeatures {
    let tree = trace_tree(events);
    TraceFeatures::from_trace(&tree, &critical_path(&tree))
}

/// 200 ordinary traces (40 to 60 steps, two services), then one with 10x the steps and a third
/// service; built once for all tests.
fn population() -> &'static [TraceFeatures] {
    static POPULATION: OnceLock<Vec<TraceFeatures>> = OnceLock::new();
    POPULATION.get_or_init(build_population)
}

fn build_population() -> Vec<TraceFeatures> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(42);
    let mut traces: Vec<TraceFeatures> = (0..200u128)
        .map(|i| {
            let steps = rng.gen_range(40..=60);
            features_of(&request(i + 1, steps, &["api", "db"], &mut rng))
        })
        .collect();
    traces.push(features_of(&request(
        999,
        500,
        &["api", "db", "cache"],
        &mut rng,
    )));
    traces
}

/// Feature-model tests train no sequence model.
const NO_SEQUENCES: &[SequenceCounts] = &[];

fn config() -> ModelConfig {
    ModelConfig {
        min_traces: 50,
        ..ModelConfig::default()
    }
}

/// A smaller forest for the tests that check bookkeeping rather than detection.
fn quick_config() -> ModelConfig {
    ModelConfig {
        trees: 10,
        ..config()
    }
}

#[test]
fn a_trace_of_another_shape_gets_the_top_isolation_score() {
    let traces = population();
    let models = TraceModels::train(traces, NO_SEQUENCES, &config(), 1, 0).unwrap();
    let scores: Vec<TraceScore> = traces.iter().map(|t| models.score(t).unwrap()).collect();
    let outlier = &scores[200];
    assert_eq!(outlier.trace_id, Uuid::from_u128(999));
    let best_ordinary = scores[..200]
        .iter()
        .map(|s| s.isolation_score)
        .fold(0.0, f64::max);
    assert!(
        outlier.isolation_score > best_ordinary,
        "outlier {} vs best ordinary {best_ordinary}",
        outlier.isolation_score
    );
    // K-means either gives it a cluster of its own or finds it far from its centroid.
    let own_cluster = models.clusters()[outlier.cluster].size == 1;
    let farthest = scores[..200]
        .iter()
        .map(|s| s.relative_distance)
        .fold(0.0, f64::max);
    assert!(own_cluster || outlier.relative_distance > farthest);
    assert_eq!(outlier.model_version, 1);
}

#[test]
fn training_is_deterministic_and_the_bundle_round_trips() {
    let traces = population();
    let models =
        TraceModels::train(traces, NO_SEQUENCES, &quick_config(), 3, 1_700_000_000).unwrap();
    assert_eq!(
        models,
        TraceModels::train(traces, NO_SEQUENCES, &quick_config(), 3, 1_700_000_000).unwrap()
    );
    let json = serde_json::to_string(&models).unwrap();
    let reloaded: TraceModels = serde_json::from_str(&json).unwrap();
    reloaded.check_compatible().unwrap();
    assert_eq!(
        reloaded.score(&traces[7]).unwrap(),
        models.score(&traces[7]).unwrap()
    );
    assert_eq!(reloaded.trained_on, 201);
    let total: usize = reloaded.clusters().iter().map(|c| c.size).sum();
    assert_eq!(total, 201);
    assert!(reloaded
        .clusters()
        .iter()
        .all(|c| traces.iter().any(|t| t.trace_id == c.representative_trace)));
}

#[test]
fn incompatible_models_are_refused() {
    let models = TraceModels::train(population(), NO_SEQUENCES, &quick_config(), 1, 0).unwrap();
    let old = TraceModels {
        format: MODEL_FORMAT + 1,
        ..models.clone()
    };
    assert!(matches!(
        old.check_compatible(),
        Err(ModelError::Incompatible(_))
    ));
    let mut renamed = models;
    renamed.feature_names[0] = "something_else".into();
    assert!(matches!(
        renamed.check_compatible(),
        Err(ModelError::Incompatible(_))
    ));
}

#[test]
fn too_few_or_identical_traces() {
    let few = vec![TraceFeatures::default(); 10];
    assert!(matches!(
        TraceModels::train(&few, NO_SEQUENCES, &config(), 1, 0),
        Err(ModelError::NotEnoughSamples {
            needed: 50,
            got: 10
        })
    ));
    // All alike (health checks): trainable, and everything scores as ordinary.
    let same = vec![TraceFeatures::default(); 60];
    let models = TraceModels::train(&same, NO_SEQUENCES, &quick_config(), 1, 0).unwrap();
    let score = models.score(&same[0]).unwrap();
    assert!((score.isolation_score - 0.5).abs() < 1e-9);
    assert_eq!(score.centroid_distance, 0.0);
}

#[test]
fn a_bundle_of_format_1_is_refused_not_misread() {
    let models = TraceModels::train(population(), NO_SEQUENCES, &quick_config(), 1, 0).unwrap();
    let mut old = serde_json::to_value(&models).unwrap();
    old["format"] = 1.into();
    old.as_object_mut().unwrap().remove("sequences");
    let old: TraceModels = serde_json::from_value(old).expect("format 1 still parses");
    assert!(matches!(
        old.check_compatible(),
        Err(ModelError::Incompatible(_))
    ));
    // Even if its format were not checked, it holds no sequence model to misread.
    assert!(old.unusual_sequences(Uuid::nil(), &[]).is_empty());
}

#[test]
fn inputs_stored_before_sequences_read_without_them_and_new_ones_round_trip() {
    let features = population()[3].clone();
    let old_text = serde_json::to_string(&features).unwrap();
    let old: TrainingInputs = serde_json::from_str(&old_text).unwrap();
    assert_eq!(old.features, features);
    assert!(old.sequences.is_empty());
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let tree = trace_tree(&request(1, 6, &["web", "db"], &mut rng));
    let inputs = TrainingInputs::new(features.clone(), &trace_sequences(&tree));
    assert!(!inputs.sequences.is_empty());
    let text = serde_json::to_string(&inputs).unwrap();
    assert_eq!(
        serde_json::from_str::<TrainingInputs>(&text).unwrap(),
        inputs
    );
    // Readers of the features alone still read the stored object.
    assert_eq!(
        serde_json::from_str::<TraceFeatures>(&text).unwrap(),
        features
    );
}

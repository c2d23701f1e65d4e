//! The sequence models through the embedded pipeline: trained with the other trace models from
//! the stored traces, they flag a request whose steps are out of order as `unusual_sequence`,
//! are persisted and reloaded, and a stored bundle of an older format is retrained, not read.

mod common;

use std::time::{Duration, Instant};

use common::*;
use raceway_analysis::anomalies::{ModelConfig, SequenceCounts, TraceFeatures, TraceModels};
use raceway_schemas::EventBatch;
use raceway_store::{AnomalyKind, DurationAnomalyRow, ModelRecord};
use uuid::Uuid;

/// A checkout: `api` handles it, and `bank` runs `steps` in order on one thread.
fn checkout(at_ns: i64, steps: &[&str]) -> EventBatch {
    let trace = Uuid::new_v4();
    let root = step(trace, at_ns, "api", "handle", 20 * MS);
    let mut events = vec![root.clone()];
    for (i, function) in steps.iter().enumerate() {
        let mut e = step(
            trace,
            at_ns + (1 + i as i64) * MS as i64,
            "bank",
            function,
            MS,
        );
        e.parent_id = Some(root.id);
        events.push(e);
    }
    EventBatch {
        trace_id: trace,
        events,
    }
}

const NORMAL: [&str; 4] = ["validate", "debit", "credit", "notify"];
const SWAPPED: [&str; 4] = ["validate", "credit", "debit", "notify"];

fn normal_checkouts(base: i64) -> Vec<EventBatch> {
    (0..30)
        .map(|i| checkout(base + i * 50 * MS as i64, &NORMAL))
        .collect()
}

async fn unusual(pipeline: &Pipeline, batch: &EventBatch) -> Vec<DurationAnomalyRow> {
    let anomalies = pipeline
        .store
        .trace_anomalies(batch.trace_id)
        .await
        .expect("anomalies");
    anomalies
        .into_iter()
        .filter(|a| a.anomaly_kind == AnomalyKind::UnusualSequence)
        .collect()
}

/// Waits for a stored model of a version above `above`; returns its version.
async fn model_above(pipeline: &Pipeline, above: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let model = pipeline.store.latest_model().await.expect("model");
        if let Some(model) = model.filter(|m| m.version > above) {
            return model.version;
        }
        assert!(Instant::now() < deadline, "no model above version {above}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn assert_names_the_swap(flagged: &[DurationAnomalyRow], swapped: &EventBatch) {
    assert_eq!(flagged.len(), 1, "{flagged:#?}");
    let anomaly = &flagged[0];
    assert_eq!(anomaly.service, "bank");
    assert_eq!(
        (anomaly.kind.as_str(), anomaly.location.as_str()),
        ("FunctionCall", "validate")
    );
    let transition = anomaly.transition.as_ref().expect("a transition");
    assert_eq!(
        (transition.from.as_str(), transition.to.as_str()),
        ("FunctionCall:validate", "FunctionCall:credit")
    );
    assert!(transition.probability < 0.02, "{transition:?}");
    // The event the improbable transition leads to: the early credit.
    assert_eq!(anomaly.event_id, swapped.events[2].id);
    assert!(anomaly.deviations > 3.0, "{anomaly:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapped_steps_are_an_unusual_sequence_judged_again_by_the_reloaded_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pipeline = Pipeline::open(dir.path()).await;
    let stage = pipeline.start_stage(Duration::from_millis(300)).await;
    let base = now_ns();
    let normal = normal_checkouts(base);
    pipeline.analyse(&normal).await;
    let version = model_above(&pipeline, 0).await;
    let record = pipeline.store.latest_model().await.expect("m").expect("m");
    let models: TraceModels = serde_json::from_str(&record.payload).expect("bundle");
    let chains = models.sequences.as_ref().expect("sequence models");
    assert!(
        chains.keys.iter().any(|k| k.key.service == "bank"),
        "{chains:?}"
    );

    let swapped = checkout(base + 2_000 * MS as i64, &SWAPPED);
    let ordinary = checkout(base + 2_100 * MS as i64, &NORMAL);
    pipeline.analyse(&[swapped.clone(), ordinary.clone()]).await;
    assert_names_the_swap(&unusual(&pipeline, &swapped).await, &swapped);
    assert!(unusual(&pipeline, &ordinary).await.is_empty());
    let counted = pipeline
        .metrics
        .sequence_anomalies
        .get_metric_with_label_values(&["critical"])
        .map(|c| c.get())
        .unwrap_or(0)
        + pipeline
            .metrics
            .sequence_anomalies
            .get_metric_with_label_values(&["warning"])
            .map(|c| c.get())
            .unwrap_or(0);
    assert_eq!(counted, 1);
    stop_stage(stage).await;

    // A new stage judges sequences from its first trace on, with the persisted bundle (or the
    // one it trains at start, which learnt the swap above: another swap, then).
    let stage = pipeline.start_stage(Duration::from_secs(3600)).await;
    let late = checkout(
        base + 3_000 * MS as i64,
        &["validate", "notify", "debit", "credit"],
    );
    pipeline.analyse(std::slice::from_ref(&late)).await;
    let flagged = unusual(&pipeline, &late).await;
    let transition = flagged.first().and_then(|a| a.transition.as_ref());
    assert_eq!(
        transition.map(|t| (t.from.as_str(), t.to.as_str())),
        Some(("FunctionCall:validate", "FunctionCall:notify")),
        "{flagged:#?}"
    );
    assert!(
        pipeline
            .store
            .latest_model()
            .await
            .expect("m")
            .expect("m")
            .version
            >= version,
        "the stored versions only grow"
    );
    stop_stage(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_bundle_of_format_1_is_retrained_not_misread() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pipeline = Pipeline::open(dir.path()).await;
    // A bundle as format 1 wrote it: no sequence models.
    let features = vec![TraceFeatures::default(); 30];
    let config = ModelConfig {
        min_traces: 20,
        trees: 5,
        ..ModelConfig::default()
    };
    let none: &[SequenceCounts] = &[];
    let current = TraceModels::train(&features, none, &config, 7, 0).expect("train");
    let mut old = serde_json::to_value(&current).expect("json");
    old["format"] = 1.into();
    old.as_object_mut().expect("object").remove("sequences");
    let record = ModelRecord {
        version: 7,
        trained_at_ns: 0,
        trained_on: 30,
        clusters: Vec::new(),
        payload: old.to_string(),
    };
    pipeline.store.save_model(&record).await.expect("save");

    let stage = pipeline.start_stage(Duration::from_millis(300)).await;
    let base = now_ns();
    let first = checkout(base, &NORMAL);
    pipeline.analyse(std::slice::from_ref(&first)).await;
    let summary = pipeline.store.trace_analysis(first.trace_id).await;
    let scores = summary.expect("read").expect("analysed").scores;
    assert!(scores.is_none(), "the format-1 bundle is not used");
    let normal = normal_checkouts(base + MS as i64);
    pipeline.analyse(&normal).await;
    assert!(
        model_above(&pipeline, 7).await > 7,
        "retrained as the next version"
    );
    let swapped = checkout(base + 2_000 * MS as i64, &SWAPPED);
    pipeline.analyse(std::slice::from_ref(&swapped)).await;
    assert_names_the_swap(&unusual(&pipeline, &swapped).await, &swapped);
    stop_stage(stage).await;
}

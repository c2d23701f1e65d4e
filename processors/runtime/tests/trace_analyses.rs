//! The trace stage's analyses through the embedded pipeline: event batches on the embedded bus,
//! the trace stage, a SQLite store. Duration anomalies against learned baselines, global
//! dependencies that don't double on replay, model training, checkpoints reloaded on restart.

mod common;

use std::time::{Duration, Instant};

use common::*;
use raceway_processors::stages::trace_analyses::BASELINE_CHECKPOINT;
use raceway_schemas::EventBatch;
use raceway_store::{AnomalyGrade, TimeRange};
use uuid::Uuid;

fn bank_anomaly(
    anomalies: &[raceway_store::DurationAnomalyRow],
) -> Option<&raceway_store::DurationAnomalyRow> {
    anomalies.iter().find(|a| a.service == "bank")
}

/// On tokio's paused clock (which the stage reads for processing time), a two-minute idle
/// timeout passes without waiting: the trace completes no sooner than two minutes of processing
/// time after its last event, and soon after.
#[tokio::test(start_paused = true)]
async fn a_trace_completes_once_idle_for_the_timeout_in_processing_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pipeline = Pipeline::open(dir.path()).await;
    let idle_timeout = Duration::from_secs(120);
    let (stop, task) = pipeline
        .start_stage_idle(Duration::from_secs(3600), idle_timeout)
        .await;
    let batch = request(now_ns(), 10 * MS);
    pipeline.send(std::slice::from_ref(&batch)).await;
    let sent = tokio::time::Instant::now();
    pipeline.analysed(std::slice::from_ref(&batch), 0).await;
    let waited = sent.elapsed();
    assert!(waited >= idle_timeout, "completed after {waited:?}");
    assert!(
        waited < idle_timeout + Duration::from_secs(5),
        "completed only after {waited:?}"
    );
    stop.send(true).expect("stop");
    task.await.expect("join").expect("stage");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completed_traces_are_analysed_judged_scored_and_replays_count_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pipeline = Pipeline::open(dir.path()).await;
    let (stop, task) = pipeline.start_stage(Duration::from_millis(300)).await;

    // 30 requests whose transfer takes 10 +/- 1 ms.
    let base = now_ns();
    let normal: Vec<EventBatch> = (0..30)
        .map(|i| request(base + i * 50 * MS as i64, (9 + (i as u64 % 3)) * MS))
        .collect();
    pipeline.send(&normal).await;
    pipeline.analysed(&normal, 0).await;
    assert!(
        bank_anomaly(
            &pipeline
                .store
                .trace_anomalies(normal[29].trace_id)
                .await
                .expect("a")
        )
        .is_none(),
        "a normal request is no anomaly"
    );
    // The models train once 20 traces are stored.
    let deadline = Instant::now() + Duration::from_secs(30);
    while pipeline
        .store
        .latest_model()
        .await
        .expect("model")
        .is_none()
    {
        assert!(Instant::now() < deadline, "no model was trained");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let slow = request(base + 2_000 * MS as i64, 60 * MS);
    let mild = request(base + 2_100 * MS as i64, 12 * MS);
    pipeline.send(std::slice::from_ref(&slow)).await;
    pipeline.analysed(std::slice::from_ref(&slow), 0).await;
    pipeline.send(std::slice::from_ref(&mild)).await;
    pipeline.analysed(std::slice::from_ref(&mild), 0).await;
    let anomalies = pipeline
        .store
        .trace_anomalies(slow.trace_id)
        .await
        .expect("slow");
    let flagged = bank_anomaly(&anomalies).expect("the 60 ms transfer is flagged");
    assert_eq!(flagged.severity, AnomalyGrade::Critical, "{flagged:?}");
    assert_eq!(flagged.actual_ns, 60 * MS);
    assert!(
        (9 * MS..=11 * MS).contains(&flagged.expected_ns),
        "{flagged:?}"
    );
    assert_eq!(flagged.baseline_samples, 30);
    let mild_anomalies = pipeline
        .store
        .trace_anomalies(mild.trace_id)
        .await
        .expect("mild");
    if let Some(a) = bank_anomaly(&mild_anomalies) {
        assert_eq!(a.severity, AnomalyGrade::Minor, "{a:?}");
    }
    let summary = pipeline
        .store
        .trace_analysis(slow.trace_id)
        .await
        .expect("summary")
        .expect("analysed");
    assert_eq!(summary.event_count, 2);
    let scores = summary.scores.expect("scored by the trained model");
    assert!(scores.isolation_score > 0.0 && scores.isolation_score <= 1.0);

    let edges = pipeline
        .store
        .dependencies(TimeRange::ALL, &[])
        .await
        .expect("deps");
    assert_eq!(edges.len(), 1, "{edges:?}");
    assert_eq!(
        (
            edges[0].caller_service.as_str(),
            edges[0].callee_service.as_str()
        ),
        ("api", "bank")
    );
    assert_eq!(edges[0].calls, 32);

    // Replayed batches re-open and re-analyse their traces: the results replace the old ones.
    let replay_at = now_ns();
    pipeline.send(&normal[..10]).await;
    pipeline.send(std::slice::from_ref(&slow)).await;
    pipeline.analysed(&normal[..10], replay_at).await;
    pipeline
        .analysed(std::slice::from_ref(&slow), replay_at)
        .await;
    let edges = pipeline
        .store
        .dependencies(TimeRange::ALL, &[])
        .await
        .expect("deps");
    assert_eq!(edges[0].calls, 32, "replays don't double counts");
    let again = pipeline
        .store
        .trace_anomalies(slow.trace_id)
        .await
        .expect("again");
    assert_eq!(
        bank_anomaly(&again).map(|a| (a.id, a.severity)),
        Some((flagged.id, AnomalyGrade::Critical)),
        "re-judged without its own sample, same deterministic id"
    );

    stop.send(true).expect("stop");
    task.await.expect("join").expect("clean stop");
    let checkpoint = pipeline
        .store
        .load_checkpoint(BASELINE_CHECKPOINT)
        .await
        .expect("load")
        .expect("baselines checkpointed");
    assert!(checkpoint.contains("transfer"), "{checkpoint}");

    // A new stage reloads the baselines: its first slow request is judged at once.
    let (stop, task) = pipeline.start_stage(Duration::from_millis(300)).await;
    let late = request(base + 3_000 * MS as i64, 60 * MS);
    pipeline.send(std::slice::from_ref(&late)).await;
    pipeline.analysed(std::slice::from_ref(&late), 0).await;
    let anomalies = pipeline
        .store
        .trace_anomalies(late.trace_id)
        .await
        .expect("late");
    assert_eq!(
        bank_anomaly(&anomalies).map(|a| a.severity),
        Some(AnomalyGrade::Critical)
    );
    let summary = pipeline
        .store
        .trace_analysis(late.trace_id)
        .await
        .expect("s")
        .expect("s");
    assert!(
        summary.scores.is_some(),
        "the reloaded model scores at once"
    );
    stop.send(true).expect("stop");
    task.await.expect("join").expect("clean stop");
}

/// A request unlike the others: ten times the events and an extra service.
fn odd_request(at_ns: i64) -> EventBatch {
    let mut batch = request(at_ns, 10 * MS);
    let root = batch.events[0].id;
    for i in 0..18 {
        let service = if i == 17 { "fraud-check" } else { "bank" };
        let mut e = step(
            batch.trace_id,
            at_ns + (2 + i) * MS as i64,
            service,
            "audit",
            MS,
        );
        e.parent_id = Some(root);
        e.metadata.thread_id = format!("t{}", i % 4);
        batch.events.push(e);
    }
    batch
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_unlike_200_normal_ones_gets_the_top_isolation_score() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pipeline = Pipeline::open(dir.path()).await;
    let base = now_ns();
    let normal: Vec<EventBatch> = (0..200)
        .map(|i| request(base + i * 20 * MS as i64, (9 + (i as u64 % 3)) * MS))
        .collect();
    let (stop, task) = pipeline.start_stage(Duration::from_millis(300)).await;
    pipeline.send(&normal).await;
    pipeline.analysed(&normal, 0).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let model = pipeline.store.latest_model().await.expect("model");
        if model.is_some_and(|m| m.trained_on == 200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no model trained on the 200 traces"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(true).expect("stop");
    task.await.expect("join").expect("clean stop");

    // A stage that retrains once at start (on the same 200 traces), then not for an hour, so
    // every trace below is scored by one model version.
    let (stop, task) = pipeline.start_stage(Duration::from_secs(3600)).await;
    let odd = odd_request(base + 5_000 * MS as i64);
    let mut probe: Vec<EventBatch> = (0..5)
        .map(|i| request(base + (5_100 + i * 20) * MS as i64, 10 * MS))
        .collect();
    probe.push(odd.clone());
    pipeline.send(&probe).await;
    pipeline.analysed(&probe, 0).await;
    let mut scores = Vec::new();
    for batch in &probe {
        let summary = pipeline
            .store
            .trace_analysis(batch.trace_id)
            .await
            .expect("read")
            .expect("analysed");
        let score = summary.scores.expect("scored");
        scores.push((batch.trace_id, score.model_version, score.isolation_score));
    }
    assert!(
        scores.windows(2).all(|w| w[0].1 == w[1].1),
        "one model version: {scores:?}"
    );
    let top = scores
        .iter()
        .max_by(|a, b| a.2.total_cmp(&b.2))
        .expect("scores");
    assert_eq!(top.0, odd.trace_id, "{scores:?}");
    stop.send(true).expect("stop");
    task.await.expect("join").expect("clean stop");
}

/// How many times the trace stages of `pipeline` asked the store for traces' event counts.
fn count_queries(pipeline: &Pipeline) -> u64 {
    pipeline
        .metrics
        .store_seconds
        .with_label_values(&["count trace events"])
        .get_sample_count()
}

/// Events of open traces are held in memory and analysed from there; a trace is read back from
/// the store only when memory may lack some of its events: evicted by the held-events bound, or
/// re-opened by a late event after it completed. Either way it is analysed with every event, and
/// the stage, which read every partition from its start, never asks the store for a count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evicted_and_reopened_traces_are_read_back_and_analysed_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pipeline = Pipeline::open(dir.path()).await;
    let (stop, task) = pipeline
        .start_stage_bounded(Duration::from_secs(3600), Duration::from_millis(200), 10)
        .await;
    let read_back = || pipeline.metrics.traces_read_back.get();
    let event_count = |trace: Uuid| {
        let store = pipeline.store.clone();
        async move {
            let summary = store.trace_analysis(trace).await.expect("read");
            summary.expect("analysed").event_count
        }
    };

    let small = request(now_ns(), 10 * MS);
    pipeline.send(std::slice::from_ref(&small)).await;
    pipeline.analysed(std::slice::from_ref(&small), 0).await;
    assert_eq!(event_count(small.trace_id).await, 2);
    assert_eq!(read_back(), 0, "analysed from memory");

    // 20 events: over the bound of 10, so they are dropped from memory.
    let large = odd_request(now_ns());
    pipeline.send(std::slice::from_ref(&large)).await;
    pipeline.analysed(std::slice::from_ref(&large), 0).await;
    assert_eq!(event_count(large.trace_id).await, 20);
    assert_eq!(read_back(), 1, "the evicted trace was read back");

    // A late event of the small trace re-opens it: memory holds only the late event.
    let reopened_at = now_ns();
    let late = EventBatch {
        trace_id: small.trace_id,
        events: vec![step(small.trace_id, reopened_at, "bank", "audit", MS)],
    };
    pipeline.send(std::slice::from_ref(&late)).await;
    pipeline
        .analysed(std::slice::from_ref(&late), reopened_at)
        .await;
    assert_eq!(event_count(small.trace_id).await, 3);
    assert_eq!(read_back(), 2, "the re-opened trace was read back");
    assert_eq!(count_queries(&pipeline), 0, "it saw every event itself");
    // The gauge is set once the step that completed the trace ends, just after its writes.
    let deadline = Instant::now() + Duration::from_secs(30);
    while pipeline.metrics.open_trace_events.get() != 0 {
        assert!(Instant::now() < deadline, "events still held");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    stop.send(true).expect("stop");
    task.await.expect("join").expect("clean stop");
}

/// A trace completed by one instance of the stage and re-opened by a late event that the next
/// instance reads (a restart: it starts at the committed offset, so it sees only the late
/// event) is read back and analysed whole; the new instance asks the store for the counts of
/// the traces it first saw after taking the partition over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_cut_by_a_restart_is_read_back_and_analysed_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pipeline = Pipeline::open(dir.path()).await;
    let event_count = |trace: Uuid| {
        let store = pipeline.store.clone();
        async move {
            let summary = store.trace_analysis(trace).await.expect("read");
            summary.expect("analysed").event_count
        }
    };
    let first = pipeline.start_stage(Duration::from_secs(3600)).await;
    let small = request(now_ns(), 10 * MS);
    pipeline.analyse(std::slice::from_ref(&small)).await;
    assert_eq!(event_count(small.trace_id).await, 2);
    stop_stage(first).await;
    assert_eq!(count_queries(&pipeline), 0);

    let reopened_at = now_ns();
    let late = EventBatch {
        trace_id: small.trace_id,
        events: vec![step(small.trace_id, reopened_at, "bank", "audit", MS)],
    };
    // Not seen before by the next instance, which also starts past the first record.
    let fresh = request(now_ns(), 10 * MS);
    pipeline.send(&[late.clone(), fresh.clone()]).await;
    let second = pipeline.start_stage(Duration::from_secs(3600)).await;
    pipeline.analysed(&[late, fresh.clone()], reopened_at).await;
    assert_eq!(event_count(small.trace_id).await, 3, "analysed whole");
    assert_eq!(event_count(fresh.trace_id).await, 2);
    assert_eq!(
        pipeline.metrics.traces_read_back.get(),
        1,
        "only the cut trace was read back"
    );
    assert!(count_queries(&pipeline) >= 1, "taken over: counted");
    stop_stage(second).await;
}

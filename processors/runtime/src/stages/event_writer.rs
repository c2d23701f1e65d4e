//! Writes the trace stage's consumed events to the store in large batches, off its consuming
//! path.
//!
//! Rule: the stage hands each poll's events to [`EventWriter::submit`] and goes on consuming. A
//! task of the writer's own gathers them and writes them with one insert per flush: as soon as
//! [`WriteBatching::max_rows`] events are gathered, or [`WriteBatching::flush_after`] after the
//! oldest unwritten one was submitted (so events are queryable about that long after they are
//! consumed). Before a flush it takes everything already queued, so a slow insert makes the next
//! one larger rather than the queue longer. Each submission gets a sequence number and the
//! writer publishes the highest one written: the stage keeps the records of a submission held
//! (uncommitted) until then, and completes a trace only once its events are written. The writer
//! hands the written events back ([`EventWriter::take_written`]) before it publishes their
//! number, so the stage keeps them for completion without a copy of its own.
//!
//! Why: awaiting one insert per poll (a few hundred to a few thousand rows) on the consuming
//! path made the stage wait for every store round trip, and ClickHouse wants few large inserts.
//! What breaks otherwise: committing a record's offset before its events are written would lose
//! them on a crash; an unbounded queue would grow while the store is down (the queue is bounded,
//! so `submit` waits then and the stage stops consuming: that is the back-pressure); completing
//! a trace before its events are written could read back an incomplete trace.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use raceway_schemas::Event;
use raceway_store::EventStore;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::io::store_retrying;
use crate::metrics::ProcessorMetrics;
use crate::retry::ShutdownDuringRetry;

/// When the writer flushes.
#[derive(Debug, Clone, Copy)]
pub struct WriteBatching {
    /// Events gathered that make a flush start at once.
    pub max_rows: usize,
    /// Longest an event waits for its flush to start.
    pub flush_after: Duration,
    /// Submissions queued (besides the one being written) before `submit` waits.
    pub queued_submissions: usize,
}

impl Default for WriteBatching {
    fn default() -> Self {
        WriteBatching {
            max_rows: 50_000,
            flush_after: Duration::from_millis(100),
            queued_submissions: 8,
        }
    }
}

/// One poll's events, in submission order.
struct Submission {
    seq: u64,
    submitted: Instant,
    events: Vec<Event>,
}

/// Events written and not yet taken back by the stage, in write order.
type Returned = Arc<Mutex<Vec<Vec<Event>>>>;

/// The stage's handle on the writer task.
pub struct EventWriter {
    queue: Option<mpsc::Sender<Submission>>,
    written: watch::Receiver<u64>,
    returned: Returned,
    /// Sequence number of the last submission (0: none yet).
    submitted: u64,
    task: Option<JoinHandle<Result<(), ShutdownDuringRetry>>>,
}

impl EventWriter {
    /// Starts the writer task on `store`; its store calls retry until `shutdown`.
    pub fn spawn(
        store: Arc<dyn EventStore>,
        metrics: ProcessorMetrics,
        shutdown: watch::Receiver<bool>,
        batching: WriteBatching,
    ) -> Self {
        let (queue, received) = mpsc::channel(batching.queued_submissions.max(1));
        let (published, written) = watch::channel(0);
        let returned = Returned::default();
        let task = WriterTask {
            store,
            metrics,
            shutdown,
            batching,
            received,
            published,
            returned: Arc::clone(&returned),
        };
        EventWriter {
            queue: Some(queue),
            written,
            returned,
            submitted: 0,
            task: Some(tokio::spawn(task.run())),
        }
    }

    /// Queues `events` for writing and returns their sequence number; waits while the queue is
    /// full (the store is slow or down). No events: nothing to wait for, the last number.
    pub async fn submit(&mut self, events: Vec<Event>) -> Result<u64, ShutdownDuringRetry> {
        if events.is_empty() {
            return Ok(self.submitted);
        }
        let seq = self.submitted + 1;
        let submission = Submission {
            seq,
            submitted: Instant::now(),
            events,
        };
        let sent = match &self.queue {
            Some(queue) => queue.send(submission).await.is_ok(),
            None => false,
        };
        if !sent {
            self.finish().await?;
            return Err(stopped());
        }
        self.submitted = seq;
        Ok(seq)
    }

    /// The highest sequence number whose events are written (with every earlier one).
    pub fn written(&self) -> u64 {
        *self.written.borrow()
    }

    /// The events written since the last call, in write order: every event of each submission up
    /// to [`EventWriter::written`] as it read before this call.
    pub fn take_written(&self) -> Vec<Vec<Event>> {
        let mut returned = self.returned.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::take(&mut *returned)
    }

    /// Waits until submission `seq` (and every earlier one) is written.
    pub async fn wait_written(&mut self, seq: u64) -> Result<(), ShutdownDuringRetry> {
        if self
            .written
            .wait_for(|&written| written >= seq)
            .await
            .is_ok()
        {
            return Ok(());
        }
        // The task ended before writing `seq`: only a shutdown during retries ends it.
        self.finish().await?;
        Err(stopped())
    }

    /// Writes what is queued and stops the task; fails when shutdown interrupted its retries.
    pub async fn finish(&mut self) -> Result<(), ShutdownDuringRetry> {
        self.queue = None;
        match self.task.take() {
            Some(task) => task.await.unwrap_or_else(|joined| {
                Err(ShutdownDuringRetry {
                    operation: "store events",
                    last_error: joined.to_string(),
                })
            }),
            None => Ok(()),
        }
    }
}

fn stopped() -> ShutdownDuringRetry {
    ShutdownDuringRetry {
        operation: "store events",
        last_error: "the event writer stopped".into(),
    }
}

/// The writer task's side.
struct WriterTask {
    store: Arc<dyn EventStore>,
    metrics: ProcessorMetrics,
    shutdown: watch::Receiver<bool>,
    batching: WriteBatching,
    received: mpsc::Receiver<Submission>,
    published: watch::Sender<u64>,
    returned: Returned,
}

impl WriterTask {
    async fn run(mut self) -> Result<(), ShutdownDuringRetry> {
        let mut batch: Vec<Event> = Vec::new();
        let mut last_seq = 0;
        // When the oldest event of `batch` was submitted.
        let mut oldest: Option<Instant> = None;
        let mut open = true;
        while open || !batch.is_empty() {
            let deadline = oldest.map(|at| at + self.batching.flush_after);
            let due = !open
                || batch.len() >= self.batching.max_rows
                || deadline.is_some_and(|at| Instant::now() >= at);
            if due && !batch.is_empty() {
                // Everything already queued joins this flush, up to the row bound.
                while batch.len() < self.batching.max_rows {
                    let Ok(submission) = self.received.try_recv() else {
                        break;
                    };
                    last_seq = submission.seq;
                    batch.extend(submission.events);
                }
                self.flush(std::mem::take(&mut batch), last_seq).await?;
                oldest = None;
                continue;
            }
            let wait_until = deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                received = self.received.recv() => match received {
                    Some(submission) => {
                        oldest.get_or_insert(submission.submitted);
                        last_seq = submission.seq;
                        batch.extend(submission.events);
                    }
                    None => open = false,
                },
                _ = tokio::time::sleep_until(wait_until) => {}
            }
        }
        Ok(())
    }

    /// Writes `batch` (one insert, retried until it succeeds), hands it back and publishes `seq`
    /// as written.
    async fn flush(&self, batch: Vec<Event>, seq: u64) -> Result<(), ShutdownDuringRetry> {
        let store = &self.store;
        store_retrying(&self.metrics, &self.shutdown, "store events", || {
            store.insert_events(&batch)
        })
        .await?;
        self.metrics.events_written.inc_by(batch.len() as u64);
        // Handed back before the number is published: a stage that sees it written finds them.
        (self.returned.lock().unwrap_or_else(PoisonError::into_inner)).push(batch);
        self.published.send_replace(seq);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raceway_schemas::{EventKind, Metadata};
    use raceway_store::{Lifecycle, SqliteStore};
    use uuid::Uuid;

    fn events(trace: Uuid, n: usize) -> Vec<Event> {
        (0..n)
            .map(|i| Event {
                id: Uuid::new_v4(),
                trace_id: trace,
                parent_id: None,
                timestamp_ns: i as i64,
                kind: EventKind::Custom(Default::default()),
                metadata: Metadata {
                    thread_id: "t1".into(),
                    service_name: "svc".into(),
                    environment: "test".into(),
                    ..Metadata::default()
                },
                causality_vector: Vec::new(),
                lock_set: Vec::new(),
            })
            .collect()
    }

    struct Setup {
        store: Arc<SqliteStore>,
        metrics: ProcessorMetrics,
        writer: EventWriter,
        _shutdown: watch::Sender<bool>,
    }

    /// A writer that flushes at `max_rows` events or `flush_after`, whichever comes first.
    async fn setup(max_rows: usize, flush_after: Duration) -> Setup {
        let batching = WriteBatching {
            max_rows,
            flush_after,
            queued_submissions: 8,
        };
        let store = SqliteStore::open_in_memory().expect("store");
        store.migrate().await.expect("migrate");
        let store = Arc::new(store);
        let metrics = ProcessorMetrics::register(&prometheus::Registry::new()).expect("metrics");
        let (shutdown_tx, shutdown) = watch::channel(false);
        let writer = EventWriter::spawn(store.clone(), metrics.clone(), shutdown, batching);
        Setup {
            store,
            metrics,
            writer,
            _shutdown: shutdown_tx,
        }
    }

    /// Successful inserts so far.
    fn inserts(metrics: &ProcessorMetrics) -> u64 {
        metrics
            .store_seconds
            .with_label_values(&["store events"])
            .get_sample_count()
    }

    #[tokio::test]
    async fn submissions_are_gathered_into_one_insert_of_max_rows() {
        let mut setup = setup(30, Duration::from_secs(3600)).await;
        let trace = Uuid::new_v4();
        let mut last = 0;
        for _ in 0..3 {
            last = setup
                .writer
                .submit(events(trace, 10))
                .await
                .expect("submit");
        }
        assert_eq!(last, 3);
        setup.writer.wait_written(last).await.expect("written");
        assert_eq!(setup.writer.written(), 3);
        assert_eq!(
            inserts(&setup.metrics),
            1,
            "one insert for the three submissions"
        );
        assert_eq!(setup.metrics.events_written.get(), 30);
        let stored = setup.store.trace_events(trace).await.expect("read");
        assert_eq!(stored.len(), 30);
    }

    #[tokio::test]
    async fn written_events_are_handed_back_once_in_write_order() {
        let mut setup = setup(1_000, Duration::from_millis(10)).await;
        let trace = Uuid::new_v4();
        let (first, second) = (events(trace, 3), events(trace, 2));
        setup.writer.submit(first.clone()).await.expect("submit");
        let seq = setup.writer.submit(second.clone()).await.expect("submit");
        setup.writer.wait_written(seq).await.expect("written");
        let back: Vec<Event> = setup.writer.take_written().into_iter().flatten().collect();
        let expected: Vec<Event> = first.into_iter().chain(second).collect();
        assert_eq!(back, expected);
        assert!(setup.writer.take_written().is_empty(), "handed back once");
    }

    #[tokio::test]
    async fn a_partial_batch_is_written_after_flush_after() {
        let mut setup = setup(1_000, Duration::from_millis(10)).await;
        let trace = Uuid::new_v4();
        let seq = setup.writer.submit(events(trace, 5)).await.expect("submit");
        setup.writer.wait_written(seq).await.expect("written");
        assert_eq!(
            setup.store.trace_events(trace).await.expect("read").len(),
            5
        );
        assert_eq!(
            setup.writer.submit(Vec::new()).await.expect("submit"),
            seq,
            "nothing to write: the last number"
        );
    }

    #[tokio::test]
    async fn finishing_writes_what_is_queued() {
        let mut setup = setup(1_000, Duration::from_secs(3600)).await;
        let trace = Uuid::new_v4();
        setup.writer.submit(events(trace, 4)).await.expect("submit");
        setup.writer.submit(events(trace, 3)).await.expect("submit");
        assert_eq!(setup.writer.written(), 0, "below max_rows and not yet due");
        setup.writer.finish().await.expect("finish");
        assert_eq!(
            setup.store.trace_events(trace).await.expect("read").len(),
            7
        );
        assert!(
            setup.writer.submit(events(trace, 1)).await.is_err(),
            "a finished writer takes nothing more"
        );
    }
}

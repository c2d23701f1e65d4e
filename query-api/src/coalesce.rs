//! Identical list requests that arrive together share one read of the store.
//!
//! The rule: a request for a list (keyed by its whole store query, the caller's environments
//! included) is answered by a read of that query that *starts after the request arrived*, and
//! every request for the same query that arrived before that read started shares it. So one
//! query has at most two reads at a time: the one running, and the next one, which starts when
//! the running one ends and answers everyone who arrived meanwhile.
//!
//! Why: a list read costs the store the same whoever asks, and a page in ClickHouse is several
//! queries of a few ms of server CPU each. Twenty clients polling the same page (a dashboard,
//! the UI's first page) queued twenty copies of the same work on the server's cores, so each
//! waited for the nineteen others; shared, they wait for about two reads.
//!
//! What breaks otherwise: sharing the read already in flight (the usual single-flight) would
//! answer a request with the store as it was before the request arrived, so an event or a
//! finding acknowledged just before the request could be missing from its answer. Here no
//! answer is older than its request: the read began after the request arrived, and sees what
//! the store had acknowledged by then, as a read of its own would. The cost: a request that
//! arrives while its query is being read waits for that read to end before its own starts (at
//! most one read's time); a lone request starts its read at once.
//!
//! Written here, not taken from a single-flight crate: those join the read in flight, which is
//! the staleness above. Each read runs as a task of its own, so a request that goes away does
//! not cancel the read others wait for; a query's entry is removed when its latest read ends,
//! so the map holds only the queries being read (memory bounded by the requests in flight).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures::future::{BoxFuture, FutureExt, Shared};
use serde::Serialize;

use crate::ApiError;

/// The answer of one read, shared by the requests it serves.
type SharedAnswer<T> = Shared<BoxFuture<'static, Result<T, ApiError>>>;

/// The latest read of one query: running, or waiting for the one before it to end.
struct Latest<T> {
    answer: SharedAnswer<T>,
    /// Whether it has started reading: a request arriving after that needs a read of its own.
    started: bool,
    /// Tells this read from the one scheduled after it (the entry's next holder).
    generation: u64,
}

/// The key under which identical list reads are shared: the whole store query, the caller's
/// environments included (two tenants never share a read).
pub(crate) fn list_key(query: &impl Serialize) -> Result<String, ApiError> {
    serde_json::to_string(query)
        .map_err(|e| ApiError::internal(format!("list query as a key: {e}")))
}

/// Shares reads of identical queries among the requests that arrive before the read starts
/// (see the module doc). One per route, in the router's state.
pub(crate) struct Coalescer<T> {
    queries: Mutex<Queries<T>>,
}

/// The queries being read, and the generation the next read gets (both behind one lock).
struct Queries<T> {
    latest: HashMap<String, Latest<T>>,
    next_generation: u64,
}

impl<T> Default for Coalescer<T> {
    fn default() -> Self {
        Coalescer {
            queries: Mutex::new(Queries {
                latest: HashMap::new(),
                next_generation: 0,
            }),
        }
    }
}

/// Marks a read's start and removes its entry when it ends (also if it panicked), unless a
/// later read of the query replaced it meanwhile.
struct Entry<T: Clone + Send + Sync + 'static> {
    coalescer: Arc<Coalescer<T>>,
    key: String,
    generation: u64,
}

impl<T: Clone + Send + Sync + 'static> Entry<T> {
    fn start(&self) {
        if let Some(latest) = self.coalescer.lock().latest.get_mut(&self.key) {
            if latest.generation == self.generation {
                latest.started = true;
            }
        }
    }
}

impl<T: Clone + Send + Sync + 'static> Drop for Entry<T> {
    fn drop(&mut self) {
        let mut queries = self.coalescer.lock();
        if queries
            .latest
            .get(&self.key)
            .is_some_and(|latest| latest.generation == self.generation)
        {
            queries.latest.remove(&self.key);
        }
    }
}

impl<T: Clone + Send + Sync + 'static> Coalescer<T> {
    fn lock(&self) -> MutexGuard<'_, Queries<T>> {
        // The map is consistent between statements; a panic elsewhere leaves it usable.
        self.queries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The answer to a request for `key`: a read by `read` that starts after this call, shared
    /// with the other requests for `key` that arrive before it starts.
    pub(crate) async fn read<F, Fut>(self: &Arc<Self>, key: String, read: F) -> Result<T, ApiError>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, ApiError>> + Send + 'static,
    {
        self.join(key, read).await
    }

    /// [`Coalescer::read`]'s registration, done before its first await: the read it returns
    /// has not started yet.
    fn join<F, Fut>(self: &Arc<Self>, key: String, read: F) -> SharedAnswer<T>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, ApiError>> + Send + 'static,
    {
        let mut queries = self.lock();
        let after = match queries.latest.get(&key) {
            Some(latest) if !latest.started => return latest.answer.clone(),
            Some(latest) => Some(latest.answer.clone()),
            None => None,
        };
        let generation = queries.next_generation;
        queries.next_generation += 1;
        let entry = Entry {
            coalescer: Arc::clone(self),
            key: key.clone(),
            generation,
        };
        let task = tokio::spawn(async move {
            if let Some(running) = after {
                // Its answer is for the requests that arrived before it started.
                let _ = running.await;
            }
            entry.start();
            let answer = read().await;
            drop(entry);
            answer
        });
        let answer = async move {
            task.await
                .unwrap_or_else(|e| Err(ApiError::internal(format!("list read failed: {e}"))))
        }
        .boxed()
        .shared();
        queries.latest.insert(
            key,
            Latest {
                answer: answer.clone(),
                started: false,
                generation,
            },
        );
        answer
    }

    /// How many queries have a read running or waiting (tests).
    #[cfg(test)]
    fn queries_in_flight(&self) -> usize {
        self.lock().latest.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::sync::oneshot;

    use super::*;

    /// A coalescer of numbered reads, and the count of reads started.
    fn fresh() -> (Arc<Coalescer<usize>>, Arc<AtomicUsize>) {
        (Arc::default(), Arc::new(AtomicUsize::new(0)))
    }

    /// A read that records its start (its number among the reads), then answers that number
    /// once `release` fires.
    fn gated_read(
        reads: &Arc<AtomicUsize>,
        release: oneshot::Receiver<()>,
    ) -> impl FnOnce() -> BoxFuture<'static, Result<usize, ApiError>> + Send + 'static {
        let reads = Arc::clone(reads);
        move || {
            async move {
                let number = reads.fetch_add(1, Ordering::SeqCst) + 1;
                let _ = release.await;
                Ok(number)
            }
            .boxed()
        }
    }

    /// A read that records its start and answers its number at once.
    fn counted_read(
        reads: &Arc<AtomicUsize>,
    ) -> impl FnOnce() -> BoxFuture<'static, Result<usize, ApiError>> + Send + 'static {
        let reads = Arc::clone(reads);
        move || async move { Ok(reads.fetch_add(1, Ordering::SeqCst) + 1) }.boxed()
    }

    #[tokio::test]
    async fn requests_arriving_during_a_read_share_the_next_one_not_the_running_one() {
        let (coalescer, reads) = fresh();
        let (release_first, first_gate) = oneshot::channel();
        let first = coalescer.join("q".into(), gated_read(&reads, first_gate));
        let first = tokio::spawn(first);
        // Wait until the first read has started (it counts itself before its gate).
        while reads.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let second = coalescer.join("q".into(), counted_read(&reads));
        let third = coalescer.join("q".into(), counted_read(&reads));
        assert_eq!(
            reads.load(Ordering::SeqCst),
            1,
            "the next read waits for the running one"
        );
        release_first.send(()).expect("first read waiting");
        assert_eq!(first.await.expect("task").expect("answer"), 1);
        assert_eq!(
            second.await.expect("answer"),
            2,
            "a read begun after it arrived"
        );
        assert_eq!(
            third.await.expect("answer"),
            2,
            "the same read as the second"
        );
        assert_eq!(reads.load(Ordering::SeqCst), 2);
        assert_eq!(
            coalescer.queries_in_flight(),
            0,
            "the entry goes with its last read"
        );
    }

    #[tokio::test]
    async fn a_lone_request_reads_at_once_and_later_ones_read_again() {
        let (coalescer, reads) = fresh();
        let first = coalescer.read("q".into(), counted_read(&reads)).await;
        let second = coalescer.read("q".into(), counted_read(&reads)).await;
        assert_eq!((first.expect("first"), second.expect("second")), (1, 2));
        assert_eq!(coalescer.queries_in_flight(), 0);
    }

    #[tokio::test]
    async fn different_queries_never_share_a_read() {
        let (coalescer, reads) = fresh();
        let (release, gate) = oneshot::channel();
        let held = coalescer.join("a".into(), gated_read(&reads, gate));
        let other = coalescer.read("b".into(), counted_read(&reads)).await;
        assert_eq!(other.expect("b"), 2, "b read on its own while a was held");
        release.send(()).expect("a waiting");
        assert_eq!(held.await.expect("a"), 1);
    }

    #[tokio::test]
    async fn a_read_outlives_a_request_that_went_away() {
        let (coalescer, reads) = fresh();
        let (release, gate) = oneshot::channel();
        let gone = coalescer.join("q".into(), gated_read(&reads, gate));
        let staying = coalescer.join("q".into(), counted_read(&reads));
        drop(gone);
        release.send(()).expect("read waiting");
        assert_eq!(
            staying.await.expect("answer"),
            1,
            "the shared read still answers"
        );
        assert_eq!(coalescer.queries_in_flight(), 0);
    }

    #[tokio::test]
    async fn a_failed_read_fails_every_request_it_serves_and_the_next_reads_again() {
        let (coalescer, reads) = fresh();
        let failing = || async { Err::<usize, _>(ApiError::bad_request("no")) };
        let first = coalescer.join("q".into(), failing);
        let second = coalescer.join("q".into(), counted_read(&reads));
        assert_eq!(first.await.expect_err("failed").message, "no");
        assert_eq!(second.await.expect_err("shared").message, "no");
        let again = coalescer.read("q".into(), counted_read(&reads)).await;
        assert_eq!(again.expect("a read of its own"), 1);
    }
}

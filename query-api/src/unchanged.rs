//! A list read answered from the previous answer when the store has not changed since.
//!
//! The rule: a list's answer is remembered with the store's data version
//! ([`raceway_store::Lifecycle::data_version`]) taken *before* the read that made it. A later
//! read of the same query first takes the version again; when it equals the remembered one,
//! nothing was written, pruned or rewritten since before the remembered read began, so that
//! answer is what a read now would give, and it is returned without reading. Otherwise (or
//! when the store has no version) the query is read, and remembered with the new version.
//!
//! Why: a ClickHouse list page costs the server 15-40 ms of CPU in several queries, and the
//! same page asked again of unchanged data (a dashboard polling it, a user paging back and
//! forth, a quiet store) cost that every time; the version costs about 1.8 ms.
//!
//! What breaks otherwise: remembering the version taken *after* the read could pair an answer
//! with a later state than the one it shows (a write landing between the read and the version
//! would then never be read), and remembering answers without a version would serve stale
//! lists. No answer is older than its request: the version is taken after the request arrived
//! (inside the read the coalescer starts for it). Bounded memory: the [`REMEMBERED_QUERIES`]
//! most recently used queries, each one page (at most `MAX_PAGE` rows).
//!
//! The bounded map is the `lru` crate's; the rule above is all this module adds.

use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard, PoisonError};

use lru::LruCache;

use crate::ApiError;

/// Most queries whose answers are remembered, per list.
pub(crate) const REMEMBERED_QUERIES: NonZeroUsize = match NonZeroUsize::new(64) {
    Some(n) => n,
    None => unreachable!(),
};

/// The last answer of each of the most recently read queries of one list, with the store's
/// data version taken before the read that made it.
pub(crate) struct Unchanged<T> {
    answers: Mutex<LruCache<String, (String, T)>>,
}

impl<T> Default for Unchanged<T> {
    fn default() -> Self {
        Unchanged {
            answers: Mutex::new(LruCache::new(REMEMBERED_QUERIES)),
        }
    }
}

impl<T: Clone> Unchanged<T> {
    fn lock(&self) -> MutexGuard<'_, LruCache<String, (String, T)>> {
        // The map is consistent between statements; a panic elsewhere leaves it usable.
        self.answers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The answer to `key` when the store's data version is now `version` (taken by the
    /// caller just before): the remembered one if it was read at this version, else `read`'s,
    /// remembered with `version`. A failed read is not remembered.
    pub(crate) async fn read<F, Fut>(
        &self,
        key: &str,
        version: Option<String>,
        read: F,
    ) -> Result<T, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let Some(version) = version else {
            return read().await;
        };
        if let Some((read_at, answer)) = self.lock().get(key) {
            if *read_at == version {
                return Ok(answer.clone());
            }
        }
        let answer = read().await?;
        self.lock().put(key.to_string(), (version, answer.clone()));
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Reads `key` at `version` through `unchanged`, counting the reads in `reads`; the answer
    /// is the read's number.
    async fn read_at(
        unchanged: &Unchanged<usize>,
        reads: &AtomicUsize,
        key: &str,
        version: Option<&str>,
    ) -> usize {
        unchanged
            .read(key, version.map(str::to_string), || async {
                Ok(reads.fetch_add(1, Ordering::SeqCst))
            })
            .await
            .expect("read")
    }

    #[tokio::test]
    async fn an_unchanged_version_answers_without_reading() {
        let (unchanged, reads) = (Unchanged::default(), AtomicUsize::new(0));
        assert_eq!(read_at(&unchanged, &reads, "page", Some("v1")).await, 0);
        assert_eq!(read_at(&unchanged, &reads, "page", Some("v1")).await, 0);
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_new_version_reads_again_and_is_remembered() {
        let (unchanged, reads) = (Unchanged::default(), AtomicUsize::new(0));
        read_at(&unchanged, &reads, "page", Some("v1")).await;
        assert_eq!(read_at(&unchanged, &reads, "page", Some("v2")).await, 1);
        assert_eq!(read_at(&unchanged, &reads, "page", Some("v2")).await, 1);
        // An older version is not the remembered one either.
        assert_eq!(read_at(&unchanged, &reads, "page", Some("v1")).await, 2);
    }

    #[tokio::test]
    async fn without_a_version_every_request_reads() {
        let (unchanged, reads) = (Unchanged::default(), AtomicUsize::new(0));
        for n in 0..3 {
            assert_eq!(read_at(&unchanged, &reads, "page", None).await, n);
        }
    }

    #[tokio::test]
    async fn queries_are_remembered_apart() {
        let (unchanged, reads) = (Unchanged::default(), AtomicUsize::new(0));
        assert_eq!(read_at(&unchanged, &reads, "first", Some("v1")).await, 0);
        assert_eq!(read_at(&unchanged, &reads, "second", Some("v1")).await, 1);
        assert_eq!(read_at(&unchanged, &reads, "first", Some("v1")).await, 0);
    }

    #[tokio::test]
    async fn a_failed_read_is_not_remembered() {
        let (unchanged, reads) = (Unchanged::<usize>::default(), AtomicUsize::new(0));
        let failed = unchanged
            .read("page", Some("v1".into()), || async {
                Err(ApiError::internal("store down"))
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(read_at(&unchanged, &reads, "page", Some("v1")).await, 0);
    }

    #[tokio::test]
    async fn only_the_most_recent_queries_are_remembered() {
        let (unchanged, reads) = (Unchanged::default(), AtomicUsize::new(0));
        let queries = REMEMBERED_QUERIES.get();
        for n in 0..=queries {
            read_at(&unchanged, &reads, &format!("page {n}"), Some("v1")).await;
        }
        assert_eq!(unchanged.lock().len(), queries);
        // The first query was dropped for the newest: it is read again.
        assert_eq!(
            read_at(&unchanged, &reads, "page 0", Some("v1")).await,
            queries + 1
        );
    }
}

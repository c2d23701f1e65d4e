//! The store roles the routes read, handed out by axum's `FromRef`: each handler names the role
//! it uses (`State<Arc<dyn FindingStore>>`, ...), not the whole store, so a route cannot grow a
//! dependency on data it does not show without saying so in its signature.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::FromRef;
use raceway_schemas::RaceFinding;
use raceway_store::{
    AccessStore, AnalysisStore, EventStore, FindingStore, Lifecycle, ServiceStore, Store, TracePage,
};

use crate::coalesce::Coalescer;
use crate::unchanged::Unchanged;
use crate::ApiError;

/// Every role, from the one store the router is given.
#[derive(Clone)]
pub(crate) struct Stores {
    lifecycle: Arc<dyn Lifecycle>,
    events: Arc<dyn EventStore>,
    findings: Arc<dyn FindingStore>,
    accesses: Arc<dyn AccessStore>,
    analyses: Arc<dyn AnalysisStore>,
    services: Arc<dyn ServiceStore>,
    lists: ListReads,
}

/// The reads of the two paginated lists: trace pages, and race pages with their recorded
/// values and total.
#[derive(Clone)]
pub(crate) struct ListReads {
    pub(crate) traces: ListRead<TracePage>,
    pub(crate) races: ListRead<(Vec<RaceFinding>, u64)>,
}

impl ListReads {
    fn new(lifecycle: Arc<dyn Lifecycle>) -> Self {
        ListReads {
            traces: ListRead::new(Arc::clone(&lifecycle)),
            races: ListRead::new(lifecycle),
        }
    }
}

/// The reads of one paginated list: identical requests that arrive together share one read
/// ([`Coalescer`]), and a read of a query whose data did not change since its last read is
/// answered by that read ([`Unchanged`], by the store's data version).
pub(crate) struct ListRead<T> {
    shared: Arc<Coalescer<T>>,
    unchanged: Arc<Unchanged<T>>,
    lifecycle: Arc<dyn Lifecycle>,
    /// Whether a failure to get the data version was logged as a warning already.
    warned: Arc<AtomicBool>,
}

impl<T> Clone for ListRead<T> {
    fn clone(&self) -> Self {
        ListRead {
            shared: Arc::clone(&self.shared),
            unchanged: Arc::clone(&self.unchanged),
            lifecycle: Arc::clone(&self.lifecycle),
            warned: Arc::clone(&self.warned),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> ListRead<T> {
    fn new(lifecycle: Arc<dyn Lifecycle>) -> Self {
        ListRead {
            shared: Arc::default(),
            unchanged: Arc::default(),
            lifecycle,
            warned: Arc::default(),
        }
    }

    /// The answer to a request for the query `key`, read by `read` unless the store is
    /// unchanged since the query's last read: the data version is taken within the shared
    /// read, which starts after the request arrived. A store that fails to give its version
    /// (a ClickHouse user not allowed to read `system.parts`) is read, as one without.
    pub(crate) async fn read<F, Fut>(&self, key: String, read: F) -> Result<T, ApiError>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, ApiError>> + Send + 'static,
    {
        let (unchanged, lifecycle) = (Arc::clone(&self.unchanged), Arc::clone(&self.lifecycle));
        let warned = Arc::clone(&self.warned);
        let remembered = key.clone();
        self.shared
            .read(key, move || async move {
                let version = lifecycle.data_version().await.unwrap_or_else(|error| {
                    if warned.swap(true, Ordering::Relaxed) {
                        tracing::debug!(%error, "no data version: the list is read");
                    } else {
                        tracing::warn!(%error, "no data version: lists are read every time \
                            while the store cannot give one (further failures log at debug)");
                    }
                    None
                });
                unchanged.read(&remembered, version, read).await
            })
            .await
    }
}

impl FromRef<Stores> for ListReads {
    fn from_ref(stores: &Stores) -> Self {
        stores.lists.clone()
    }
}

impl From<Arc<dyn Store>> for Stores {
    fn from(store: Arc<dyn Store>) -> Self {
        let lifecycle: Arc<dyn Lifecycle> = store.clone();
        Stores {
            lists: ListReads::new(Arc::clone(&lifecycle)),
            lifecycle,
            events: store.clone(),
            findings: store.clone(),
            accesses: store.clone(),
            analyses: store.clone(),
            services: store,
        }
    }
}

/// `impl FromRef<Stores>` for each role's `Arc`, taken from its field.
macro_rules! role_from_stores {
    ($($field:ident: $role:ident),* $(,)?) => {
        $(impl FromRef<Stores> for Arc<dyn $role> {
            fn from_ref(stores: &Stores) -> Self {
                Arc::clone(&stores.$field)
            }
        })*
    };
}

role_from_stores!(
    lifecycle: Lifecycle,
    events: EventStore,
    findings: FindingStore,
    accesses: AccessStore,
    analyses: AnalysisStore,
    services: ServiceStore,
);

/// The roles an audit trail reads: the accesses, the trace's events (to tell a trace with no
/// access to the variable from a missing trace) and the findings the accesses are part of.
#[derive(Clone)]
pub(crate) struct AuditStores {
    pub(crate) accesses: Arc<dyn AccessStore>,
    pub(crate) events: Arc<dyn EventStore>,
    pub(crate) findings: Arc<dyn FindingStore>,
}

impl FromRef<Stores> for AuditStores {
    fn from_ref(stores: &Stores) -> Self {
        AuditStores {
            accesses: Arc::clone(&stores.accesses),
            events: Arc::clone(&stores.events),
            findings: Arc::clone(&stores.findings),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use async_trait::async_trait;
    use raceway_store::StoreError;

    use super::*;

    /// A store's lifecycle that gives `version`, or fails to give one when it is `None`.
    struct Versioned(Option<&'static str>);

    #[async_trait]
    impl Lifecycle for Versioned {
        async fn migrate(&self) -> Result<(), StoreError> {
            Ok(())
        }
        async fn ping(&self) -> Result<(), StoreError> {
            Ok(())
        }
        async fn data_version(&self) -> Result<Option<String>, StoreError> {
            match self.0 {
                Some(version) => Ok(Some(version.to_string())),
                None => Err(StoreError::InvalidArgument("no system.parts".into())),
            }
        }
    }

    /// How many of three requests for one query read the store, over `lifecycle`.
    async fn reads_of_three(lifecycle: Versioned) -> usize {
        let list = ListRead::<usize>::new(Arc::new(lifecycle));
        let reads = Arc::new(AtomicUsize::new(0));
        for _ in 0..3 {
            let reads = Arc::clone(&reads);
            list.read("page".into(), move || async move {
                Ok(reads.fetch_add(1, Ordering::SeqCst))
            })
            .await
            .expect("answer");
        }
        reads.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn an_unchanged_store_is_read_once() {
        assert_eq!(reads_of_three(Versioned(Some("parts"))).await, 1);
    }

    #[tokio::test]
    async fn a_store_failing_to_give_its_version_is_read_every_time() {
        assert_eq!(reads_of_three(Versioned(None)).await, 3);
    }
}

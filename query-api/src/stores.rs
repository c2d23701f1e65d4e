//! The store roles the routes read, handed out by axum's `FromRef`: each handler names the role
//! it uses (`State<Arc<dyn FindingStore>>`, ...), not the whole store, so a route cannot grow a
//! dependency on data it does not show without saying so in its signature.

use std::sync::Arc;

use axum::extract::FromRef;
use raceway_schemas::RaceFinding;
use raceway_store::{
    AccessStore, AnalysisStore, EventStore, FindingStore, Lifecycle, ServiceStore, Store, TracePage,
};

use crate::coalesce::Coalescer;

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

/// The shared reads of the two paginated lists ([`Coalescer`]): trace pages, and race pages
/// with their recorded values and total.
#[derive(Clone, Default)]
pub(crate) struct ListReads {
    pub(crate) traces: Arc<Coalescer<TracePage>>,
    pub(crate) races: Arc<Coalescer<(Vec<RaceFinding>, u64)>>,
}

impl FromRef<Stores> for ListReads {
    fn from_ref(stores: &Stores) -> Self {
        stores.lists.clone()
    }
}

impl From<Arc<dyn Store>> for Stores {
    fn from(store: Arc<dyn Store>) -> Self {
        Stores {
            lifecycle: store.clone(),
            events: store.clone(),
            findings: store.clone(),
            accesses: store.clone(),
            analyses: store.clone(),
            services: store,
            lists: ListReads::default(),
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

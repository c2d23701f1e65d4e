//! Confining reads to a tenant's environments.
//!
//! Rule: a caller confined to a tenant (a `raceway_auth::Principal` with a tenant, put in the
//! request's extensions by `raceway_auth::protect`) sees only the tenant's environments, on
//! every route. Each handler reads its [`Scope`] through an extractor, so the confinement is
//! part of the route's signature rather than of a second list of routes that could drift:
//!
//! - one trace (`/api/traces/{id}/...`, time travel): the trace must have events, all in the
//!   tenant's environments, else 404 as for a missing trace, so that a tenant cannot learn that
//!   another tenant's trace exists ([`Scope::check_trace`], applied by the `TraceId` and
//!   `StoredTrace` extractors);
//! - lists (traces, races, anomalies, dependencies, audit trails): the store query carries the
//!   tenant's environments ([`Scope::environments`]); naming another environment is a 403;
//! - findings, which carry their environment, and live messages: [`Scope::sees`],
//!   [`Scope::admits`];
//! - what spans every environment and cannot be split (the trace model's clusters): 403.
//!
//! Without it, a tenant's read key would read every tenant's recorded values. Callers without a
//! tenant (and every caller when no credential is configured) see everything.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use raceway_auth::{Principal, Tenant};
use raceway_schemas::{Event, RaceFinding};
use raceway_store::EventStore;
use uuid::Uuid;

use crate::live::LiveMessage;
use crate::ApiError;

/// The environments a request may read.
#[derive(Debug, Clone)]
pub(crate) enum Scope {
    /// Every environment.
    Everything,
    /// Only this tenant's.
    Tenant(Tenant),
}

impl Scope {
    /// The scope of the request with these parts.
    pub(crate) fn of(parts: &Parts) -> Scope {
        match parts
            .extensions
            .get::<Principal>()
            .and_then(|p| p.tenant.clone())
        {
            Some(tenant) => Scope::Tenant(tenant),
            None => Scope::Everything,
        }
    }

    /// Whether the caller may read `environment`.
    pub(crate) fn sees(&self, environment: &str) -> bool {
        match self {
            Scope::Everything => true,
            Scope::Tenant(tenant) => tenant.owns(environment),
        }
    }

    /// The environments a store query is confined to (empty: every one). 403 when the caller
    /// names an environment it may not read.
    pub(crate) fn environments(&self, named: Option<&str>) -> Result<Vec<String>, ApiError> {
        let Scope::Tenant(tenant) = self else {
            return Ok(Vec::new());
        };
        if let Some(named) = named.filter(|n| !tenant.owns(n)) {
            return Err(ApiError {
                status: StatusCode::FORBIDDEN,
                message: format!(
                    "environment `{named}` is not one of tenant {}'s environments",
                    tenant.name
                ),
            });
        }
        Ok(tenant.environments.clone())
    }

    /// 404 unless the trace has events, all in environments the caller may read (another
    /// tenant's trace answers as a missing one).
    pub(crate) fn check_trace(&self, id: Uuid, events: &[Event]) -> Result<(), ApiError> {
        let visible = events.iter().all(|e| self.sees(&e.metadata.environment));
        if events.is_empty() || !visible {
            return Err(ApiError::not_found(format!("no trace {id}")));
        }
        Ok(())
    }

    /// [`Scope::check_trace`] for a caller with a tenant, reading the trace from `store`;
    /// nothing to read for the others.
    pub(crate) async fn check_stored_trace(
        &self,
        store: &dyn EventStore,
        id: Uuid,
    ) -> Result<(), ApiError> {
        match self {
            Scope::Everything => Ok(()),
            Scope::Tenant(_) => self.check_trace(id, &store.trace_events(id).await?),
        }
    }

    /// The findings the caller may read.
    pub(crate) fn findings(&self, mut findings: Vec<RaceFinding>) -> Vec<RaceFinding> {
        findings.retain(|f| self.sees(&f.environment));
        findings
    }

    /// 403 for a caller with a tenant: the answer spans every environment.
    pub(crate) fn require_everything(&self, what: &str) -> Result<(), ApiError> {
        match self {
            Scope::Everything => Ok(()),
            Scope::Tenant(tenant) => Err(ApiError {
                status: StatusCode::FORBIDDEN,
                message: format!(
                    "{what} spans every environment: not readable by tenant {}",
                    tenant.name
                ),
            }),
        }
    }

    /// Whether a live message may go to the caller: events and findings by their
    /// environment, completions when every environment of the trace is the caller's.
    pub fn admits(&self, message: &LiveMessage) -> bool {
        match message {
            LiveMessage::Event { environment, .. } => self.sees(environment),
            LiveMessage::Finding { finding, .. } => self.sees(&finding.environment),
            LiveMessage::TraceCompleted { environments, .. } => {
                matches!(self, Scope::Everything)
                    || (!environments.is_empty() && environments.iter().all(|e| self.sees(e)))
            }
            LiveMessage::Subscribed {} | LiveMessage::Lagged { .. } => true,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Scope {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Scope::of(parts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> Scope {
        Scope::Tenant(Tenant {
            name: "acme".into(),
            environments: vec!["acme-prod".into(), "acme-dev".into()],
        })
    }

    #[test]
    fn a_tenant_lists_only_its_environments() {
        assert!(Scope::Everything.environments(None).unwrap().is_empty());
        assert_eq!(
            tenant().environments(Some("acme-dev")).unwrap(),
            ["acme-prod", "acme-dev"]
        );
        let err = tenant().environments(Some("globex")).unwrap_err();
        assert_eq!(err.status, StatusCode::FORBIDDEN);
    }

    #[test]
    fn completions_need_every_environment_of_the_trace() {
        let completed = |environments: &[&str]| LiveMessage::TraceCompleted {
            trace_id: "t".into(),
            event_count: 1,
            services: vec![],
            environments: environments.iter().map(|e| e.to_string()).collect(),
        };
        assert!(tenant().admits(&completed(&["acme-prod"])));
        assert!(!tenant().admits(&completed(&["acme-prod", "globex"])));
        assert!(!tenant().admits(&completed(&[])));
        assert!(Scope::Everything.admits(&completed(&[])));
        assert!(tenant().admits(&LiveMessage::Lagged { dropped: 2 }));
    }

    /// A record of the findings topic carries many tenants' notices: each message it expands
    /// into is admitted by its own environment.
    #[test]
    fn each_notice_of_a_batch_record_is_confined_by_its_own_environment() {
        let side = |trace: &str| {
            serde_json::json!({"event_id": "e", "trace_id": trace, "thread_id": "t",
                "service": "web", "instance": "i", "location": "a.rs:1",
                "access_type": "Write", "timestamp_ns": 1, "clock": []})
        };
        let finding = |environment: &str, trace: &str| {
            serde_json::json!({"type": "finding", "finding": {"id": trace, "kind": "data_race",
                "environment": environment, "variable": "x", "severity": "critical",
                "count": 1, "explanation": "", "first": side(trace), "second": side(trace),
                "detected_at_ns": 1}})
        };
        let completed = |environment: &str, trace: &str| {
            serde_json::json!({"type": "trace_completed", "trace_id": trace, "event_count": 3,
                "services": ["web"], "environments": [environment]})
        };
        let (acme, globex) = (uuid::Uuid::from_u128(1), uuid::Uuid::from_u128(2));
        let (acme, globex) = (acme.to_string(), globex.to_string());
        let record = serde_json::json!({"type": "batch", "notices": [
            finding("globex", &globex), completed("acme-prod", &acme),
            finding("acme-dev", &acme), completed("globex", &globex)]});
        let messages = LiveMessage::from_notices_record(record.to_string().as_bytes());
        assert_eq!(messages.len(), 4);
        let admitted: Vec<bool> = messages.iter().map(|m| tenant().admits(m)).collect();
        assert_eq!(admitted, [false, true, true, false]);
        assert!(messages.iter().all(|m| Scope::Everything.admits(m)));
    }
}

//! What the TUI asks the query API for, and the answers, as plain values: the app decides which
//! [`Fetch`]es it needs and applies the [`Loaded`] answers; the event loop performs them with
//! [`perform`], so the app's logic never waits on the network.

use crate::client::models::{
    AnomaliesPage, CriticalPathBody, HotspotsBody, RaceFinding, ServicesBody, StepRow,
    TraceAnomalies, TraceAuditTrail, TraceDependencies, TraceDependencyRow, TraceRaces,
    TraceStateBody, TraceSteps, TracesPage, Tree,
};
use crate::client::{ApiClient, ClientError};
use crate::tui::services_screen::{ServiceLine, WINDOW};
use raceway_analysis::simulate::{Simulation, SimulationSpec};

/// Traces listed at most.
pub const TRACE_PAGE: u32 = 200;

/// One request to the query API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetch {
    /// The traces list.
    Traces,
    /// Ids of traces with duration anomalies (the list marks them).
    Anomalous,
    Tree(String),
    CriticalPath(String),
    Races(String),
    Anomalies(String),
    Dependencies(String),
    Steps(String),
    /// The state after a step.
    State(String, usize),
    /// The state after the last step: its variables are the ones the trace touched.
    FinalState(String, usize),
    /// The audit trail of one variable of the trace.
    Audit(String, String),
    /// A what-if simulation of the trace.
    Simulate(String, SimulationSpec),
    /// The services of the window, each with its health.
    Services,
    /// The hotspots of the window.
    Hotspots,
}

/// An answer to a [`Fetch`].
#[derive(Debug)]
pub enum Loaded {
    Traces(TracesPage),
    Anomalous(Vec<String>),
    Tree(String, Tree),
    CriticalPath(String, CriticalPathBody),
    Races(String, Vec<RaceFinding>),
    /// `None` when the trace was not analysed (yet).
    Anomalies(String, Option<TraceAnomalies>),
    Dependencies(String, Vec<TraceDependencyRow>),
    Steps(String, Vec<StepRow>),
    State(String, TraceStateBody),
    FinalState(String, TraceStateBody),
    Audit(String, String, TraceAuditTrail),
    /// A simulation, or the API's message when it refused the spec.
    Simulated(String, Result<Simulation, String>),
    Services(Vec<ServiceLine>),
    Hotspots(HotspotsBody),
    /// The request failed; the event loop retries it.
    Failed(Fetch, String),
}

/// Performs `fetch` against the API.
pub async fn perform(client: &ApiClient, fetch: Fetch) -> Loaded {
    match load(client, &fetch).await {
        Ok(loaded) => loaded,
        Err(error) => Loaded::Failed(fetch, error.to_string()),
    }
}

async fn load(client: &ApiClient, fetch: &Fetch) -> Result<Loaded, ClientError> {
    Ok(match fetch {
        Fetch::Traces => {
            let query = [("limit", TRACE_PAGE.to_string())];
            Loaded::Traces(client.get(&["api", "traces"], &query).await?)
        }
        Fetch::Anomalous => {
            let query = [("limit", "1000".to_string())];
            let page: AnomaliesPage = client.get(&["api", "anomalies"], &query).await?;
            Loaded::Anomalous(page.anomalies.into_iter().map(|a| a.trace_id).collect())
        }
        Fetch::Tree(id) => Loaded::Tree(id.clone(), of_trace(client, id, "tree", &[]).await?),
        Fetch::CriticalPath(id) => {
            let path = of_trace(client, id, "critical-path", &[]).await?;
            Loaded::CriticalPath(id.clone(), path)
        }
        Fetch::Races(id) => {
            let page: TraceRaces = of_trace(client, id, "races", &[]).await?;
            Loaded::Races(id.clone(), page.races)
        }
        Fetch::Anomalies(id) => match of_trace(client, id, "anomalies", &[]).await {
            Ok(anomalies) => Loaded::Anomalies(id.clone(), Some(anomalies)),
            Err(e) if e.is_not_found() => Loaded::Anomalies(id.clone(), None),
            Err(e) => return Err(e),
        },
        Fetch::Dependencies(id) => {
            let deps: TraceDependencies = of_trace(client, id, "dependencies", &[]).await?;
            Loaded::Dependencies(id.clone(), deps.dependencies)
        }
        Fetch::Steps(id) => {
            let steps: TraceSteps = of_trace(client, id, "steps", &[]).await?;
            Loaded::Steps(id.clone(), steps.steps)
        }
        Fetch::State(id, step) => {
            let at = [("at", step.to_string())];
            Loaded::State(id.clone(), of_trace(client, id, "state", &at).await?)
        }
        Fetch::FinalState(id, step) => {
            let at = [("at", step.to_string())];
            Loaded::FinalState(id.clone(), of_trace(client, id, "state", &at).await?)
        }
        Fetch::Simulate(id, spec) => {
            let body = serde_json::to_value(spec).map_err(|e| ClientError::Decode {
                path: "the simulation spec".into(),
                reason: e.to_string(),
            })?;
            let path = ["api", "traces", id, "simulate"];
            match client.post(&path, &[], &body).await {
                Ok(simulation) => Loaded::Simulated(id.clone(), Ok(simulation)),
                Err(ClientError::Status { message, .. }) => {
                    Loaded::Simulated(id.clone(), Err(message))
                }
                Err(e) => return Err(e),
            }
        }
        Fetch::Services => {
            let window = [("window", WINDOW.to_string())];
            let list: ServicesBody = client.get(&["api", "services"], &window).await?;
            let mut lines = Vec::with_capacity(list.services.len());
            for counts in list.services {
                let path = ["api", "services", &counts.service, "health"];
                let health = client.get(&path, &window).await?;
                lines.push(ServiceLine {
                    counts,
                    health: Some(health),
                });
            }
            Loaded::Services(lines)
        }
        Fetch::Hotspots => {
            let query = [("window", WINDOW.to_string()), ("limit", "10".to_string())];
            Loaded::Hotspots(client.get(&["api", "hotspots"], &query).await?)
        }
        Fetch::Audit(id, variable) => {
            let path = ["api", "traces", id, "audit-trail", variable];
            Loaded::Audit(id.clone(), variable.clone(), client.get(&path, &[]).await?)
        }
    })
}

/// `GET /api/traces/{id}/{what}`.
async fn of_trace<T: serde::de::DeserializeOwned>(
    client: &ApiClient,
    id: &str,
    what: &str,
    query: &[(&str, String)],
) -> Result<T, ClientError> {
    client.get(&["api", "traces", id, what], query).await
}

//! The recorded values of findings' sides: `old_value` and `new_value` of each side, read from
//! the stored access it stands for.
//!
//! The store keeps a finding's sides without values (a finding is one row per version, the
//! values belong to the accesses, which the store keeps anyway), so the routes that serve
//! findings fill them in with one read of the accesses by their whole key (variable,
//! environment, trace, event id: ClickHouse's sort key, so it reads only those rows' granules).
//! A side without a stored access (a lock acquisition, or an access pruned since) keeps null
//! values.

use std::collections::HashMap;

use raceway_schemas::{FindingEvent, RaceFinding};
use raceway_store::{AccessKey, AccessStore, RecordedValues};
use uuid::Uuid;

use crate::ApiError;

/// `findings` with the recorded values of each side's access.
pub(crate) async fn with_recorded_values(
    accesses: &dyn AccessStore,
    mut findings: Vec<RaceFinding>,
) -> Result<Vec<RaceFinding>, ApiError> {
    let keys: Vec<AccessKey> = findings
        .iter()
        .flat_map(|f| [(f, &f.first), (f, &f.second)])
        .filter_map(|(f, side)| {
            Some(AccessKey {
                variable: f.variable.clone(),
                environment: f.environment.clone(),
                trace_id: Uuid::parse_str(&side.trace_id).ok()?,
                event_id: Uuid::parse_str(&side.event_id).ok()?,
            })
        })
        .collect();
    let stored: HashMap<Uuid, RecordedValues> = accesses
        .recorded_values(&keys)
        .await?
        .into_iter()
        .map(|v| (v.event_id, v))
        .collect();
    let fill = |side: &mut FindingEvent| {
        let values = Uuid::parse_str(&side.event_id)
            .ok()
            .and_then(|id| stored.get(&id));
        if let Some(values) = values {
            *side = side
                .clone()
                .with_values(&values.value, values.old_value.as_deref());
        }
    };
    for finding in &mut findings {
        fill(&mut finding.first);
        fill(&mut finding.second);
    }
    Ok(findings)
}

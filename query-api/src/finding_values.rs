//! The recorded values of findings' sides: `old_value` and `new_value` of each side, read from
//! the stored access it stands for.
//!
//! The store keeps a finding's sides without values (a finding is one row per version, the
//! values belong to the accesses, which the store keeps anyway), so the routes that serve
//! findings fill them in with one read of the accesses by event id. A side without a stored
//! access (a lock acquisition, or an access pruned since) keeps null values.

use std::collections::HashMap;

use raceway_schemas::{Access, FindingEvent, RaceFinding};
use raceway_store::AccessStore;
use uuid::Uuid;

use crate::ApiError;

/// `findings` with the recorded values of each side's access.
pub(crate) async fn with_recorded_values(
    accesses: &dyn AccessStore,
    mut findings: Vec<RaceFinding>,
) -> Result<Vec<RaceFinding>, ApiError> {
    let events: Vec<(String, Uuid)> = findings
        .iter()
        .flat_map(|f| [(f, &f.first), (f, &f.second)])
        .filter_map(|(f, side)| Some((f.variable.clone(), Uuid::parse_str(&side.event_id).ok()?)))
        .collect();
    let stored: HashMap<Uuid, Access> = accesses
        .event_accesses(&events)
        .await?
        .into_iter()
        .map(|a| (a.event_id, a))
        .collect();
    let fill = |side: &mut FindingEvent| {
        let access = Uuid::parse_str(&side.event_id)
            .ok()
            .and_then(|id| stored.get(&id));
        if let Some(access) = access {
            *side = side.clone().with_values_of(access);
        }
    };
    for finding in &mut findings {
        fill(&mut finding.first);
        fill(&mut finding.second);
    }
    Ok(findings)
}

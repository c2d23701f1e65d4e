//! The messages of the live stream, how bus records become messages, and the per-client filter.
//!
//! Every message names its trace: an event its own, a finding its first side's (`trace_ids`
//! lists both sides'), a completion the completed trace. `lagged` is the one exception: it
//! tells a client how many messages it lost, whatever their trace.

use raceway_schemas::avro::decode_event_batch;
use raceway_schemas::json::encode_event;
use raceway_schemas::notice::{decode_notices, Notice};
use raceway_schemas::RaceFinding;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// One message of `GET /ws/events/live`, a JSON text frame.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveMessage {
    /// The stream is reading: everything produced from now on will be sent. First message of
    /// every connection.
    Subscribed {},
    /// An event the gateway or an SDK produced.
    Event {
        trace_id: String,
        service: String,
        /// The event's environment.
        environment: String,
        /// The event kind's name, e.g. `StateChange`.
        kind: String,
        /// The event in the Raceway JSON wire format.
        #[schema(value_type = raceway_schemas::openapi::WireEvent)]
        event: Value,
    },
    /// A finding the race stage stored (new, or a new version of it).
    Finding {
        /// The first side's trace.
        trace_id: String,
        /// Both sides' traces (one entry when the finding is within one trace).
        trace_ids: Vec<String>,
        finding: Box<RaceFinding>,
    },
    /// A trace was completed and analysed: its analyses can be read now.
    TraceCompleted {
        trace_id: String,
        event_count: u64,
        services: Vec<String>,
        /// Its events' environments.
        environments: Vec<String>,
    },
    /// This client was too slow: `dropped` messages were not sent to it.
    Lagged { dropped: u64 },
}

impl LiveMessage {
    /// The messages of one record of the events topic (an Avro event batch); none when it does
    /// not decode (the trace stage dead-letters it).
    pub fn from_events_record(value: &[u8]) -> Vec<LiveMessage> {
        let Ok(batch) = decode_event_batch(value) else {
            return Vec::new();
        };
        batch
            .events
            .iter()
            .map(|event| LiveMessage::Event {
                trace_id: event.trace_id.to_string(),
                service: event.metadata.service_name.clone(),
                environment: event.metadata.environment.clone(),
                kind: event.kind.name().to_string(),
                event: encode_event(event),
            })
            .collect()
    }

    /// The messages of one record of the findings topic, one per notice in the order sent
    /// (a batch of notices, or a single notice written before batches); none when it is not
    /// notices.
    pub fn from_notices_record(value: &[u8]) -> Vec<LiveMessage> {
        let Ok(notices) = decode_notices(value) else {
            return Vec::new();
        };
        notices.into_iter().map(LiveMessage::from_notice).collect()
    }

    fn from_notice(notice: Notice) -> LiveMessage {
        match notice {
            Notice::Finding { finding } => {
                let mut trace_ids = vec![finding.first.trace_id.clone()];
                if finding.second.trace_id != finding.first.trace_id {
                    trace_ids.push(finding.second.trace_id.clone());
                }
                LiveMessage::Finding {
                    trace_id: finding.first.trace_id.clone(),
                    trace_ids,
                    finding,
                }
            }
            Notice::TraceCompleted {
                trace_id,
                event_count,
                services,
                environments,
            } => LiveMessage::TraceCompleted {
                trace_id: trace_id.to_string(),
                event_count,
                services,
                environments,
            },
        }
    }
}

/// The filters of one live client: `GET /ws/events/live?service=&trace_id=&kind=`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LiveFilter {
    /// Only messages about this service: an event of it, a finding with a side in it, a
    /// completed trace that has it.
    pub service: Option<String>,
    /// Only messages about this trace (a finding with a side in it).
    pub trace_id: Option<String>,
    /// Only events of this kind (e.g. `StateChange`); findings and completions are not
    /// filtered by kind.
    pub kind: Option<String>,
}

impl LiveFilter {
    /// Whether `message` goes to this client.
    pub fn admits(&self, message: &LiveMessage) -> bool {
        let wanted = |filter: &Option<String>, values: &[&str]| {
            filter.as_deref().is_none_or(|f| values.contains(&f))
        };
        match message {
            LiveMessage::Event {
                trace_id,
                service,
                kind,
                ..
            } => {
                wanted(&self.service, &[service])
                    && wanted(&self.trace_id, &[trace_id])
                    && wanted(&self.kind, &[kind])
            }
            LiveMessage::Finding {
                trace_ids, finding, ..
            } => {
                let traces: Vec<&str> = trace_ids.iter().map(String::as_str).collect();
                wanted(
                    &self.service,
                    &[&finding.first.service, &finding.second.service],
                ) && wanted(&self.trace_id, &traces)
            }
            LiveMessage::TraceCompleted {
                trace_id, services, ..
            } => {
                let services: Vec<&str> = services.iter().map(String::as_str).collect();
                wanted(&self.service, &services) && wanted(&self.trace_id, &[trace_id])
            }
            LiveMessage::Subscribed {} | LiveMessage::Lagged { .. } => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(trace: &str, service: &str, kind: &str) -> LiveMessage {
        LiveMessage::Event {
            trace_id: trace.into(),
            service: service.into(),
            environment: "prod".into(),
            kind: kind.into(),
            event: Value::Null,
        }
    }

    #[test]
    fn filters_combine_and_absent_ones_admit_everything() {
        let all = LiveFilter::default();
        assert!(all.admits(&event("t1", "web", "StateChange")));
        let filter = LiveFilter {
            service: Some("web".into()),
            trace_id: Some("t1".into()),
            kind: Some("StateChange".into()),
        };
        assert!(filter.admits(&event("t1", "web", "StateChange")));
        assert!(!filter.admits(&event("t2", "web", "StateChange")));
        assert!(!filter.admits(&event("t1", "db", "StateChange")));
        assert!(!filter.admits(&event("t1", "web", "FunctionCall")));
        let completed = LiveMessage::TraceCompleted {
            trace_id: "t1".into(),
            event_count: 3,
            services: vec!["db".into(), "web".into()],
            environments: vec!["prod".into()],
        };
        assert!(filter.admits(&completed));
        assert!(filter.admits(&LiveMessage::Lagged { dropped: 1 }));
    }

    #[test]
    fn messages_are_tagged_by_type() {
        let text = serde_json::to_value(LiveMessage::Lagged { dropped: 4 }).unwrap();
        assert_eq!(text, serde_json::json!({"type": "lagged", "dropped": 4}));
        let text = serde_json::to_value(LiveMessage::Subscribed {}).unwrap();
        assert_eq!(text, serde_json::json!({"type": "subscribed"}));
        assert!(LiveMessage::from_notices_record(b"not json").is_empty());
        // A record written before batches: one notice alone.
        let single = Notice::TraceCompleted {
            trace_id: uuid::Uuid::nil(),
            event_count: 2,
            services: vec!["web".into()],
            environments: vec!["prod".into()],
        };
        let messages = LiveMessage::from_notices_record(&single.to_json());
        assert!(matches!(
            messages.as_slice(),
            [LiveMessage::TraceCompleted { event_count: 2, .. }]
        ));
        assert!(LiveMessage::from_events_record(b"not avro").is_empty());
    }
}

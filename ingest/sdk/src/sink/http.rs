//! [`HttpSink`]: the Raceway JSON format to the ingest gateway's `POST /events`.

use std::time::Duration;

use async_trait::async_trait;
use raceway_schemas::json::EventJson;
use raceway_schemas::{Event, EventBatch};
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use serde::{Serialize, Serializer};

use super::Sink;
use crate::error::SdkError;

/// Timeout of one request to the gateway.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest part of an error response kept in [`SdkError::Status`].
const ERROR_BODY_LIMIT: usize = 512;

/// How often and how patiently [`HttpSink`] retries a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (at least 1 is made).
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled after each further failure.
    pub initial_backoff: Duration,
    /// Longest wait between two attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, waiting 50 ms, 100 ms, 200 ms, 400 ms in between.
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
        }
    }
}

/// Posts each batch as `{"events": [...]}` (the Raceway JSON format) to `{gateway}/events`.
///
/// Connection errors, timeouts and the statuses 429, 502, 503 and 504 are retried with
/// exponential backoff ([`RetryPolicy`]); after the last attempt, or on any other error status,
/// the batch is given up and the tracer counts its events as dropped.
#[derive(Debug, Clone)]
pub struct HttpSink {
    client: reqwest::Client,
    endpoint: String,
    retry: RetryPolicy,
}

impl HttpSink {
    /// A sink posting to `{gateway_url}/events`, e.g. `HttpSink::new("http://127.0.0.1:8080")`.
    pub fn new(gateway_url: &str) -> Result<HttpSink, SdkError> {
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()?;
        Ok(HttpSink {
            client,
            endpoint: format!("{}/events", gateway_url.trim_end_matches('/')),
            retry: RetryPolicy::default(),
        })
    }

    /// Replaces the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> HttpSink {
        self.retry = retry;
        self
    }

    /// The URL batches are posted to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn post(&self, body: &[u8]) -> Result<(), SdkError> {
        let response = self
            .client
            .post(&self.endpoint)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body.to_vec())
            .send()
            .await?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let mut text = response.text().await.unwrap_or_default();
        if text.len() > ERROR_BODY_LIMIT {
            let mut end = ERROR_BODY_LIMIT;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        Err(SdkError::Status {
            status: status.as_u16(),
            body: text,
        })
    }
}

#[async_trait]
impl Sink for HttpSink {
    async fn deliver(&self, batch: EventBatch) -> Result<(), SdkError> {
        let body = request_body(&batch.events)?;
        let max_attempts = self.retry.max_attempts.max(1);
        let mut backoff = self.retry.initial_backoff;
        let mut attempt = 1;
        loop {
            let error = match self.post(&body).await {
                Ok(()) => return Ok(()),
                Err(error) => error,
            };
            if !error.is_retryable() {
                return Err(error);
            }
            if attempt >= max_attempts {
                return Err(SdkError::GaveUp {
                    attempts: attempt,
                    last: Box::new(error),
                });
            }
            tracing::debug!(
                endpoint = %self.endpoint,
                attempt,
                %error,
                "raceway: delivery failed, retrying"
            );
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(self.retry.max_backoff);
            attempt += 1;
        }
    }
}

/// The request body, `{"events":[...]}` with each event as its Raceway JSON, encoded once for
/// every attempt.
///
/// The events are written straight to the bytes ([`EventJson`]): the same bytes as printing a
/// `serde_json::Value` of the body built from `encode_event`, without that tree of a map and a
/// string per field for every event.
fn request_body(events: &[Event]) -> Result<Vec<u8>, serde_json::Error> {
    /// The body's one key.
    #[derive(Serialize)]
    struct Body<'a> {
        events: Events<'a>,
    }

    struct Events<'a>(&'a [Event]);

    impl Serialize for Events<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_seq(self.0.iter().map(EventJson))
        }
    }

    serde_json::to_vec(&Body {
        events: Events(events),
    })
}

#[cfg(test)]
mod tests {
    use raceway_schemas::json::encode_event;
    use raceway_schemas::{
        AccessType, Event, EventKind, LockEvent, LockMode, Metadata, StateChange,
    };
    use uuid::Uuid;

    use super::request_body;

    fn event(kind: EventKind, parent: Option<Uuid>) -> Event {
        let mut tags = std::collections::BTreeMap::new();
        tags.insert("raceway.clock".to_string(), "actor-v1".to_string());
        Event {
            id: Uuid::new_v4(),
            trace_id: Uuid::new_v4(),
            parent_id: parent,
            timestamp_ns: 1_700_000_000_123_456_789,
            kind,
            metadata: Metadata {
                thread_id: "main-1".to_string(),
                process_id: 7,
                service_name: "bank".to_string(),
                environment: "test".to_string(),
                tags,
                duration_ns: None,
                instance_id: Some("i-1".to_string()),
                distributed_span_id: Some("span".to_string()),
                upstream_span_id: None,
            },
            causality_vector: vec![("bank#i-1/main-1".to_string(), 3)],
            lock_set: Vec::new(),
        }
    }

    #[test]
    fn the_body_is_the_bytes_of_the_value_tree_it_replaced() {
        let write = EventKind::StateChange(StateChange {
            variable: "bank#i-1::balance".to_string(),
            old_value: Some(r#"{"a":[1,"\u00e9"]}"#.to_string()),
            new_value: "\"ü\\n\"".to_string(),
            location: "src/main.rs:10".to_string(),
            access_type: AccessType::Write,
        });
        let lock = EventKind::LockAcquire(LockEvent {
            lock_id: "bank#i-1::lock".to_string(),
            mode: LockMode::Exclusive,
            lock_type: "Mutex".to_string(),
            location: "src/main.rs:11".to_string(),
        });
        let first = event(write, None);
        let events = [event(lock, Some(first.id)), first];
        for events in [&events[..], &events[..1], &[]] {
            let values: Vec<serde_json::Value> = events.iter().map(encode_event).collect();
            let before = serde_json::to_vec(&serde_json::json!({ "events": values }))
                .expect("the value tree prints");
            assert_eq!(request_body(events).expect("encodes"), before);
        }
    }
}

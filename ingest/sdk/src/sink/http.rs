//! [`HttpSink`]: the Raceway JSON format to the ingest gateway's `POST /events`.

use std::time::Duration;

use async_trait::async_trait;
use raceway_schemas::json::encode_event;
use raceway_schemas::EventBatch;

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

    async fn post(&self, body: &serde_json::Value) -> Result<(), SdkError> {
        let response = self.client.post(&self.endpoint).json(body).send().await?;
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
        let events: Vec<serde_json::Value> = batch.events.iter().map(encode_event).collect();
        let body = serde_json::json!({ "events": events });
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

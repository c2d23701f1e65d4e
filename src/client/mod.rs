//! A client of the query API over HTTP, shared by the query commands (`raceway traces`, ...) and
//! `raceway tui`: they read a running Raceway, local or remote, exactly as any other client does.
//!
//! Errors keep apart what the user can act on: the API is unreachable (wrong `--api`, not
//! running), it answered an error (its JSON `error` message), or it answered something this
//! client cannot read (a different version).

pub mod models;

use std::time::Duration;

use reqwest::Method;
use serde::de::DeserializeOwned;

/// Where the query API is when `--api` and `RACEWAY_API` are absent.
pub const DEFAULT_API: &str = "http://127.0.0.1:8080";

/// Why a request to the query API failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No answer: connection refused, DNS, timeout.
    #[error("the query API at {base} is unreachable: {reason}")]
    Unreachable { base: String, reason: String },
    /// An error answer, with the API's message.
    #[error("the query API answered {status}: {message}")]
    Status { status: u16, message: String },
    /// An answer of an unexpected shape.
    #[error("could not read the query API's answer to {path}: {reason}")]
    Decode { path: String, reason: String },
}

impl ClientError {
    /// True when the API answered 404 (the trace or step does not exist, or was not analysed).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ClientError::Status { status: 404, .. })
    }
}

/// A query API at one base URL, with an optional API key.
#[derive(Debug, Clone)]
pub struct ApiClient {
    base: String,
    key: Option<String>,
    http: reqwest::Client,
}

impl ApiClient {
    /// A client of the API at `base` (`http://host:port`), sending `key` as a bearer token.
    pub fn new(base: &str, key: Option<String>) -> anyhow::Result<ApiClient> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(3))
            .build()?;
        Ok(ApiClient {
            base: base.trim_end_matches('/').to_string(),
            key: key.filter(|k| !k.is_empty()),
            http,
        })
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// GETs the path made of `segments` (each percent-encoded: a variable name may hold `/`)
    /// with `query`, and decodes the JSON answer.
    pub async fn get<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<T, ClientError> {
        let bytes = self.send(Method::GET, segments, query, None).await?;
        decode(segments, &bytes)
    }

    /// POSTs `body` as JSON to the path made of `segments` and decodes the JSON answer.
    pub async fn post<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
        body: &serde_json::Value,
    ) -> Result<T, ClientError> {
        decode(
            segments,
            self.post_text(segments, query, body).await?.as_bytes(),
        )
    }

    /// POSTs `body` as JSON and returns the answer as text (for answers that are not JSON).
    pub async fn post_text(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
        body: &serde_json::Value,
    ) -> Result<String, ClientError> {
        let bytes = self.send(Method::POST, segments, query, Some(body)).await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Sends one request; an error status becomes [`ClientError::Status`] with the API's message.
    async fn send(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<Vec<u8>, ClientError> {
        let mut url = reqwest::Url::parse(&self.base).map_err(|e| ClientError::Unreachable {
            base: self.base.clone(),
            reason: format!("not a URL: {e}"),
        })?;
        url.path_segments_mut()
            .map_err(|()| ClientError::Unreachable {
                base: self.base.clone(),
                reason: "not an http URL".into(),
            })?
            .pop_if_empty()
            .extend(segments);
        let mut request = self.http.request(method, url).query(query);
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(key) = &self.key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(|e| ClientError::Unreachable {
            base: self.base.clone(),
            reason: without_url(&e),
        })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ClientError::Unreachable {
                base: self.base.clone(),
                reason: without_url(&e),
            })?;
        if !status.is_success() {
            let message = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(200).collect());
            return Err(ClientError::Status {
                status: status.as_u16(),
                message,
            });
        }
        Ok(bytes.to_vec())
    }
}

/// Decodes a JSON answer to the path made of `segments`.
fn decode<T: DeserializeOwned>(segments: &[&str], bytes: &[u8]) -> Result<T, ClientError> {
    serde_json::from_slice(bytes).map_err(|e| ClientError::Decode {
        path: segments.join("/"),
        reason: e.to_string(),
    })
}

/// A reqwest error's message without the URL it repeats (the base is said once already).
fn without_url(error: &reqwest::Error) -> String {
    let mut reason = error.to_string();
    if let Some(url) = error.url() {
        reason = reason.replace(&format!(" ({url})"), "");
    }
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        reason = format!("{reason}: {inner}");
        source = inner.source();
    }
    reason
}

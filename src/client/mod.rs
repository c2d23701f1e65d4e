//! A client of the query API over HTTP, shared by the query commands (`raceway traces`, ...) and
//! `raceway tui`: they read a running Raceway, local or remote, exactly as any other client does.
//!
//! Errors keep apart what the user can act on: the API is unreachable (wrong `--api`, not
//! running), it answered an error (its JSON `error` message), or it answered something this
//! client cannot read (a different version).

pub mod models;

use std::time::Duration;

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
        let path = segments.join("/");
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
        let mut request = self.http.get(url).query(query);
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
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
            path,
            reason: e.to_string(),
        })
    }
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

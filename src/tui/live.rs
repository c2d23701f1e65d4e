//! Live mode's feed: the query API's WebSocket `/ws/events/live`, read on the runtime and handed
//! to the event loop as [`LiveUpdate`]s.
//!
//! When the socket is refused or drops (an API whose live stream is off, a proxy that does not
//! pass WebSockets, the live client limit, a `wss://` API: this build speaks plain `ws://`), the
//! feed says why and connects again every few seconds; the event loop polls the API meanwhile,
//! so live mode keeps working, only slower.

use std::sync::mpsc::Sender;
use std::time::Duration;

use futures::StreamExt;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use crate::client::models::LiveMessage;

/// How long the feed waits before connecting again after a refusal or a drop.
const RECONNECT: Duration = Duration::from_secs(3);
/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the feed tells the app.
#[derive(Debug, Clone)]
pub enum LiveUpdate {
    /// The socket is open: messages follow.
    Connected,
    /// A message of the stream.
    Message(Box<LiveMessage>),
    /// The socket was refused or dropped, and why; the feed retries.
    Down(String),
}

/// Follows the live stream of the API at `base` until the returned task is aborted or
/// `updates`' receiver is gone.
pub fn follow(
    runtime: &Handle,
    base: &str,
    key: Option<String>,
    updates: Sender<LiveUpdate>,
) -> JoinHandle<()> {
    let url = live_url(base);
    runtime.spawn(async move {
        loop {
            let reason = match &url {
                Ok(url) => match stream(url, key.as_deref(), &updates).await {
                    Ok(()) => "the live stream closed".to_string(),
                    Err(reason) => reason,
                },
                Err(reason) => reason.clone(),
            };
            if updates.send(LiveUpdate::Down(reason)).is_err() {
                return;
            }
            tokio::time::sleep(RECONNECT).await;
        }
    })
}

/// `ws://host:port/.../ws/events/live` for an API at `http://host:port/...` (`wss` for https).
pub fn live_url(base: &str) -> Result<String, String> {
    let mut url = reqwest::Url::parse(base).map_err(|e| format!("{base} is not a URL: {e}"))?;
    let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
    url.set_scheme(scheme)
        .map_err(|()| format!("{base} is not an http URL"))?;
    url.path_segments_mut()
        .map_err(|()| format!("{base} is not an http URL"))?
        .pop_if_empty()
        .extend(["ws", "events", "live"]);
    Ok(url.to_string())
}

/// Reads one connection until it closes; `Err` says why it could not open or broke.
async fn stream(url: &str, key: Option<&str>, updates: &Sender<LiveUpdate>) -> Result<(), String> {
    let mut request = url
        .into_client_request()
        .map_err(|e| format!("bad live URL {url}: {e}"))?;
    if let Some(key) = key {
        let bearer = HeaderValue::from_str(&format!("Bearer {key}"))
            .map_err(|_| "the API key is not a valid header value".to_string())?;
        request.headers_mut().insert("authorization", bearer);
    }
    let (mut socket, _) = tokio::time::timeout(CONNECT_TIMEOUT, connect_async(request))
        .await
        .map_err(|_| format!("no answer from {url} within {CONNECT_TIMEOUT:?}"))?
        .map_err(|e| format!("{url} refused the live stream: {e}"))?;
    if updates.send(LiveUpdate::Connected).is_err() {
        return Ok(());
    }
    while let Some(frame) = socket.next().await {
        match frame.map_err(|e| format!("the live stream broke: {e}"))? {
            Message::Text(text) => {
                // Message types this client does not know yet are skipped.
                let Ok(message) = serde_json::from_str::<LiveMessage>(&text) else {
                    continue;
                };
                if updates
                    .send(LiveUpdate::Message(Box::new(message)))
                    .is_err()
                {
                    return Ok(());
                }
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::live_url;

    #[test]
    fn the_live_url_follows_the_api_base() {
        assert_eq!(
            live_url("http://127.0.0.1:8080").as_deref(),
            Ok("ws://127.0.0.1:8080/ws/events/live")
        );
        assert_eq!(
            live_url("https://raceway.example/prefix/").as_deref(),
            Ok("wss://raceway.example/prefix/ws/events/live")
        );
        assert!(live_url("not a url").is_err());
    }
}

//! One live client: the WebSocket upgrade (503 over the client limit) and the loop that sends
//! it the messages its filter admits, with a `lagged` notice after any it lost.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use super::{ClientLease, LiveFilter, LiveHub, LiveMessage};
use crate::tenant::Scope;
use crate::{ApiError, ErrorBody};

/// `GET /ws/events/live?service=&trace_id=&kind=`: new events, findings and trace completions
/// as JSON text messages, the first one `{"type": "subscribed"}`.
#[utoipa::path(get, path = "/ws/events/live", tag = "live", params(LiveFilter),
    responses(
        (status = 101, description = "WebSocket: JSON text messages of this shape", body = LiveMessage),
        (status = 503, description = "Too many live clients, or no bus to read", body = ErrorBody)))]
pub(super) async fn live_socket(
    State(hub): State<LiveHub>,
    scope: Scope,
    Query(filter): Query<LiveFilter>,
    upgrade: WebSocketUpgrade,
) -> Response {
    match hub.admit(&filter) {
        Ok(lease) => upgrade.on_upgrade(move |socket| serve_client(socket, lease, filter, scope)),
        Err(message) => ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message,
        }
        .into_response(),
    }
}

/// How often a client blocked on a slow socket checks whether it fell out of the ring.
const STALL_CHECK: Duration = Duration::from_millis(200);

type Sink = SplitSink<WebSocket, Message>;

async fn send(sink: &mut Sink, message: &LiveMessage) -> bool {
    let Ok(text) = serde_json::to_string(message) else {
        return false;
    };
    sink.send(Message::Text(text.into())).await.is_ok()
}

/// Sends `lease`'s messages through `filter` and the caller's `scope` until the client leaves
/// or the stream ends.
async fn serve_client(socket: WebSocket, lease: ClientLease, filter: LiveFilter, scope: Scope) {
    let (mut sink, mut incoming) = socket.split();
    let mut reading = lease.hub.shared.reading.subscribe();
    tokio::select! {
        positioned = reading.wait_for(|reading| *reading) => {
            if positioned.is_err() {
                return;
            }
        }
        _ = client_left(&mut incoming) => return,
    }
    if !send(&mut sink, &LiveMessage::Subscribed {}).await {
        return;
    }
    tokio::select! {
        _ = forward(&mut sink, lease, &filter, &scope) => {}
        _ = client_left(&mut incoming) => {}
    }
}

/// The client's loop: the next message from the ring, through the filter, to the socket; a
/// `lagged` notice first whenever messages were lost.
///
/// While a send is blocked on a slow client, the ring goes on without it. Every
/// [`STALL_CHECK`] the loop looks at how far behind the client is; past the ring's capacity it
/// skips to the newest message and counts what it skipped, so the loss is counted while it
/// happens rather than when the client wakes up.
async fn forward(sink: &mut Sink, mut lease: ClientLease, filter: &LiveFilter, scope: &Scope) {
    let dropped = lease.hub.shared.metrics.dropped.clone();
    let capacity = lease.hub.shared.config.buffer;
    let mut lost: u64 = 0;
    loop {
        if lost > 0 {
            if !send(sink, &LiveMessage::Lagged { dropped: lost }).await {
                return;
            }
            lost = 0;
        }
        let message: Arc<LiveMessage> = match lease.receiver.recv().await {
            Ok(message) => message,
            Err(RecvError::Lagged(skipped)) => {
                dropped.inc_by(skipped);
                lost += skipped;
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        if !filter.admits(&message) || !scope.admits(&message) {
            continue;
        }
        let Ok(text) = serde_json::to_string(&*message) else {
            continue;
        };
        let mut sending = std::pin::pin!(sink.send(Message::Text(text.into())));
        let mut check = tokio::time::interval(STALL_CHECK);
        loop {
            tokio::select! {
                sent = &mut sending => {
                    if sent.is_err() {
                        return;
                    }
                    break;
                }
                _ = check.tick() => {
                    let behind = lease.receiver.len();
                    if behind > capacity {
                        lease.receiver = lease.receiver.resubscribe();
                        dropped.inc_by(behind as u64);
                        lost += behind as u64;
                    }
                }
            }
        }
    }
}

/// Resolves when the client closes the socket or it fails; what the client sends is ignored.
async fn client_left(incoming: &mut SplitStream<WebSocket>) {
    loop {
        match incoming.next().await {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
            Some(Ok(_)) => {}
        }
    }
}

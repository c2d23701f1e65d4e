//! The live stream: `GET /ws/events/live?service=&trace_id=&kind=` (WebSocket) sends new events,
//! findings and trace completions as JSON messages ([`LiveMessage`]) as they reach the bus.
//!
//! # How it reads
//!
//! Each query process reads the events topic and the findings topic itself, through a
//! [`raceway_bus::Bus::tail`]: every partition assigned directly at its end, no
//! consumer group, no commits. A group would make each instance read only a share of the
//! partitions and take seconds to join; live readers want everything from now on, at once. The
//! tail is opened when the first client connects and dropped when the last one leaves, so an
//! idle query process reads nothing. A client's first message is `{"type": "subscribed"}`, sent
//! once the tail is positioned: everything produced after it reaches the client.
//!
//! # Slow clients
//!
//! Messages fan out through one bounded broadcast ring (`buffer` messages). The reader never
//! waits for a client: a client that falls more than `buffer` messages behind loses the oldest
//! ones, they are counted in `raceway_live_dropped_total`, and the client gets `{"type":
//! "lagged", "dropped": N}` before the next message it does get. So one stalled browser cannot
//! slow the others or the pipeline. At most `max_clients` clients are served at once (503
//! beyond).
//!
//! A message goes into the ring only when some connected client's filter admits it. The ring is
//! shared, so a client's place in it counts every message in it, wanted or not: were messages no
//! client wants put in, a client asking for findings only would have to keep up with every event
//! and, under load, would lose its findings with the events it never receives.

mod message;
mod socket;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use prometheus::{
    register_int_counter_with_registry, register_int_gauge_with_registry, IntCounter, IntGauge,
    Registry,
};
use raceway_bus::{Bus, BusTail};
use tokio::sync::{broadcast, watch};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use message::{LiveFilter, LiveMessage};

/// Records read per poll of the tail.
const POLL_BATCH: usize = 500;
/// How long one poll waits; also how soon the reader notices that the last client left.
const POLL_WAIT: Duration = Duration::from_millis(250);
/// Pause before opening the tail again after the bus failed.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Limits of the live stream.
#[derive(Debug, Clone, Copy)]
pub struct LiveConfig {
    /// Most clients connected at once.
    pub max_clients: usize,
    /// Messages a client may fall behind before it loses some.
    pub buffer: usize,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            max_clients: 64,
            buffer: 1024,
        }
    }
}

/// Where the live stream reads: the bus and the two topics.
#[derive(Clone)]
pub struct LiveSource {
    pub bus: Arc<dyn Bus>,
    /// The events topic (Avro event batches).
    pub events: String,
    /// The findings topic (batches of [`raceway_schemas::notice::Notice`], JSON).
    pub findings: String,
}

/// The live stream's metrics.
#[derive(Clone)]
struct LiveMetrics {
    dropped: IntCounter,
    clients: IntGauge,
    read: IntCounter,
}

impl LiveMetrics {
    fn register(registry: &Registry) -> prometheus::Result<Self> {
        Ok(LiveMetrics {
            dropped: register_int_counter_with_registry!(
                "raceway_live_dropped_total",
                "Live stream messages not sent to a client that fell behind",
                registry
            )?,
            clients: register_int_gauge_with_registry!(
                "raceway_live_clients",
                "Live stream clients connected",
                registry
            )?,
            read: register_int_counter_with_registry!(
                "raceway_live_messages_total",
                "Live stream messages read from the bus",
                registry
            )?,
        })
    }
}

/// The live stream of one query process: clients, the broadcast ring and the reader.
#[derive(Clone)]
pub struct LiveHub {
    shared: Arc<Shared>,
}

struct Shared {
    /// None when the process has no bus to read (`raceway query` without `--kafka`).
    source: Option<LiveSource>,
    config: LiveConfig,
    metrics: LiveMetrics,
    sender: broadcast::Sender<Arc<LiveMessage>>,
    /// The connected clients' filters. The reader decides to stop under this lock, and
    /// clients are admitted under it, so a client never sees a `reading` flag about to turn
    /// false; the reader also puts each record's messages in the ring under it, so a client
    /// admitted after a message was left out was not subscribed when it was sent anyway.
    clients: Mutex<Clients>,
    /// Wakes the reader when the client count changes.
    client_change: watch::Sender<()>,
    /// True while the tail is open and positioned.
    reading: watch::Sender<bool>,
}

/// The filters of the connected clients, by lease.
#[derive(Default)]
struct Clients {
    filters: Vec<(u64, LiveFilter)>,
    next_lease: u64,
}

impl Clients {
    fn count(&self) -> usize {
        self.filters.len()
    }

    /// True when some client's filter admits `message`.
    fn want(&self, message: &LiveMessage) -> bool {
        self.filters
            .iter()
            .any(|(_, filter)| filter.admits(message))
    }
}

fn lock(clients: &Mutex<Clients>) -> MutexGuard<'_, Clients> {
    clients.lock().unwrap_or_else(|e| e.into_inner())
}

impl LiveHub {
    /// A hub reading `source` (none: the route answers 503), with its metrics in `registry`.
    /// The reader task runs until the hub and every clone of it are dropped.
    pub fn start(
        source: Option<LiveSource>,
        config: LiveConfig,
        registry: &Registry,
    ) -> prometheus::Result<LiveHub> {
        let (sender, _) = broadcast::channel(config.buffer.max(1));
        let shared = Arc::new(Shared {
            source: source.clone(),
            config,
            metrics: LiveMetrics::register(registry)?,
            sender,
            clients: Mutex::default(),
            client_change: watch::channel(()).0,
            reading: watch::channel(false).0,
        });
        if let Some(source) = source {
            tokio::spawn(read_while_watched(Arc::downgrade(&shared), source));
        }
        Ok(LiveHub { shared })
    }

    /// Admits one more client, receiving what `filter` admits, or says why not.
    fn admit(&self, filter: &LiveFilter) -> Result<ClientLease, String> {
        if self.shared.source.is_none() {
            return Err("the live stream needs the bus: start `raceway query` with --kafka".into());
        }
        let mut clients = lock(&self.shared.clients);
        if clients.count() >= self.shared.config.max_clients {
            return Err(format!(
                "{} live clients are connected, the most this server takes \
                 (--max-live-clients)",
                clients.count()
            ));
        }
        let lease = clients.next_lease;
        clients.next_lease += 1;
        clients.filters.push((lease, filter.clone()));
        // Subscribed while admitted: nothing published after admission is missed.
        let receiver = self.shared.sender.subscribe();
        drop(clients);
        self.shared.metrics.clients.inc();
        self.shared.client_change.send_replace(());
        Ok(ClientLease {
            hub: self.clone(),
            lease,
            receiver,
        })
    }
}

/// One admitted client: its place in the broadcast ring; leaving when dropped.
struct ClientLease {
    hub: LiveHub,
    lease: u64,
    receiver: broadcast::Receiver<Arc<LiveMessage>>,
}

impl Drop for ClientLease {
    fn drop(&mut self) {
        let lease = self.lease;
        lock(&self.hub.shared.clients)
            .filters
            .retain(|(held, _)| *held != lease);
        self.hub.shared.metrics.clients.dec();
        self.hub.shared.client_change.send_replace(());
    }
}

/// The reader: while clients are connected, tails the topics and broadcasts what it reads.
async fn read_while_watched(hub: std::sync::Weak<Shared>, source: LiveSource) {
    let topics = [source.events.clone(), source.findings.clone()];
    let Some(mut changes) = hub.upgrade().map(|h| h.client_change.subscribe()) else {
        return;
    };
    loop {
        // Wait for a client.
        loop {
            let Some(shared) = hub.upgrade() else { return };
            if lock(&shared.clients).count() > 0 {
                break;
            }
            drop(shared);
            if changes.changed().await.is_err() {
                return;
            }
        }
        let mut tail = match source.bus.tail(&topics).await {
            Ok(tail) => tail,
            Err(error) => {
                tracing::warn!(%error, "live stream: cannot read the bus, trying again");
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
        };
        let Some(shared) = hub.upgrade() else { return };
        shared.reading.send_replace(true);
        tracing::info!("live stream: reading the events and findings topics");
        drop(shared);
        let stopped = forward(&hub, &source, tail.as_mut()).await;
        tracing::info!(?stopped, "live stream: stopped reading");
        if stopped == Stopped::HubGone {
            return;
        }
    }
}

#[derive(Debug, PartialEq)]
enum Stopped {
    NoClient,
    BusFailed,
    HubGone,
}

/// Polls `tail` and broadcasts until the last client leaves or the bus fails; clears the
/// `reading` flag on the way out.
async fn forward(
    hub: &std::sync::Weak<Shared>,
    source: &LiveSource,
    tail: &mut dyn BusTail,
) -> Stopped {
    loop {
        let polled = tail.poll(POLL_BATCH, POLL_WAIT).await;
        let Some(shared) = hub.upgrade() else {
            return Stopped::HubGone;
        };
        let records = match polled {
            Ok(records) => records,
            Err(error) => {
                tracing::warn!(%error, "live stream: reading the bus failed");
                shared.reading.send_replace(false);
                tokio::time::sleep(RETRY_PAUSE).await;
                return Stopped::BusFailed;
            }
        };
        for record in records {
            let messages = if record.topic == source.events {
                LiveMessage::from_events_record(&record.value)
            } else {
                LiveMessage::from_notices_record(&record.value)
            };
            let clients = lock(&shared.clients);
            for message in messages {
                shared.metrics.read.inc();
                if clients.want(&message) {
                    // An error only means that no client is subscribed right now.
                    let _ = shared.sender.send(Arc::new(message));
                }
            }
        }
        let clients = lock(&shared.clients);
        if clients.count() == 0 {
            shared.reading.send_replace(false);
            return Stopped::NoClient;
        }
    }
}

/// `GET /ws/events/live` over `hub`.
pub fn live_routes(hub: LiveHub) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(socket::live_socket))
        .with_state(hub)
}

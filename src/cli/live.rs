//! Options of the live stream (`GET /ws/events/live`), shared by `raceway up` and `raceway query`.

use std::sync::Arc;

use clap::Args;
use prometheus::Registry;
use raceway_bus::{Bus, Topics};
use raceway_query_api::live::{LiveConfig, LiveHub, LiveSource};

/// Limits of the live stream.
#[derive(Debug, Clone, Args)]
pub struct LiveArgs {
    /// Most WebSocket clients of /ws/events/live at once; more get 503.
    #[arg(long, env = "RACEWAY_MAX_LIVE_CLIENTS", default_value_t = LiveConfig::default().max_clients)]
    max_live_clients: usize,
    /// Messages a live client may fall behind before it loses the oldest (it is told how many).
    #[arg(long, env = "RACEWAY_LIVE_BUFFER", default_value_t = LiveConfig::default().buffer)]
    live_buffer: usize,
}

impl LiveArgs {
    /// The live stream over `bus` (none: it answers 503), its metrics in `registry`.
    pub fn hub(
        &self,
        bus: Option<Arc<dyn Bus>>,
        topics: &Topics,
        registry: &Registry,
    ) -> anyhow::Result<LiveHub> {
        let source = bus.map(|bus| LiveSource {
            bus,
            events: topics.events.clone(),
            findings: topics.findings.clone(),
        });
        let config = LiveConfig {
            max_clients: self.max_live_clients,
            buffer: self.live_buffer.max(1),
        };
        Ok(LiveHub::start(source, config, registry)?)
    }
}

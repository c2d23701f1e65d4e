//! `raceway up`: every piece in one process, on one HTTP port.

use std::net::SocketAddr;

use clap::Args;
use prometheus::Registry;
use raceway_gateway::{GatewayMetrics, GatewayState};
use raceway_processors::metrics::ProcessorMetrics;
use tokio::sync::watch;

use super::gateway::GatewayArgs;
use super::live::LiveArgs;
use super::pipeline::{spawn_race_stage, spawn_trace_stage, PipelineArgs, StageDeps};
use super::{parse_addr, AuthArgs};
use crate::backends::BackendArgs;
use crate::{serve, shutdown};

/// Options of `raceway up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Options of the bus and the store.
    #[command(flatten)]
    backend: BackendArgs,
    #[command(flatten)]
    auth: AuthArgs,
    #[command(flatten)]
    gateway: GatewayArgs,
    #[command(flatten)]
    pipeline: PipelineArgs,
    #[command(flatten)]
    live: LiveArgs,
    /// Address of the gateway (POST /events), the query API (/api/...) and /metrics.
    #[arg(long, env = "RACEWAY_HTTP_ADDR", default_value = "127.0.0.1:8080", value_parser = parse_addr)]
    http_addr: SocketAddr,
}

/// Runs gateway, stages and query API until Ctrl-C or SIGTERM.
pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    run_until(args, shutdown::on_signal()).await
}

/// Runs gateway, stages and query API until `shutdown` turns true.
pub async fn run_until(args: UpArgs, shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
    // Bad gateway options fail before anything starts.
    let gateway_config = args
        .gateway
        .config(args.backend.topics().events, &args.auth)?;
    let bus = args.backend.open_bus().await?;
    let store = args.backend.open_store().await?;
    args.backend.migrate(bus.as_ref(), store.as_ref()).await?;
    let topics = args.backend.topics();

    let registry = Registry::new();
    let deps = StageDeps {
        bus: bus.clone(),
        store: store.clone(),
        topics: topics.clone(),
        metrics: ProcessorMetrics::register(&registry)?,
        group_prefix: args.backend.topic_prefix.clone(),
        shutdown: shutdown.clone(),
    };
    let trace_stage = spawn_trace_stage(&deps, &args.pipeline).await?;
    let race_stage = spawn_race_stage(&deps, &args.pipeline).await?;

    let live = args.live.hub(Some(bus.clone()), &topics, &registry)?;
    let gateway = raceway_gateway::events_router(GatewayState::new(
        gateway_config,
        bus,
        GatewayMetrics::register(&registry)?,
    ));
    let routes = raceway_query_api::openapi::base()
        .merge(raceway_query_api::api_routes(store))
        .merge(gateway)
        .merge(raceway_query_api::live::live_routes(live))
        .merge(serve::metrics_router(registry))
        .merge(serve::ready_router(deps.metrics.readiness.clone()));
    let (router, _) = raceway_query_api::openapi::serve_with_spec(routes);
    let router = router.fallback(crate::web::serve_ui);
    tracing::info!(
        embedded = args.backend.kafka.is_none(),
        "raceway is up: UI http://{}/, POST http://{}/events, GET http://{}/api/traces",
        args.http_addr,
        args.http_addr,
        args.http_addr
    );
    serve::serve(args.http_addr, router, shutdown).await?;
    trace_stage.await??;
    race_stage.await??;
    Ok(())
}

//! `raceway up`: every piece in one process, on one HTTP port.

use std::net::SocketAddr;

use clap::Args;
use prometheus::Registry;
use raceway_gateway::{GatewayMetrics, GatewayState};
use raceway_processors::metrics::ProcessorMetrics;
use tokio::sync::watch;

use super::access::AccessArgs;
use super::gateway::GatewayArgs;
use super::parse_addr;
use super::pipeline::{spawn_race_stage, spawn_trace_stage, PipelineArgs, StageDeps};
use crate::backends::BackendArgs;
use crate::{serve, shutdown};

/// Options of `raceway up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Options of the bus and the store.
    #[command(flatten)]
    backend: BackendArgs,
    #[command(flatten)]
    access: AccessArgs,
    #[command(flatten)]
    gateway: GatewayArgs,
    #[command(flatten)]
    pipeline: PipelineArgs,
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
    let gateway_config = args.gateway.config(args.backend.topics().events)?;
    let access = args.access.guard(args.http_addr)?;
    args.pipeline.redaction()?;
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

    let gateway = raceway_gateway::events_router(GatewayState::new(
        gateway_config,
        bus,
        GatewayMetrics::register(&registry)?,
    ));
    let router = raceway_query_api::router(store)
        .merge(gateway)
        .merge(serve::metrics_router(registry))
        .merge(serve::ready_router(deps.metrics.readiness.clone()));
    tracing::info!(
        embedded = args.backend.kafka.is_none(),
        "raceway is up: POST http://{}/events, GET http://{}/api/traces",
        args.http_addr,
        args.http_addr
    );
    serve::serve(args.http_addr, router, access, shutdown).await?;
    trace_stage.await??;
    race_stage.await??;
    Ok(())
}

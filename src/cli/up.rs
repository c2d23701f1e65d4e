//! `raceway up`: every piece in one process, on one HTTP port.

use clap::Args;
use prometheus::Registry;
use raceway_gateway::{GatewayMetrics, GatewayState};
use raceway_processors::metrics::ProcessorMetrics;
use tokio::sync::watch;

use super::live::LiveArgs;
use super::pieces::IngestArgs;
use super::pipeline::{spawn_stages, PipelineArgs, Stage, StageDeps};
use crate::{serve, shutdown};

/// Options of `raceway up`: those of `raceway ingest` and of the stages.
#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    ingest: IngestArgs,
    #[command(flatten)]
    pipeline: PipelineArgs,
    #[command(flatten)]
    live: LiveArgs,
}

/// Runs gateway, stages and query API until Ctrl-C or SIGTERM.
pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    run_until(args, shutdown::on_signal()).await
}

/// Runs gateway, stages and query API until `shutdown` turns true.
pub async fn run_until(args: UpArgs, shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
    let UpArgs {
        ingest: args,
        pipeline,
        live,
    } = args;
    // Bad gateway options fail before anything starts.
    let gateway_config = args.gateway.config(args.backend.topics().events)?;
    let access = args.access.guard(args.http_addr)?;
    pipeline.redaction()?;
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
    let stages = spawn_stages(&deps, &pipeline, Stage::All).await?;

    let live = live.hub(Some(bus.clone()), &topics, &registry)?;
    crate::query_ready::watch_store(store.clone(), &registry, shutdown.clone())?;
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
    serve::serve(args.http_addr, router, access, shutdown).await?;
    for stage in stages {
        stage.await??;
    }
    Ok(())
}

//! The pieces as separate processes: `ingest`, `process`, `query`, `migrate`.

use std::net::SocketAddr;

use anyhow::Context;
use axum::Json;
use clap::Args;
use prometheus::Registry;
use raceway_gateway::{GatewayMetrics, GatewayState};
use raceway_processors::metrics::ProcessorMetrics;
use utoipa_axum::routes;

use super::access::AccessArgs;
use super::gateway::GatewayArgs;
use super::live::LiveArgs;
use super::parse_addr;
use super::pipeline::{spawn_stages, PipelineArgs, Stage, StageDeps};
use crate::backends::BackendArgs;
use crate::{serve, shutdown};

/// Options of `raceway ingest` (and of `raceway up`, which adds the stages).
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Options of the bus and the store.
    #[command(flatten)]
    pub(super) backend: BackendArgs,
    #[command(flatten)]
    pub(super) access: AccessArgs,
    #[command(flatten)]
    pub(super) gateway: GatewayArgs,
    /// Address of POST /events, /health and /metrics; with `up`, also of the query API
    /// (/api/...) and /ready.
    #[arg(long, env = "RACEWAY_HTTP_ADDR", default_value = "127.0.0.1:8080", value_parser = parse_addr)]
    pub(super) http_addr: SocketAddr,
}

/// Runs the gateway in front of Kafka.
pub async fn ingest(args: IngestArgs) -> anyhow::Result<()> {
    let shutdown = shutdown::on_signal();
    let config = args.gateway.config(args.backend.topics().events)?;
    let access = args.access.guard(args.http_addr)?;
    let bus = args.backend.open_kafka_bus("ingest").await?;
    let registry = Registry::new();
    let routes = raceway_gateway::router(GatewayState::new(
        config,
        bus,
        GatewayMetrics::register(&registry)?,
    ))
    .merge(serve::metrics_router(registry));
    let (router, _) = raceway_query_api::openapi::serve_with_spec(
        raceway_query_api::openapi::base().merge(routes),
    );
    serve::serve(args.http_addr, router, access, shutdown).await
}

/// Options of `raceway process`.
#[derive(Debug, Args)]
pub struct ProcessArgs {
    #[command(flatten)]
    backend: BackendArgs,
    #[command(flatten)]
    pipeline: PipelineArgs,
    /// The stage to run.
    #[arg(long, env = "RACEWAY_STAGE", value_enum, default_value = "all")]
    stage: Stage,
    /// Address of /metrics, /health and /ready.
    #[arg(long, env = "RACEWAY_METRICS_ADDR", default_value = "127.0.0.1:9464", value_parser = parse_addr)]
    metrics_addr: SocketAddr,
    #[command(flatten)]
    access: AccessArgs,
}

/// Runs processor stages until Ctrl-C or SIGTERM.
pub async fn process(args: ProcessArgs) -> anyhow::Result<()> {
    let shutdown = shutdown::on_signal();
    let access = args.access.guard(args.metrics_addr)?;
    let bus = args.backend.open_kafka_bus("process").await?;
    let store = args.backend.open_store().await?;
    store
        .migrate()
        .await
        .context("cannot apply the store's migrations")?;
    let registry = Registry::new();
    let deps = StageDeps {
        bus,
        store,
        topics: args.backend.topics(),
        metrics: ProcessorMetrics::register(&registry)?,
        group_prefix: args.backend.topic_prefix.clone(),
        shutdown: shutdown.clone(),
    };
    let stages = spawn_stages(&deps, &args.pipeline, args.stage).await?;
    let (router, _) = serve::metrics_router(registry)
        .merge(serve::ready_router(deps.metrics.readiness.clone()))
        .routes(routes!(process_health))
        .split_for_parts();
    serve::serve(args.metrics_addr, router, access, shutdown).await?;
    for stage in stages {
        stage.await??;
    }
    Ok(())
}

/// `{"status": "ok"}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct Alive {
    status: &'static str,
}

/// `GET /health`: the processor process is alive.
#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, body = Alive)))]
async fn process_health() -> Json<Alive> {
    Json(Alive { status: "ok" })
}

/// Options of `raceway query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    backend: BackendArgs,
    #[command(flatten)]
    live: LiveArgs,
    #[command(flatten)]
    access: AccessArgs,
    /// Address of the query API.
    #[arg(long, env = "RACEWAY_QUERY_ADDR", default_value = "127.0.0.1:8081", value_parser = parse_addr)]
    http_addr: SocketAddr,
}

/// Serves the query API over the store, the live stream over the bus (with `--kafka`) and
/// /metrics.
pub async fn query(args: QueryArgs) -> anyhow::Result<()> {
    let shutdown = shutdown::on_signal();
    let access = args.access.guard(args.http_addr)?;
    let store = args.backend.open_store().await?;
    store
        .migrate()
        .await
        .context("cannot apply the store's migrations")?;
    // The live stream reads the bus itself; without Kafka there is no bus to share.
    let bus = match args.backend.kafka {
        Some(_) => Some(args.backend.open_bus().await?),
        None => None,
    };
    let registry = Registry::new();
    let live = args.live.hub(bus, &args.backend.topics(), &registry)?;
    crate::query_ready::watch_store(store.clone(), &registry, shutdown.clone())?;
    let routes = raceway_query_api::openapi::base()
        .merge(raceway_query_api::api_routes(store))
        .merge(raceway_query_api::live::live_routes(live))
        .merge(serve::metrics_router(registry));
    let (router, _) = raceway_query_api::openapi::serve_with_spec(routes);
    let router = router.fallback(crate::web::serve_ui);
    serve::serve(args.http_addr, router, access, shutdown).await
}

/// Applies migrations and creates topics, then exits.
pub async fn migrate(backend: BackendArgs) -> anyhow::Result<()> {
    let bus = backend.open_bus().await?;
    let store = backend.open_store().await?;
    backend.migrate(bus.as_ref(), store.as_ref()).await?;
    println!(
        "migrations applied; topics ready: {}",
        backend.topics().all().join(", ")
    );
    Ok(())
}

//! The command line: one subcommand per way of running Raceway.

mod access;

pub(crate) use access::Guard;
pub(crate) mod demo;
mod gateway;
mod live;
mod pieces;
mod pipeline;
pub(crate) mod prune;
pub(crate) mod queries;
mod simulate;
mod tables;
pub(crate) mod up;

use std::net::SocketAddr;

use clap::{Parser, Subcommand};

use crate::backends::BackendArgs;

/// Raceway: find data races, lost updates and slow paths across threads, tasks and services.
#[derive(Debug, Parser)]
#[command(name = "raceway", version, about)]
pub struct Cli {
    /// Log as JSON lines (for log shippers) instead of text.
    #[arg(long, global = true, env = "RACEWAY_JSON_LOGS")]
    pub json_logs: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run everything in one process: gateway, both processor stages and the query API.
    Up(up::UpArgs),
    /// Run the HTTP ingest gateway (POST /events) in front of Kafka.
    Ingest(pieces::IngestArgs),
    /// Run processor stages as members of their consumer groups.
    Process(pieces::ProcessArgs),
    /// Run the query API over the store.
    Query(pieces::QueryArgs),
    /// Apply the store's migrations and create the topics.
    Migrate(BackendArgs),
    /// Drop data older than a duration: store partitions or rows, consumed bus records.
    Prune(prune::PruneArgs),
    /// Run a small banking workload with a real lost-update race and print the races found.
    Demo(demo::DemoArgs),
    /// Browse traces, races, anomalies and time travel in the terminal (over the query API).
    Tui(crate::tui::TuiArgs),
    /// List traces (newest first) from the query API.
    Traces(queries::TracesArgs),
    /// List findings (data races, lost updates, lock-order inversions) from the query API.
    Races(queries::RacesArgs),
    /// Show one trace: its steps, or its tree, critical path, races or anomalies.
    Trace(queries::TraceArgs),
    /// Show the state of a trace after one step: variables, threads and their locks, races.
    State(queries::StateArgs),
    /// List the services of a window with their trace, event, finding and anomaly counts.
    Services(queries::ServicesArgs),
    /// What-if: a trace's critical path and SLAs with a slower or failing service.
    Simulate(simulate::SimulateArgs),
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Up(args) => up::run(args).await,
        Command::Ingest(args) => pieces::ingest(args).await,
        Command::Process(args) => pieces::process(args).await,
        Command::Query(args) => pieces::query(args).await,
        Command::Migrate(backend) => pieces::migrate(backend).await,
        Command::Prune(args) => prune::run(args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Tui(args) => crate::tui::run(args).await,
        Command::Traces(args) => queries::traces(args).await,
        Command::Races(args) => queries::races(args).await,
        Command::Trace(args) => queries::trace(args).await,
        Command::State(args) => queries::state(args).await,
        Command::Services(args) => queries::services(args).await,
        Command::Simulate(args) => simulate::run(args).await,
    }
}

/// Parses `args` (without the program name) as the option group `A` alone: the tests of each
/// group's checks.
#[cfg(test)]
pub(crate) fn parse_args<A: clap::Args>(args: &[&str]) -> Result<A, clap::Error> {
    let command = A::augment_args(clap::Command::new("raceway"));
    let matches =
        command.try_get_matches_from(std::iter::once("raceway").chain(args.iter().copied()))?;
    A::from_arg_matches(&matches)
}

fn parse_addr(raw: &str) -> Result<SocketAddr, String> {
    raw.parse()
        .map_err(|e| format!("`{raw}` is not HOST:PORT with an IP host: {e}"))
}

//! `raceway`: one binary for every piece of Raceway.
//!
//! `raceway up` runs the gateway, both processor stages and the query API in one process, on the
//! embedded default (SQLite-backed bus and store under `--data-dir`) or on Kafka and ClickHouse.
//! `raceway ingest`, `raceway process` and `raceway query` run the pieces as separate processes.

mod backends;
mod cli;
mod client;
mod query_ready;
mod serve;
mod shutdown;
mod tls;
mod tui;
mod web;

use std::io::IsTerminal;

use clap::Parser;

/// mimalloc rather than the system allocator: the stages allocate and free many small objects
/// per event (decoded events, clocks, rows), and a profile of `raceway up` under load spent about
/// a third of its samples in glibc's malloc and free. See benches/README.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = cli::Cli::parse();
    // The TUI owns the terminal: log lines would scribble over it.
    if !matches!(args.command, cli::Command::Tui(_)) {
        init_logging(args.json_logs);
    }
    cli::run(args).await
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RACEWAY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

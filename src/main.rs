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
    let huge_pages = keep_transparent_huge_pages_off();
    let args = cli::Cli::parse();
    // The TUI owns the terminal: log lines would scribble over it.
    if !matches!(args.command, cli::Command::Tui(_)) {
        init_logging(args.json_logs);
    }
    if let Err(error) = huge_pages {
        // Huge pages cost only speed: carry on with them.
        tracing::warn!(%error, "could not turn transparent huge pages off");
    }
    cli::run(args).await
}

/// Turns transparent huge pages off for this process, unless `MIMALLOC_ALLOW_THP` says
/// otherwise. mimalloc asks for huge pages on its arenas, and gives memory it no longer uses back
/// to the OS; the next use of that memory then faults in and zeroes a whole 2 MiB page. In
/// `raceway up` under load, that zeroing (the kernel's `clear_page_erms`, from the trace stage's
/// growing buffers) took 10-35% of the process's CPU samples, and turning it off cut the CPU per
/// event by about a sixth (benches/README.md). The flag is the process's own: nothing else on the
/// machine changes.
fn keep_transparent_huge_pages_off() -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        // SAFETY: PR_SET_THP_DISABLE only sets a flag of this process; it reads no memory.
        if unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
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

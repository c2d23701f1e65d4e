//! `raceway tui`: browse traces, races, anomalies and the state of a trace at any step in the
//! terminal, over a query API (local or remote) like any other client.
//!
//! Layout follows the data flow: [`fetch`] says what to ask the API and performs it, [`app`] and
//! [`trace_screen`] hold the state and change it on keys and answers (pure), [`views`] draws the
//! state (pure), and [`event_loop`] ties them to the terminal, the network and the clock.
//!
//! The terminal is always given back: on quit, on an error, on a panic (ratatui's hook restores
//! it before the panic message prints) and on SIGTERM or SIGINT (the loop stops at its next tick).

mod app;
mod event_loop;
mod fetch;
mod live;
mod services_screen;
mod simulate_form;
mod trace_screen;
mod views;

#[cfg(test)]
mod app_tests;
#[cfg(test)]
mod snapshot_tests;

use std::time::Duration;

use clap::Args;

use crate::cli::queries::ApiArgs;

/// Options of `raceway tui`.
#[derive(Debug, Args)]
pub struct TuiArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// How often live mode (`l`) polls for new traces and findings while the live stream
    /// (`/ws/events/live`) is unavailable, in milliseconds.
    #[arg(long, env = "RACEWAY_TUI_POLL_MS", default_value_t = 2000)]
    poll_ms: u64,
}

/// Runs the TUI until `q`, Ctrl-C or a signal.
pub async fn run(args: TuiArgs) -> anyhow::Result<()> {
    let client = args.api.client()?;
    let key = args.api.api_key.clone().filter(|k| !k.is_empty());
    let stop = crate::shutdown::on_signal();
    let runtime = tokio::runtime::Handle::current();
    let poll = Duration::from_millis(args.poll_ms.max(100));
    tokio::task::spawn_blocking(move || {
        let mut terminal = TerminalGuard::enter();
        event_loop::run(&mut terminal.0, &client, key, &runtime, &stop, poll)
    })
    .await?
}

/// The terminal in raw mode on the alternate screen, given back when dropped (also when the
/// loop returns an error or unwinds).
struct TerminalGuard(ratatui::DefaultTerminal);

impl TerminalGuard {
    fn enter() -> TerminalGuard {
        TerminalGuard(ratatui::init())
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

//! `raceway demo`: the banking example (`examples/banking`) with its real distributed race,
//! recorded with the Rust SDK.
//!
//! Three services run in this process, each with its own tracer delivering to Raceway over
//! HTTP: the API, the ledger holding balances, and a worker applying transfers from a
//! transfers topic (here an in-process queue; the trace context travels in its message
//! headers as it would on Kafka). One withdrawal of 30 from alice (balance 100) charges a fee
//! of 5 through the worker while the API takes the amount out: both read the balance from the
//! ledger, work, and write it back, so one update is lost. With `--safe`, both ask the ledger to
//! apply their change under its lock, and Raceway reports nothing.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Parser};
use raceway_example_banking::queue::InProcessQueue;
use raceway_example_banking::{Bank, BankOptions, Mode};
use raceway_sdk::{HttpSink, Tracer, TracerConfig};
use serde_json::Value;
use uuid::Uuid;

use crate::cli::{Cli, Command};

/// Options of `raceway demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// A running Raceway (`raceway up`). Without it, the demo uses 127.0.0.1:8080 if something
    /// answers there, or starts an embedded Raceway of its own.
    #[arg(long, env = "RACEWAY_URL")]
    url: Option<String>,
    /// Synchronise the balance updates correctly: no race to find.
    #[arg(long)]
    safe: bool,
    /// Always start an embedded Raceway of its own, even if one answers on 127.0.0.1:8080.
    #[arg(long, conflicts_with = "url")]
    embedded: bool,
}

/// Runs the workload, waits for the analysis and prints the races found.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let (base, embedded) = match args.url {
        Some(url) => (url.trim_end_matches('/').to_string(), None),
        None if !args.embedded && answers(&http, "http://127.0.0.1:8080").await => {
            ("http://127.0.0.1:8080".to_string(), None)
        }
        None => {
            let data_dir =
                std::env::temp_dir().join(format!("raceway-demo-{}", Uuid::new_v4().simple()));
            let (base, guard) = start_embedded(&data_dir).await?;
            (base, Some((guard, data_dir)))
        }
    };
    println!("running the banking example (api, ledger, worker) against {base} ...");
    let options = BankOptions {
        mode: if args.safe { Mode::Safe } else { Mode::Racy },
        ..BankOptions::default()
    };
    let sink_base = base.clone();
    let bank = Bank::start(
        options,
        move |service| {
            Tracer::new(
                TracerConfig::new(service).environment("demo"),
                HttpSink::new(&sink_base)?,
            )
        },
        Arc::new(InProcessQueue::new()),
    )
    .await?;
    let receipt = bank.withdraw("alice", 30).await?;
    bank.settle(Duration::from_secs(10)).await;
    let final_balance = bank.balance("alice").await?;
    let stats = bank
        .shutdown()
        .await
        .context("could not deliver the events")?;
    let trace_id = receipt.trace_id;
    println!(
        "trace {trace_id}: alice had 100, withdrew 30 with a fee of 5, final balance \
         {final_balance} (expected 65)"
    );
    for (service, stats) in stats {
        if stats.dropped_queue_full + stats.dropped_undeliverable > 0 {
            println!("  {service}: {stats:?}");
        }
    }

    let races = wait_for_analysis(&http, &base, trace_id).await?;
    if races.is_empty() {
        println!("no races found");
    } else {
        println!("{} race(s) found:", races.len());
        for race in &races {
            println!(
                "  [{}] {} on {}: {}",
                race["severity"].as_str().unwrap_or("?"),
                race["kind"].as_str().unwrap_or("?"),
                race["variable"].as_str().unwrap_or("?"),
                race["explanation"].as_str().unwrap_or("?"),
            );
            let side = |e: &Value| {
                format!(
                    "{} at {}",
                    e["service"].as_str().unwrap_or("?"),
                    e["location"].as_str().unwrap_or("?")
                )
            };
            println!(
                "      {}  <->  {}",
                side(&race["first"]),
                side(&race["second"])
            );
        }
    }
    match embedded {
        None => println!("details: {base}/api/traces/{trace_id}/races"),
        Some(((shutdown, task), data_dir)) => {
            let _ = shutdown.send(true);
            task.await??;
            // The embedded instance stops with the demo, so its URLs are dead now; its data
            // folder is kept, and `raceway up` on it shows the same trace.
            println!(
                "the embedded Raceway has stopped; its data is kept in {}",
                data_dir.display()
            );
            println!(
                "to look at this trace: raceway up --data-dir {}, then open \
                 http://127.0.0.1:8080/traces/{trace_id}/races (or run raceway tui)",
                data_dir.display()
            );
        }
    }
    Ok(())
}

async fn answers(http: &reqwest::Client, base: &str) -> bool {
    matches!(http.get(format!("{base}/health")).send().await, Ok(r) if r.status().is_success())
}

pub(crate) type EmbeddedGuard = (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
);

/// Starts `raceway up` in this process on `data_dir` and a free port.
pub(crate) async fn start_embedded(data_dir: &Path) -> anyhow::Result<(String, EmbeddedGuard)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr = format!("127.0.0.1:{port}");
    let data_dir = data_dir.to_string_lossy().to_string();
    let cli = Cli::try_parse_from([
        "raceway",
        "up",
        "--http-addr",
        &addr,
        "--data-dir",
        &data_dir,
    ])?;
    let Command::Up(up_args) = cli.command else {
        anyhow::bail!("internal error: `up` arguments did not parse as `up`");
    };
    let (tx, rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(super::up::run_until(up_args, rx));
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !answers(&http, &base).await {
        if Instant::now() > deadline || task.is_finished() {
            anyhow::bail!("the embedded Raceway did not start on {addr}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("started an embedded Raceway on {base} (data in {data_dir})");
    Ok((base, (tx, task)))
}

/// Waits until the trace is stored and analysed (races appear, or the trace has been quiet long
/// enough to be complete), then returns its races.
async fn wait_for_analysis(
    http: &reqwest::Client,
    base: &str,
    trace_id: Uuid,
) -> anyhow::Result<Vec<Value>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut stored_since: Option<Instant> = None;
    loop {
        let races: Value = http
            .get(format!("{base}/api/traces/{trace_id}/races"))
            .send()
            .await?
            .json()
            .await?;
        let races = races["races"].as_array().cloned().unwrap_or_default();
        if !races.is_empty() {
            return Ok(races);
        }
        let stored = http
            .get(format!("{base}/api/traces/{trace_id}"))
            .send()
            .await?
            .status()
            .is_success();
        if stored {
            let since = *stored_since.get_or_insert_with(Instant::now);
            // The default trace idle timeout is 1 s; give the analysis a few more.
            if since.elapsed() > Duration::from_secs(5) {
                return Ok(races);
            }
        }
        if Instant::now() > deadline {
            anyhow::bail!("trace {trace_id} was not analysed within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

//! `raceway demo`: a small banking workload with a real race, recorded with the Rust SDK.
//!
//! Two tellers withdraw from the same account at once. Each reads the balance, works a little,
//! and writes back balance minus its amount; nothing orders the two, so one withdrawal can
//! overwrite the other (a lost update). With `--safe`, each withdrawal holds a tracked mutex
//! across its read and write, and Raceway reports nothing.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Parser};
use raceway_sdk::{Actor, HttpSink, Tracer, TracerConfig, TrackedMutex, Var};
use serde_json::Value;
use uuid::Uuid;

use crate::cli::{Cli, Command};

/// The shared variable: one row of the bank's accounts table.
const BALANCE: &str = "account:alice.balance";

/// Options of `raceway demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// A running Raceway (`raceway up`). Without it, the demo uses 127.0.0.1:8080 if something
    /// answers there, or starts an embedded Raceway of its own.
    #[arg(long, env = "RACEWAY_URL")]
    url: Option<String>,
    /// Synchronise the withdrawals correctly: no race to find.
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
            let (base, guard) = start_embedded().await?;
            (base, Some(guard))
        }
    };
    println!("recording a banking workload against {base} ...");
    let tracer = Tracer::new(
        TracerConfig::new("bank-api")
            .instance("bank-api-1")
            .environment("demo"),
        HttpSink::new(&base)?,
    )?;
    let workload_tracer = tracer.clone();
    let safe = args.safe;
    let (trace_id, final_balance) =
        tokio::task::spawn_blocking(move || withdraw_twice(&workload_tracer, safe)).await?;
    tracer
        .shutdown()
        .await
        .context("could not deliver the events")?;
    println!("trace {trace_id}: balance 100, two withdrawals of 30 and 50, final balance {final_balance}");

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
        }
    }
    println!("details: {base}/api/traces/{trace_id}/races");
    if let Some((shutdown, task)) = embedded {
        let _ = shutdown.send(true);
        task.await??;
    }
    Ok(())
}

/// Two tellers withdraw 30 and 50 from a balance of 100 at the same time.
fn withdraw_twice(tracer: &Tracer, safe: bool) -> (Uuid, i64) {
    let account = Arc::new(TrackedMutex::new("accounts-table", 100_i64));
    let unsynchronised = Arc::new(Mutex::new(100_i64));
    let mut request = tracer.start_trace("transfer-handler");
    let trace_id = request.trace_id();
    let tellers: Vec<_> = [("teller-1", 30_i64), ("teller-2", 50_i64)]
        .into_iter()
        .map(|(name, amount)| {
            let mut teller = request.spawn_child(name);
            let account = account.clone();
            let unsynchronised = unsynchronised.clone();
            std::thread::spawn(move || {
                if safe {
                    withdraw_locked(&account, &mut teller, amount);
                } else {
                    withdraw_racy(&unsynchronised, &mut teller, amount);
                }
                teller
            })
        })
        .collect();
    for teller in tellers {
        match teller.join() {
            Ok(teller) => request.join(teller),
            Err(_) => tracing::error!("a teller thread panicked"),
        }
    }
    let final_balance = if safe {
        account.lock(&mut request).map(|guard| *guard).unwrap_or(-1)
    } else {
        unsynchronised.lock().map(|g| *g).unwrap_or(-1)
    };
    (trace_id, final_balance)
}

/// Read, think, write: each step alone is atomic, the whole is not.
fn withdraw_racy(balance: &Mutex<i64>, teller: &mut Actor, amount: i64) {
    let read = balance.lock().map(|g| *g).unwrap_or_default();
    teller.read(Var::shared(BALANCE), &read);
    std::thread::sleep(Duration::from_millis(20));
    let new = read - amount;
    if let Ok(mut guard) = balance.lock() {
        *guard = new;
    }
    teller.write(Var::shared(BALANCE), &read, &new);
}

/// The same withdrawal with the account locked across the read and the write.
fn withdraw_locked(account: &TrackedMutex<i64>, teller: &mut Actor, amount: i64) {
    let Ok(mut guard) = account.lock(teller) else {
        return;
    };
    let (balance, actor) = guard.split();
    let read = *balance;
    actor.read(Var::shared(BALANCE), &read);
    std::thread::sleep(Duration::from_millis(20));
    *balance = read - amount;
    actor.write(Var::shared(BALANCE), &read, &*balance);
}

async fn answers(http: &reqwest::Client, base: &str) -> bool {
    matches!(http.get(format!("{base}/health")).send().await, Ok(r) if r.status().is_success())
}

type EmbeddedGuard = (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
);

/// Starts `raceway up` in this process on a fresh data folder and a free port.
async fn start_embedded() -> anyhow::Result<(String, EmbeddedGuard)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr = format!("127.0.0.1:{port}");
    let data_dir = std::env::temp_dir().join(format!("raceway-demo-{}", Uuid::new_v4().simple()));
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

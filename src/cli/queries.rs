//! The query commands: `raceway traces`, `raceway races`, `raceway trace ID`, `raceway state
//! ID --at STEP` and `raceway services` read a running Raceway's query API (`--api`, `RACEWAY_API`) and print human
//! tables (coloured on a terminal) or, with `--json`, the API's answer as is.
//!
//! When the API is unreachable or answers an error, they print one line saying so and exit with
//! status 1, so scripts can tell "no races" (an empty list, status 0) from "could not ask".

use std::io::IsTerminal;

use clap::Args;
use ratatui::crossterm::style::Stylize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::prune::parse_duration;
use super::tables;
use crate::client::models::{
    CriticalPathBody, RacesPage, ServicesBody, TraceAnomalies, TraceRaces, TraceStateBody,
    TraceSteps, TracesPage, Tree,
};
use crate::client::{ApiClient, ClientError, DEFAULT_API};

/// Where the query API is and how to authenticate.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// Base URL of a running Raceway's query API.
    #[arg(long, env = "RACEWAY_API", default_value = DEFAULT_API)]
    pub api: String,
    /// API key with the `read` role, when the API requires one.
    #[arg(long = "api-key", env = "RACEWAY_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

impl ApiArgs {
    /// A client of the API these options name.
    pub fn client(&self) -> anyhow::Result<ApiClient> {
        ApiClient::new(&self.api, self.api_key.clone())
    }
}

/// Options every query command takes.
#[derive(Debug, Args)]
pub struct OutputArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Print the API's JSON answer instead of a table.
    #[arg(long)]
    json: bool,
}

/// Options of `raceway traces`.
#[derive(Debug, Args)]
pub struct TracesArgs {
    #[command(flatten)]
    out: OutputArgs,
    /// Only traces with an event of this service.
    #[arg(long)]
    service: Option<String>,
    /// Only traces that started within this long before now (`90s`, `15m`, `1h`, `7d`).
    #[arg(long, value_parser = parse_duration)]
    since: Option<std::time::Duration>,
    /// Only traces with races.
    #[arg(long)]
    with_races: bool,
    /// At most this many traces (1-1000).
    #[arg(long, default_value_t = 50)]
    limit: u32,
}

/// Options of `raceway races`.
#[derive(Debug, Args)]
pub struct RacesArgs {
    #[command(flatten)]
    out: OutputArgs,
    /// Only findings with a side in this service.
    #[arg(long)]
    service: Option<String>,
    /// Only this kind: data_race, lost_update or lock_order_inversion.
    #[arg(long)]
    kind: Option<String>,
    /// Only this severity: warning or critical.
    #[arg(long)]
    severity: Option<String>,
    /// Only findings on this variable.
    #[arg(long)]
    variable: Option<String>,
    /// Only findings whose events are within this long before now (`1h`, `7d`).
    #[arg(long, value_parser = parse_duration)]
    since: Option<std::time::Duration>,
    /// At most this many findings (1-1000).
    #[arg(long, default_value_t = 50)]
    limit: u32,
}

/// Options of `raceway trace`.
#[derive(Debug, Args)]
pub struct TraceArgs {
    #[command(flatten)]
    out: OutputArgs,
    /// The trace id.
    id: String,
    /// Its tree of calls, with durations (the default view: its steps in causal order).
    #[arg(long, group = "view")]
    tree: bool,
    /// Its critical path.
    #[arg(long, group = "view")]
    critical_path: bool,
    /// The findings involving it.
    #[arg(long, group = "view")]
    races: bool,
    /// Its steps slower than their baselines.
    #[arg(long, group = "view")]
    anomalies: bool,
}

/// Options of `raceway state`.
#[derive(Debug, Args)]
pub struct StateArgs {
    #[command(flatten)]
    out: OutputArgs,
    /// The trace id.
    id: String,
    /// The step: an index into the trace's causal order, or an event id.
    #[arg(long)]
    at: String,
}

/// Options of `raceway services`.
#[derive(Debug, Args)]
pub struct ServicesArgs {
    #[command(flatten)]
    out: OutputArgs,
    /// How far back (`15m`, `1h`, `7d`; the API's default is `1h`).
    #[arg(long)]
    window: Option<String>,
    /// The window's end: RFC 3339 or ns since the epoch (default now).
    #[arg(long)]
    at: Option<String>,
}

/// `raceway services`.
pub async fn services(args: ServicesArgs) -> anyhow::Result<()> {
    let mut query = Vec::new();
    query.extend(args.window.map(|w| ("window", w)));
    query.extend(args.at.map(|t| ("to", t)));
    let list: Value = ask(&args.out, &["api", "services"], &query).await;
    print(&args.out, list, |list: ServicesBody| {
        tables::services(&list)
    })
}

/// `raceway traces`.
pub async fn traces(args: TracesArgs) -> anyhow::Result<()> {
    let mut query = vec![("limit", args.limit.to_string())];
    query.extend(args.service.map(|s| ("service", s)));
    query.extend(args.since.map(|d| ("from", since(d))));
    if args.with_races {
        query.push(("has_races", "true".into()));
    }
    let page: Value = ask(&args.out, &["api", "traces"], &query).await;
    print(&args.out, page, |page: TracesPage| tables::traces(&page))
}

/// `raceway races`.
pub async fn races(args: RacesArgs) -> anyhow::Result<()> {
    let mut query = vec![("limit", args.limit.to_string())];
    query.extend(args.service.map(|s| ("service", s)));
    query.extend(args.kind.map(|k| ("kind", k)));
    query.extend(args.severity.map(|s| ("severity", s)));
    query.extend(args.variable.map(|v| ("variable", v)));
    query.extend(args.since.map(|d| ("from", since(d))));
    let page: Value = ask(&args.out, &["api", "races"], &query).await;
    print(&args.out, page, |page: RacesPage| {
        let shown = page.races.len();
        format!(
            "{}{shown} of {} findings\n",
            tables::races(&page.races),
            page.page.total
        )
    })
}

/// `raceway trace ID [--tree | --critical-path | --races | --anomalies]`.
pub async fn trace(args: TraceArgs) -> anyhow::Result<()> {
    let id = args.id.as_str();
    let out = &args.out;
    if args.tree {
        let tree = ask(out, &["api", "traces", id, "tree"], &[]).await;
        print(out, tree, |tree: Tree| tables::tree(&tree))
    } else if args.critical_path {
        let path = ask(out, &["api", "traces", id, "critical-path"], &[]).await;
        print(out, path, |path: CriticalPathBody| {
            tables::critical_path(&path)
        })
    } else if args.races {
        let races = ask(out, &["api", "traces", id, "races"], &[]).await;
        print(out, races, |page: TraceRaces| tables::races(&page.races))
    } else if args.anomalies {
        let anomalies = ask(out, &["api", "traces", id, "anomalies"], &[]).await;
        print(out, anomalies, |a: TraceAnomalies| {
            tables::anomalies(&a.anomalies)
        })
    } else {
        let steps = ask(out, &["api", "traces", id, "steps"], &[]).await;
        print(out, steps, |steps: TraceSteps| tables::steps(&steps.steps))
    }
}

/// `raceway state ID --at STEP`.
pub async fn state(args: StateArgs) -> anyhow::Result<()> {
    let query = [("at", args.at.clone())];
    let state = ask(&args.out, &["api", "traces", &args.id, "state"], &query).await;
    print(&args.out, state, |state: TraceStateBody| {
        tables::state(&state)
    })
}

/// RFC 3339 time `ago` before now.
fn since(ago: std::time::Duration) -> String {
    let ago = chrono::Duration::from_std(ago).unwrap_or(chrono::Duration::MAX);
    let from = chrono::Utc::now()
        .checked_sub_signed(ago)
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
    from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// GETs the answer, or prints the error on one line and exits with status 1.
async fn ask<T: DeserializeOwned>(out: &OutputArgs, path: &[&str], query: &[(&str, String)]) -> T {
    let answer = match out.api.client() {
        Ok(client) => client.get(path, query).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    answer.unwrap_or_else(|message| fail(&message))
}

/// Prints `answer` as JSON (`--json`) or as the table `render` makes of it.
fn print<T: DeserializeOwned>(
    out: &OutputArgs,
    answer: Value,
    render: impl FnOnce(T) -> String,
) -> anyhow::Result<()> {
    if out.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    let typed: T = serde_json::from_value(answer).unwrap_or_else(|e| {
        fail(
            &ClientError::Decode {
                path: "the answer".into(),
                reason: e.to_string(),
            }
            .to_string(),
        )
    });
    print!("{}", render(typed));
    Ok(())
}

/// Prints `message` on one line to stderr and exits with status 1.
pub(super) fn fail(message: &str) -> ! {
    let line = format!("raceway: {}", message.replace('\n', " "));
    if std::io::stderr().is_terminal() {
        eprintln!("{}", line.red());
    } else {
        eprintln!("{line}");
    }
    std::process::exit(1)
}

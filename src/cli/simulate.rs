//! `raceway simulate ID --delay b=+500ms --fail c=timeout:2s --sla 200ms [--json | --csv]`: asks
//! the query API what a trace would look like with a slower service or event, or a failing
//! service (`POST /api/traces/{id}/simulate`; the rules are in `raceway_analysis::simulate`),
//! and prints the critical path before and after, the services reached and the SLA breaches.

use std::time::Duration;

use clap::Args;
use comfy_table::{Cell, Color};
use raceway_analysis::simulate::{
    Delay, Failure, FailureMode, Simulation, SimulationSpec, SlaSpec,
};
use uuid::Uuid;

use super::prune::parse_duration;
use super::queries::{fail, ApiArgs};
use super::tables::table;

/// Options of `raceway simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// The trace id.
    id: String,
    /// `SERVICE=+DURATION` (each call into SERVICE takes that much longer) or
    /// `EVENT_ID=+DURATION` (that event does), e.g. `b=+500ms`. Repeatable.
    #[arg(long = "delay", value_parser = parse_delay)]
    delays: Vec<Delay>,
    /// `SERVICE=error` (each call into SERVICE fails at once) or `SERVICE=timeout:DURATION`
    /// (the caller gives up after DURATION), e.g. `c=timeout:2s`. Repeatable.
    #[arg(long = "fail", value_parser = parse_failure)]
    failures: Vec<Failure>,
    /// A request budget: `DURATION` for every service, or `SERVICE=DURATION`. Repeatable.
    #[arg(long = "sla")]
    slas: Vec<String>,
    /// Print the API's JSON answer instead of tables.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print every event's timing before and after as CSV.
    #[arg(long)]
    csv: bool,
}

/// `raceway simulate`.
pub async fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let spec = SimulationSpec {
        delays: args.delays,
        failures: args.failures,
        sla_ms: parse_slas(&args.slas).unwrap_or_else(|e| fail(&e)),
    };
    let body = serde_json::to_value(&spec)?;
    let client = args.api.client().unwrap_or_else(|e| fail(&e.to_string()));
    let path = ["api", "traces", args.id.as_str(), "simulate"];
    if args.csv {
        let query = [("format", "csv".to_string())];
        let text = client.post_text(&path, &query, &body).await;
        print!("{}", text.unwrap_or_else(|e| fail(&e.to_string())));
        return Ok(());
    }
    let answer: serde_json::Value = client
        .post(&path, &[], &body)
        .await
        .unwrap_or_else(|e| fail(&e.to_string()));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    let simulation: Simulation = serde_json::from_value(answer)
        .unwrap_or_else(|e| fail(&format!("could not read the simulation: {e}")));
    print!("{}", render(&simulation));
    Ok(())
}

fn ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Parses `TARGET=+DURATION`: TARGET an event id or a service.
fn parse_delay(text: &str) -> Result<Delay, String> {
    let (target, amount) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: write SERVICE=+DURATION, e.g. b=+500ms"))?;
    let ms = ms(parse_duration(amount.trim_start_matches('+'))?);
    Ok(match Uuid::parse_str(target) {
        Ok(event_id) => Delay::Event { event_id, ms },
        Err(_) => Delay::Service {
            service: target.to_string(),
            ms,
        },
    })
}

/// Parses `SERVICE=error` or `SERVICE=timeout:DURATION`.
fn parse_failure(text: &str) -> Result<Failure, String> {
    let usage = || format!("{text:?}: write SERVICE=error or SERVICE=timeout:DURATION");
    let (service, how) = text.split_once('=').ok_or_else(usage)?;
    let (mode, timeout_ms) = match how.split_once(':') {
        None if how == "error" => (FailureMode::Error, None),
        Some(("timeout", after)) => (FailureMode::Timeout, Some(ms(parse_duration(after)?))),
        _ => return Err(usage()),
    };
    Ok(Failure {
        service: service.to_string(),
        mode,
        timeout_ms,
    })
}

/// Parses the `--sla` values: `DURATION` (the default) or `SERVICE=DURATION`.
fn parse_slas(values: &[String]) -> Result<Option<SlaSpec>, String> {
    if values.is_empty() {
        return Ok(None);
    }
    let mut sla = SlaSpec::default();
    for value in values {
        match value.split_once('=') {
            Some((service, budget)) => {
                sla.services
                    .insert(service.to_string(), ms(parse_duration(budget)?));
            }
            None => sla.default = Some(ms(parse_duration(value)?)),
        }
    }
    Ok(Some(sla))
}

/// The first 8 characters of an id.
fn short(id: &Uuid) -> String {
    id.to_string().chars().take(8).collect()
}

/// The human report: the critical path's change, services, affected services, SLA breaches.
fn render(sim: &Simulation) -> String {
    let path = &sim.critical_path;
    let mut out = format!(
        "Critical path: {:.1} ms -> {:.1} ms ({:+.1} ms)\n",
        path.length.before_ms, path.length.after_ms, path.delta_ms
    );
    let mut services = table(&["service", "before (ms)", "after (ms)", "change (ms)"]);
    for s in &sim.services {
        let change = s.time.after_ms - s.time.before_ms;
        let cell = Cell::new(format!("{change:+.1}"));
        let cell = if change > 0.0 {
            cell.fg(Color::Red)
        } else {
            cell
        };
        services.add_row(vec![
            Cell::new(&s.service),
            Cell::new(format!("{:.1}", s.time.before_ms)),
            Cell::new(format!("{:.1}", s.time.after_ms)),
            cell,
        ]);
    }
    out.push_str(&format!("{services}\n"));
    if sim.affected_services.is_empty() {
        out.push_str("No other service is affected.\n");
    } else {
        out.push_str("Affected services (causal chain of event ids):\n");
        for affected in &sim.affected_services {
            let via: Vec<String> = affected.via.iter().map(short).collect();
            out.push_str(&format!(
                "  {}  via {}\n",
                affected.service,
                via.join(" -> ")
            ));
        }
    }
    if !sim.over_sla.is_empty() {
        let mut breaches = table(&[
            "event", "service", "location", "SLA (ms)", "before", "after",
        ]);
        for b in &sim.over_sla {
            let over = if b.already_over { " (over)" } else { "" };
            let before = format!("{:.1}{over}", b.duration.before_ms);
            breaches.add_row(vec![
                Cell::new(short(&b.event.event_id)),
                Cell::new(&b.event.service),
                Cell::new(&b.event.location),
                Cell::new(format!("{:.0}", b.sla_ms)),
                Cell::new(before),
                Cell::new(format!("{:.1}", b.duration.after_ms)).fg(Color::Red),
            ]);
        }
        out.push_str(&format!("Over their SLA:\n{breaches}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_name_a_service_or_an_event() {
        assert_eq!(
            parse_delay("b=+500ms"),
            Ok(Delay::Service {
                service: "b".into(),
                ms: 500
            })
        );
        let id = Uuid::from_u128(7);
        assert_eq!(
            parse_delay(&format!("{id}=2s")),
            Ok(Delay::Event {
                event_id: id,
                ms: 2_000
            })
        );
        assert!(parse_delay("b").unwrap_err().contains("SERVICE=+DURATION"));
        assert!(parse_delay("b=+5y").unwrap_err().contains("unknown unit"));
    }

    #[test]
    fn failures_are_errors_or_timeouts_with_their_duration() {
        let timeout = parse_failure("c=timeout:2s").expect("timeout");
        assert_eq!(
            (timeout.mode, timeout.timeout_ms),
            (FailureMode::Timeout, Some(2_000))
        );
        assert_eq!(
            parse_failure("c=error").expect("error").mode,
            FailureMode::Error
        );
        assert!(parse_failure("c=explode")
            .unwrap_err()
            .contains("SERVICE=error"));
        assert!(parse_failure("c=timeout").is_err());
    }

    #[test]
    fn slas_have_a_default_and_per_service_budgets() {
        let sla = parse_slas(&["200ms".into(), "b=1s".into()])
            .expect("parses")
            .expect("some");
        assert_eq!(sla.default, Some(200));
        assert_eq!(sla.budget_ms("b"), Some(1_000));
        assert_eq!(parse_slas(&[]), Ok(None));
    }
}

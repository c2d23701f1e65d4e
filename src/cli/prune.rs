//! `raceway prune --older-than DURATION`: retention.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Args;
use raceway_bus::EmbeddedBus;

use crate::backends::BackendArgs;

/// Options of `raceway prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    #[command(flatten)]
    backend: BackendArgs,
    /// Drop data older than this: a number and a unit (s, m, h, d, w), e.g. `7d` or `36h`.
    #[arg(long, env = "RACEWAY_PRUNE_OLDER_THAN", value_parser = parse_duration)]
    older_than: Duration,
}

/// Drops events, findings, accesses and analyses older than the cutoff from the store and, on
/// the embedded default, the bus log records every consumer has committed past.
pub async fn run(args: PruneArgs) -> anyhow::Result<()> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the clock is before 1970")?;
    let cutoff = now.saturating_sub(args.older_than);
    let cutoff_ns = i64::try_from(cutoff.as_nanos()).context("cutoff out of range")?;
    let store = args.backend.open_store().await?;
    let report = store
        .prune_older_than(cutoff_ns)
        .await
        .context("cannot prune the store")?;
    let unit = if args.backend.clickhouse.is_some() {
        "day partitions"
    } else {
        "rows"
    };
    for (table, removed) in &report {
        println!("{table}: {removed} {unit} dropped");
    }
    if args.backend.kafka.is_none() {
        let path = args.backend.data_dir.join("bus.sqlite");
        if path.exists() {
            let bus = EmbeddedBus::open(&path, args.backend.partitions)
                .with_context(|| format!("cannot open the embedded bus log {}", path.display()))?;
            let removed = bus
                .prune_consumed()
                .await
                .context("cannot prune the bus log")?;
            println!("bus log: {removed} consumed records dropped");
        }
    }
    Ok(())
}

/// Parses `7d`, `36h`, `90m`, `45s` or `2w`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} has no unit: write e.g. 7d, 36h, 90m"))?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} does not start with a number"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?}: use s, m, h, d or w"
            ))
        }
    };
    n.checked_mul(seconds)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_bad_ones_say_why() {
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("36h"), Ok(Duration::from_secs(36 * 3_600)));
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(14 * 86_400)));
        assert_eq!(parse_duration(" 45s "), Ok(Duration::from_secs(45)));
        assert!(parse_duration("7").unwrap_err().contains("no unit"));
        assert!(parse_duration("7y").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("d").unwrap_err().contains("number"));
        assert!(parse_duration("99999999999999999999w").is_err());
    }
}

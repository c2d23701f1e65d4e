//! The figures of the throughput goals, one row per goal: what the run measured ("now"), the
//! goal, and the command that measures it. A row this run did not measure says why.

use std::collections::BTreeMap;

/// One goal: a key the parts report under, what it is, the goal, and the command measuring it.
struct Goal {
    key: &'static str,
    what: &'static str,
    goal: &'static str,
    command: &'static str,
    /// Why the row is empty when nothing reported under `key`.
    unmeasured: &'static str,
}

const GOALS: &[Goal] = &[
    Goal {
        key: "kafka-large",
        what: "end to end, Kafka + ClickHouse, 1 processor, traces of ~500 events",
        goal: ">= 100,000 events/s sustained, races queryable",
        command: "RACEWAY_BENCH_PARTS=kafka-large cargo bench --bench pipeline",
        unmeasured: "part kafka-large not run",
    },
    Goal {
        key: "kafka-scenarios",
        what: "the same, traces of ~7 events (the scenario workload)",
        goal: ">= 30,000 events/s",
        command: "RACEWAY_BENCH_PARTS=scenarios cargo bench --bench pipeline",
        unmeasured: "part scenarios not run",
    },
    Goal {
        key: "race-latency",
        what: "accepted -> race queryable (scenario workload)",
        goal: "p99 <= 2 s at half the maximum load (default 1 s idle timeout)",
        command: "RACEWAY_BENCH_PARTS=scenarios cargo bench --bench pipeline",
        unmeasured: "part scenarios not run",
    },
    Goal {
        key: "embedded-large",
        what: "embedded default (`raceway up`), traces of ~500 events",
        goal: ">= 100,000 events/s",
        command: "RACEWAY_BENCH_PARTS=embedded-large cargo bench --bench pipeline",
        unmeasured: "part embedded-large not run",
    },
    Goal {
        key: "gateway",
        what: "gateway alone into Kafka",
        goal: ">= 200,000 events/s",
        command: "RACEWAY_BENCH_PARTS=ceilings cargo bench --bench pipeline",
        unmeasured: "part ceilings not run",
    },
    Goal {
        key: "broker",
        what: "the broker alone: the gateway's records, encoded beforehand, produced at full rate",
        goal: ">= 200,000 events/s (the gateway's goal needs it)",
        command: "RACEWAY_BENCH_PARTS=broker cargo bench --bench pipeline",
        unmeasured: "part broker not run",
    },
    Goal {
        key: "trace-stage",
        what: "trace stage alone",
        goal: ">= 200,000 events/s",
        command: "RACEWAY_BENCH_PARTS=ceilings cargo bench --bench pipeline",
        unmeasured: "part ceilings not run",
    },
    Goal {
        key: "detector",
        what: "race detector (1M accesses, 1k variables, 16 actors)",
        goal: ">= 2M accesses/s per core",
        command: "cargo bench -p raceway-analysis --bench race_detector -- detector/1M-accesses",
        unmeasured: "a criterion benchmark of its own: run its command",
    },
    Goal {
        key: "trace-races",
        what: "one 10k-event trace: causality, race inputs and detection",
        goal: "<= 5 ms",
        command: "cargo bench -p raceway-analysis --bench race_detector -- trace/",
        unmeasured: "a criterion benchmark of its own: run its command",
    },
    Goal {
        key: "trace-analyses",
        what: "one 10k-event trace: tree, critical path, dependencies, anomalies",
        goal: "<= 5 ms",
        command: "cargo bench -p raceway-analysis --bench trace_analyses",
        unmeasured: "a criterion benchmark of its own: run its command",
    },
    Goal {
        key: "sdk",
        what: "SDK, one recorded write",
        goal: "p99 <= 1 µs",
        command: "cargo bench -p raceway-sdk --bench recording_mimalloc (and --bench recording: glibc)",
        unmeasured: "a benchmark of its own: run its command",
    },
    Goal {
        key: "api-one",
        what: "API, 200,000 events stored, one client: traces / races / one trace",
        goal: "p99 <= 20 ms each",
        command: "RACEWAY_BENCH_PARTS=kafka-large,embedded-large cargo bench --bench pipeline",
        unmeasured: "parts kafka-large and embedded-large not run",
    },
    Goal {
        key: "api-twenty",
        what: "API, 20 concurrent clients, >= 1M events stored",
        goal: "p99 <= 200 ms each, both stores",
        command: "RACEWAY_BENCH_LARGE_EVENTS=1000000 RACEWAY_BENCH_PARTS=kafka-large,embedded-large cargo bench --bench pipeline",
        unmeasured: "parts kafka-large and embedded-large not run",
    },
    Goal {
        key: "memory",
        what: "processor memory at the end-to-end goal with 10,000 open traces",
        goal: "RSS <= 1 GiB, bounded by configuration",
        command: "RACEWAY_BENCH_PARTS=memory cargo bench --bench pipeline",
        unmeasured: "part memory not run",
    },
    Goal {
        key: "embedded-growth",
        what: "embedded `raceway up` as data grows: ingest rate after 200k / 400k / 600k events",
        goal: "within 10% of the first figure up to 1M events",
        command: "RACEWAY_BENCH_GROWTH_ROUNDS=5 RACEWAY_BENCH_PARTS=embedded-growth cargo bench --bench pipeline",
        unmeasured: "part embedded-growth not run",
    },
    Goal {
        key: "embedded-disk",
        what: "embedded disk per stored event; RSS after 600k events",
        goal: "<= 1 KB; RSS flat once retention is full",
        command: "RACEWAY_BENCH_PARTS=embedded-large cargo bench --bench pipeline",
        unmeasured: "part embedded-large not run",
    },
];

/// Figures reported by the parts, by goal key; a figure reported twice (two runs) keeps both.
#[derive(Default)]
pub struct Figures {
    by_key: BTreeMap<&'static str, Vec<String>>,
}

impl Figures {
    /// Records `figure` for the goal `key`, with the load average at the time beside it.
    pub fn report(&mut self, key: &'static str, figure: String) {
        debug_assert!(GOALS.iter().any(|g| g.key == key), "unknown goal {key}");
        let figure = format!("{figure} (load {})", load_average());
        println!("  {key}: {figure}");
        self.by_key.entry(key).or_default().push(figure);
    }

    /// Prints the table, one goal a row, as Markdown.
    pub fn print(&self) {
        println!("\n| what | now | goal | command |\n|---|---|---|---|");
        for goal in GOALS {
            let now = match self.by_key.get(goal.key) {
                Some(figures) => figures.join("; "),
                None => format!("not measured: {}", goal.unmeasured),
            };
            println!(
                "| {} | {now} | {} | `{}` |",
                goal.what, goal.goal, goal.command
            );
        }
    }
}

/// The 1-minute load average, as `uptime` shows it.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

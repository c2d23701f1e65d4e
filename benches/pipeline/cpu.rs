//! CPU seconds of the processes a run involves, read from `/proc`: where the machine's time per
//! event goes. On this machine every part of the pipeline shares the same cores, so a rate alone
//! does not say which process to make cheaper; CPU microseconds per event do, and they change
//! far less with the other load on the machine than the rates.

use std::fmt::Write;

/// A process whose CPU a run reads: `raceway` by pid, the services by name.
#[derive(Debug, Clone, Copy)]
pub enum Process {
    /// A `raceway` process the part started, with what it runs (`up`, `ingest`, `process`).
    Raceway(&'static str, u32),
    /// The broker (`tansu ... broker`).
    Broker,
    /// `clickhouse-server`.
    ClickHouse,
    /// The bench itself (its HTTP clients).
    Bench,
}

impl Process {
    fn label(self) -> String {
        match self {
            Process::Raceway(command, _) => format!("raceway {command}"),
            Process::Broker => "broker".into(),
            Process::ClickHouse => "ClickHouse".into(),
            Process::Bench => "bench clients".into(),
        }
    }

    /// User + system CPU seconds so far, if the process runs here.
    pub fn cpu_seconds(self) -> Option<f64> {
        match self {
            Process::Raceway(_, pid) => stat_cpu_seconds(&format!("/proc/{pid}/stat")),
            Process::Bench => stat_cpu_seconds("/proc/self/stat"),
            Process::Broker => named_cpu_seconds("tansu", "broker"),
            Process::ClickHouse => named_cpu_seconds("clickhouse-serv", "clickhouse"),
        }
    }
}

/// The CPU seconds of some processes at one moment; [`CpuSample::per_event`] compares two.
#[derive(Debug, Clone)]
pub struct CpuSample {
    seconds: Vec<(Process, Option<f64>)>,
    machine: Option<f64>,
}

impl CpuSample {
    pub fn take(processes: &[Process]) -> CpuSample {
        CpuSample {
            seconds: processes.iter().map(|p| (*p, p.cpu_seconds())).collect(),
            machine: machine_busy_seconds(),
        }
    }

    /// "raceway up 31.2 µs, broker 9.1 µs, ... per event; machine busy 52.0 µs" between `start`
    /// and now, over `events` events.
    pub fn per_event(start: &CpuSample, events: usize) -> String {
        let now = CpuSample::take(&start.seconds.iter().map(|(p, _)| *p).collect::<Vec<_>>());
        let per_event = |from: Option<f64>, to: Option<f64>| {
            from.zip(to)
                .map(|(from, to)| (to - from) * 1e6 / events as f64)
        };
        let mut out = String::new();
        for ((process, from), (_, to)) in start.seconds.iter().zip(&now.seconds) {
            if let Some(us) = per_event(*from, *to) {
                let _ = write!(out, "{} {us:.1} µs, ", process.label());
            }
        }
        let _ = write!(out, "CPU per event");
        if let Some(us) = per_event(start.machine, now.machine) {
            let _ = write!(out, "; the whole machine busy {us:.1} µs per event");
        }
        out
    }
}

/// utime + stime of a `/proc/.../stat` file, in seconds.
fn stat_cpu_seconds(path: &str) -> Option<f64> {
    let ticks_per_second = 100.0; // USER_HZ on Linux
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name in parentheses: utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / ticks_per_second)
}

/// [`stat_cpu_seconds`] of the first process named `comm` whose command line contains `arg`.
fn named_cpu_seconds(comm: &str, arg: &str) -> Option<f64> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if name.trim() == comm && String::from_utf8_lossy(&cmdline).contains(arg) {
            return stat_cpu_seconds(&entry.path().join("stat").to_string_lossy());
        }
    }
    None
}

/// Seconds all cores spent busy (not idle or waiting on I/O), from the `cpu` line of /proc/stat.
fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    let (idle, iowait) = (*ticks.get(3)?, *ticks.get(4)?);
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total: f64 = ticks.iter().take(8).sum();
    Some((total - idle - iowait) / 100.0)
}

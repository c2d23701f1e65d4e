//! The two ways the end-to-end tests run Raceway: `raceway up` on the embedded default with a
//! data folder of its own, and any command against the real Kafka and ClickHouse with topics and
//! a database of its own.

use std::path::{Path, PathBuf};

use raceway_bus::Topics;

use super::{as_refs, free_addr, kafka, run_raceway, unique_name, Raceway};

/// The command line of one `raceway up` on a data folder of its own; started again after a
/// kill, it finds the same data.
pub struct EmbeddedUp {
    args: Vec<String>,
    addr: String,
    log_dir: PathBuf,
}

impl EmbeddedUp {
    /// `raceway up` with its data under `dir`, plus `extra` options.
    pub fn args(dir: &Path, extra: &[&str]) -> EmbeddedUp {
        let addr = free_addr();
        let data_dir = dir.join("data").to_string_lossy().to_string();
        let mut args: Vec<String> = ["up", "--http-addr", &addr, "--data-dir", &data_dir]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        EmbeddedUp {
            args,
            addr,
            log_dir: dir.to_path_buf(),
        }
    }

    /// Its base URL.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Starts it and waits for /health; returns the process and its base URL.
    pub fn start(&self) -> (Raceway, String) {
        let mut up = Raceway::start(&as_refs(&self.args), &self.log_dir);
        let base = self.base();
        up.wait_http_ok(&format!("{base}/health"));
        (up, base)
    }
}

/// The Kafka + ClickHouse options of one isolated test: topics under a fresh prefix, a fresh
/// database (dropped when this is dropped).
pub struct KafkaClickHouse {
    args: Vec<String>,
    /// The topic prefix, ending in `-`.
    pub prefix: String,
    clickhouse: String,
    /// The ClickHouse URL the processes are given: `clickhouse` with the bench's settings.
    store_url: String,
    database: String,
    /// Whether dropping this setup keeps the database ([`KafkaClickHouse::keeping`]).
    keep: bool,
}

impl KafkaClickHouse {
    /// Options for the test broker and the ClickHouse at `clickhouse`, `partitions` per topic.
    pub fn new(label: &str, clickhouse: &str, partitions: u32) -> KafkaClickHouse {
        let database = unique_name(&format!("raceway_{label}"));
        Self::on_database(label, clickhouse, partitions, database, false)
    }

    /// [`KafkaClickHouse::new`] on the ClickHouse database `database`, which outlives it (to
    /// measure another build on the same stored data).
    pub fn keeping(label: &str, clickhouse: &str, partitions: u32, database: &str) -> Self {
        Self::on_database(label, clickhouse, partitions, database.to_string(), true)
    }

    fn on_database(
        label: &str,
        clickhouse: &str,
        partitions: u32,
        database: String,
        keep: bool,
    ) -> KafkaClickHouse {
        let prefix = format!("{}-", unique_name(label));
        let partitions = partitions.to_string();
        // ClickHouse settings for every query the processes make (the pipeline bench's
        // `RACEWAY_BENCH_CLICKHOUSE_SETTINGS=log_queries=1` fills system.query_log).
        let store_url = match std::env::var("RACEWAY_BENCH_CLICKHOUSE_SETTINGS") {
            Ok(settings) if !settings.is_empty() => format!("{clickhouse}/?{settings}"),
            _ => clickhouse.to_string(),
        };
        let args = [
            "--kafka",
            &kafka(),
            "--clickhouse",
            &store_url,
            "--database",
            &database,
            "--topic-prefix",
            &prefix,
            "--partitions",
            &partitions,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        KafkaClickHouse {
            args,
            prefix,
            clickhouse: clickhouse.to_string(),
            store_url,
            database,
            keep,
        }
    }

    /// `COMMAND... <these options>`.
    pub fn with(&self, command: &[&str]) -> Vec<String> {
        command
            .iter()
            .map(|s| s.to_string())
            .chain(self.args.iter().cloned())
            .collect()
    }

    /// Starts `raceway COMMAND... <these options>`.
    pub fn start(&self, command: &[&str], log_dir: &Path) -> Raceway {
        Raceway::start(&as_refs(&self.with(command)), log_dir)
    }

    /// Starts `raceway process --metrics-addr <free> EXTRA...` and waits for its /health;
    /// returns it and the base URL of its /metrics, /health and /ready.
    pub fn processor(&self, extra: &[&str], log_dir: &Path) -> (Raceway, String) {
        let addr = free_addr();
        let mut command = vec!["process", "--metrics-addr", &addr];
        command.extend_from_slice(extra);
        let mut process = self.start(&command, log_dir);
        let base = format!("http://{addr}");
        process.wait_http_ok(&format!("{base}/health"));
        (process, base)
    }

    /// Runs `raceway migrate` (store migrations and topics).
    pub fn migrate(&self) {
        run_raceway(&as_refs(&self.with(&["migrate"])));
    }

    /// The ClickHouse URL the processes are given, settings included.
    pub fn store_url(&self) -> &str {
        &self.store_url
    }

    /// The ClickHouse database of this setup.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The topic names under the prefix.
    pub fn topics(&self) -> Topics {
        Topics::with_prefix(&self.prefix)
    }
}

impl Drop for KafkaClickHouse {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        super::drop_database(&self.clickhouse, &self.database);
    }
}

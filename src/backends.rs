//! Opening the bus and the store a command was pointed at: Kafka and ClickHouse when given,
//! the embedded SQLite bus and store under `--data-dir` otherwise.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use raceway_bus::Topics;
use raceway_bus::{Bus, EmbeddedBus, KafkaBus};
use raceway_store::{ClickHouseStore, Lifecycle, SqliteStore, Store};

/// Findings notices the embedded bus keeps per partition: far more than a live reader that
/// keeps up lags behind, few enough that the log does not grow with every finding.
const FINDINGS_RETAINED_PER_PARTITION: u64 = 10_000;

/// Where the bus and the store are; shared by every command.
#[derive(Debug, Clone, Args)]
pub struct BackendArgs {
    /// Kafka bootstrap address (HOST:PORT). Without it, the embedded bus under --data-dir.
    #[arg(long, env = "RACEWAY_KAFKA")]
    pub kafka: Option<String>,
    /// ClickHouse HTTP URL (e.g. http://127.0.0.1:8123). Without it, the embedded SQLite store.
    #[arg(long, env = "RACEWAY_CLICKHOUSE")]
    pub clickhouse: Option<String>,
    /// ClickHouse database.
    #[arg(long, env = "RACEWAY_DATABASE", default_value = "raceway")]
    pub database: String,
    /// Prefix of every topic name (lets tests share one broker).
    #[arg(long, env = "RACEWAY_TOPIC_PREFIX", default_value = "")]
    pub topic_prefix: String,
    /// Folder of the embedded bus log and store.
    #[arg(long, env = "RACEWAY_DATA_DIR", default_value = "./raceway-data")]
    pub data_dir: PathBuf,
    /// Partitions of each topic, when `migrate` creates them.
    #[arg(long, env = "RACEWAY_PARTITIONS", default_value_t = raceway_bus::DEFAULT_PARTITIONS)]
    pub partitions: i32,
}

impl BackendArgs {
    /// The topic names under the configured prefix.
    pub fn topics(&self) -> Topics {
        Topics::with_prefix(&self.topic_prefix)
    }

    /// Kafka when `--kafka` is given, else the embedded bus.
    pub async fn open_bus(&self) -> anyhow::Result<Arc<dyn Bus>> {
        match &self.kafka {
            Some(bootstrap) => {
                Ok(Arc::new(KafkaBus::new(bootstrap).with_context(|| {
                    format!("cannot set up Kafka at {bootstrap}")
                })?))
            }
            None => {
                self.create_data_dir()?;
                let path = self.data_dir.join("bus.sqlite");
                let bus = EmbeddedBus::open(&path, self.partitions).with_context(|| {
                    format!("cannot open the embedded bus log {}", path.display())
                })?;
                // Only the live stream's tails read the findings notices: no group commit
                // would ever release them.
                bus.retain_latest(&self.topics().findings, FINDINGS_RETAINED_PER_PARTITION);
                Ok(Arc::new(bus))
            }
        }
    }

    /// Kafka only: the separate-process commands cannot share the in-process bus.
    pub async fn open_kafka_bus(&self, command: &str) -> anyhow::Result<Arc<dyn Bus>> {
        if self.kafka.is_none() {
            anyhow::bail!(
                "`raceway {command}` runs one piece of the pipeline and needs a shared bus: \
                 pass --kafka HOST:PORT (or set RACEWAY_KAFKA). On one machine, `raceway up` \
                 runs every piece in one process on the embedded bus."
            );
        }
        self.open_bus().await
    }

    /// ClickHouse when `--clickhouse` is given, else the embedded SQLite store.
    pub async fn open_store(&self) -> anyhow::Result<Arc<dyn Store>> {
        match &self.clickhouse {
            Some(url) => Ok(Arc::new(
                ClickHouseStore::connect(url, &self.database)
                    .await
                    .with_context(|| format!("cannot connect to ClickHouse at {url}"))?,
            )),
            None => {
                self.create_data_dir()?;
                let path = self.data_dir.join("store.sqlite");
                Ok(Arc::new(SqliteStore::open(&path).with_context(|| {
                    format!("cannot open the embedded store {}", path.display())
                })?))
            }
        }
    }

    /// Applies the store's migrations and creates the topics (idempotent).
    pub async fn migrate(&self, bus: &dyn Bus, store: &dyn Lifecycle) -> anyhow::Result<()> {
        store
            .migrate()
            .await
            .context("cannot apply the store's migrations")?;
        bus.create_topics(&self.topics().all(), self.partitions)
            .await
            .context("cannot create the topics")?;
        Ok(())
    }

    fn create_data_dir(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("cannot create {}", self.data_dir.display()))
    }
}

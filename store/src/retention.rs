//! Retention: dropping data older than a cutoff (`raceway prune --older-than`).
//!
//! ClickHouse drops whole day partitions (cheap, no rewrite): a day goes once all of it is older
//! than the cutoff, so up to a day more than asked is kept. SQLite deletes rows. Checkpoints and
//! model versions are state, not history, and are kept. Each backend's [`crate::RetentionStore`]
//! is in its folder (`clickhouse/retention.rs`, `sqlite/retention.rs`).

use std::collections::BTreeMap;

/// What one prune removed, per table: day partitions on ClickHouse, rows on SQLite.
pub type PruneReport = BTreeMap<String, u64>;

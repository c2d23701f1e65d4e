//! Accesses in the ClickHouse store: the row type of `accesses` (RowBinary, so field order =
//! column order; keep in sync with `migrations/clickhouse/0002_accesses.sql`), writes, and the
//! audit-trail reads.
//!
//! Each write carries a `version` (the insert time); reads keep the newest row per event id with
//! `ORDER BY ..., version DESC LIMIT 1 BY event_id`, so replays and re-analyses never show twice.

use ::clickhouse::Row;
use raceway_schemas::{Access, ActorId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use async_trait::async_trait;

use crate::clickhouse::ClickHouseStore;
use crate::filter::{self, Dialect, Value};
use crate::rows::{corrupt_access, now_version, parse_access_type, parse_held_locks};
use crate::{AccessStore, StoreError, TimeRange};

/// A row of `accesses` (one version of an access).
#[derive(Debug, Row, Serialize, Deserialize)]
struct AccessRow {
    #[serde(with = "::clickhouse::serde::uuid")]
    event_id: Uuid,
    #[serde(with = "::clickhouse::serde::uuid")]
    trace_id: Uuid,
    timestamp_ns: i64,
    environment: String,
    variable: String,
    access_type: String,
    location: String,
    value: String,
    old_value: Option<String>,
    service: String,
    instance: String,
    thread: String,
    clock_components: Vec<String>,
    clock_counters: Vec<u64>,
    trusted_clock: u8,
    lock_ids: Vec<String>,
    lock_modes: Vec<String>,
    trace_start_ns: i64,
    trace_end_ns: i64,
    version: u64,
}

/// The column list of [`AccessRow`], in order.
const ACCESS_COLUMNS: &str = "event_id, trace_id, timestamp_ns, environment, variable, \
    access_type, location, value, old_value, service, instance, thread, clock_components, \
    clock_counters, trusted_clock, lock_ids, lock_modes, trace_start_ns, trace_end_ns, version";

/// Deduplication of the selected rows: the newest version of each access, in (timestamp, id)
/// order. `toString` because ClickHouse sorts UUIDs by their internal halves, not as text.
const NEWEST_IN_ORDER: &str =
    "ORDER BY timestamp_ns, toString(event_id), version DESC LIMIT 1 BY event_id";

impl AccessRow {
    fn new(a: &Access, version: u64) -> AccessRow {
        let (clock_components, clock_counters) = a.clock.iter().cloned().unzip();
        let (lock_ids, lock_modes) = a
            .locks
            .iter()
            .map(|l| (l.lock_id.clone(), l.mode.as_str().to_string()))
            .unzip();
        AccessRow {
            event_id: a.event_id,
            trace_id: a.trace_id,
            timestamp_ns: a.timestamp_ns,
            environment: a.environment.clone(),
            variable: a.variable.clone(),
            access_type: a.access_type.as_str().to_string(),
            location: a.location.clone(),
            value: a.value.clone(),
            old_value: a.old_value.clone(),
            service: a.actor.service.clone(),
            instance: a.actor.instance.clone(),
            thread: a.actor.thread.clone(),
            clock_components,
            clock_counters,
            trusted_clock: u8::from(a.trusted_clock),
            lock_ids,
            lock_modes,
            trace_start_ns: a.trace_start_ns,
            trace_end_ns: a.trace_end_ns,
            version,
        }
    }

    fn into_access(self) -> Result<Access, StoreError> {
        let id = self.event_id.to_string();
        let mismatch = |what: &str, left: usize, right: usize| {
            corrupt_access(&id, format!("{what}: {left} names but {right} values"))
        };
        if self.clock_components.len() != self.clock_counters.len() {
            return Err(mismatch(
                "clock",
                self.clock_components.len(),
                self.clock_counters.len(),
            ));
        }
        if self.lock_ids.len() != self.lock_modes.len() {
            return Err(mismatch(
                "locks",
                self.lock_ids.len(),
                self.lock_modes.len(),
            ));
        }
        let locks = parse_held_locks(&id, self.lock_ids.into_iter().zip(&self.lock_modes))?;
        Ok(Access {
            event_id: self.event_id,
            trace_id: self.trace_id,
            timestamp_ns: self.timestamp_ns,
            environment: self.environment,
            variable: self.variable,
            access_type: parse_access_type(&id, &self.access_type)?,
            location: self.location,
            value: self.value,
            old_value: self.old_value,
            actor: ActorId {
                service: self.service,
                instance: self.instance,
                thread: self.thread,
            },
            clock: self
                .clock_components
                .into_iter()
                .zip(self.clock_counters)
                .collect(),
            trusted_clock: self.trusted_clock != 0,
            locks,
            trace_start_ns: self.trace_start_ns,
            trace_end_ns: self.trace_end_ns,
        })
    }
}

/// Decodes access rows, in order.
fn decode(rows: Vec<AccessRow>) -> Result<Vec<Access>, StoreError> {
    rows.into_iter().map(AccessRow::into_access).collect()
}

/// One INSERT, every row with the same new version.
#[async_trait]
impl AccessStore for ClickHouseStore {
    async fn insert_accesses(&self, accesses: &[Access]) -> Result<(), StoreError> {
        let version = now_version();
        let rows: Vec<AccessRow> = accesses
            .iter()
            .map(|a| AccessRow::new(a, version))
            .collect();
        self.insert_rows("accesses", rows).await
    }

    async fn variable_accesses(
        &self,
        environment: Option<&str>,
        variable: &str,
        time: TimeRange,
        limit: u32,
    ) -> Result<Vec<Access>, StoreError> {
        let filter = filter::accesses(Dialect::ClickHouse, environment, variable, time);
        let conditions = filter.sql();
        let sql = format!(
            "SELECT {ACCESS_COLUMNS} FROM accesses WHERE {conditions} {NEWEST_IN_ORDER} LIMIT ?"
        );
        let params = filter.params_with(&[Value::I64(limit.into())]);
        decode(
            self.fetch_rows("read variable accesses", &sql, &params)
                .await?,
        )
    }

    async fn trace_variable_accesses(
        &self,
        trace_id: Uuid,
        variable: &str,
    ) -> Result<Vec<Access>, StoreError> {
        let sql = format!(
            "SELECT {ACCESS_COLUMNS} FROM accesses \
             WHERE variable = ? AND trace_id = toUUID(?) {NEWEST_IN_ORDER}"
        );
        let params = [
            Value::Str(variable.into()),
            Value::Str(trace_id.to_string()),
        ];
        decode(
            self.fetch_rows("read trace accesses", &sql, &params)
                .await?,
        )
    }
}

//! Accesses in the ClickHouse store: the row type of `accesses` (RowBinary, so field order =
//! column order; keep in sync with `migrations/clickhouse/0002_accesses.sql`), writes, the
//! audit-trail reads, reads by event id and the variables list. Reads select the columns of a
//! [`StoredAccess`], decoded as SQLite's are.
//!
//! Each write carries a `version` (the insert time); reads keep the newest row per event id with
//! `ORDER BY ..., version DESC LIMIT 1 BY event_id`, so replays and re-analyses never show twice.

use ::clickhouse::Row;
use raceway_schemas::Access;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use async_trait::async_trait;

use crate::clickhouse::ClickHouseStore;
use crate::filter::{self, Dialect, Value};
use crate::rows::{corrupt_access, now_version, StoredAccess};
use crate::{AccessKey, AccessQuery, AccessStore, RecordedValues, StoreError, VariableCount};

/// A row of `accesses` (one version of an access).
#[derive(Debug, Row, Serialize)]
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

/// The columns of a [`StoredAccess`], in order: ids as text, the parallel arrays as pairs.
const STORED_ACCESS: &str = "toString(event_id) AS id, toString(trace_id), timestamp_ns, \
    environment, variable, access_type, location, value, service, instance, thread, \
    arrayMap((c, n) -> (c, n), clock_components, clock_counters), trusted_clock, \
    arrayMap((l, m) -> (l, m), lock_ids, lock_modes), trace_start_ns, trace_end_ns, old_value";

/// Deduplication of the selected rows: the newest version of each access, in (timestamp, id)
/// order (`id` is the text form: ClickHouse sorts UUIDs by their internal halves, not as text).
const NEWEST_IN_ORDER: &str = "ORDER BY timestamp_ns, id, version DESC LIMIT 1 BY event_id";

impl AccessRow {
    fn new(a: &Access, version: u64) -> AccessRow {
        let (clock_components, clock_counters) =
            a.clock.iter().map(|(c, n)| (c.to_owned(), n)).unzip();
        let (lock_ids, lock_modes) = a
            .locks
            .iter()
            .map(|l| (l.lock_id.clone(), l.mode.as_str().to_string()))
            .unzip();
        AccessRow {
            event_id: a.event_id,
            trace_id: a.trace_id,
            timestamp_ns: a.timestamp_ns,
            environment: a.environment.to_string(),
            variable: a.variable.to_string(),
            access_type: a.access_type.as_str().to_string(),
            location: a.location.to_string(),
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
}

impl ClickHouseStore {
    /// The newest version of each access matching `conditions` (with `params`), in (timestamp,
    /// id) order, then `tail` (e.g. a `LIMIT`).
    async fn read_accesses(
        &self,
        operation: &str,
        conditions: &str,
        params: &[Value],
        tail: &str,
    ) -> Result<Vec<Access>, StoreError> {
        let sql = format!(
            "SELECT {STORED_ACCESS} FROM accesses WHERE {conditions} {NEWEST_IN_ORDER} {tail}"
        );
        let rows: Vec<StoredAccess> = self.fetch_rows(operation, &sql, params).await?;
        rows.into_iter().map(StoredAccess::into_access).collect()
    }
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

    async fn variable_accesses(&self, query: &AccessQuery) -> Result<Vec<Access>, StoreError> {
        let filter = filter::accesses(Dialect::ClickHouse, query);
        let params = filter.params_with(&[Value::I64(query.limit.into())]);
        self.read_accesses("read variable accesses", &filter.sql(), &params, "LIMIT ?")
            .await
    }

    async fn recorded_values(&self, keys: &[AccessKey]) -> Result<Vec<RecordedValues>, StoreError> {
        let Some(filter) = filter::event_accesses(keys) else {
            return Ok(Vec::new());
        };
        // The values alone: the granules the keys fall in are decompressed column by column,
        // and the clocks, lock sets and names were most of it (a page of 50 races at 1M events
        // stored: 9.8 MB and 16-20 ms of ClickHouse CPU for whole accesses, 2.5 MB and 7.5 ms
        // for these three columns).
        let sql = format!(
            "SELECT toString(event_id) AS id, value, old_value FROM accesses WHERE {} \
             ORDER BY event_id, version DESC LIMIT 1 BY event_id",
            filter.sql()
        );
        let rows: Vec<ValuesRow> = self
            .fetch_rows("read recorded values", &sql, filter.params())
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok(RecordedValues {
                    event_id: Uuid::parse_str(&row.id)
                        .map_err(|e| corrupt_access(&row.id, e.to_string()))?,
                    value: row.value,
                    old_value: row.old_value,
                })
            })
            .collect()
    }

    async fn trace_variable_accesses(
        &self,
        trace_id: Uuid,
        variable: &str,
    ) -> Result<Vec<Access>, StoreError> {
        let params = [
            Value::Str(variable.into()),
            Value::Str(trace_id.to_string()),
        ];
        let conditions = "variable = ? AND trace_id = toUUID(?)";
        self.read_accesses("read trace accesses", conditions, &params, "")
            .await
    }

    async fn variables(
        &self,
        prefix: &str,
        environments: &[String],
        limit: u32,
    ) -> Result<Vec<VariableCount>, StoreError> {
        let filter = filter::variables(Dialect::ClickHouse, prefix, environments);
        let sql = format!(
            "SELECT variable AS name, toUInt64(uniqExact(event_id)) AS access_count \
             FROM accesses WHERE {} GROUP BY name ORDER BY name LIMIT ?",
            filter.sql()
        );
        let params = filter.params_with(&[Value::I64(limit.into())]);
        let rows: Vec<VariableRow> = self.fetch_rows("read variables", &sql, &params).await?;
        Ok(rows
            .into_iter()
            .map(|r| VariableCount {
                name: r.name,
                access_count: r.access_count,
            })
            .collect())
    }
}

/// A row of the recorded values query.
#[derive(Debug, Row, Deserialize)]
struct ValuesRow {
    id: String,
    value: String,
    old_value: Option<String>,
}

/// A row of the variables query.
#[derive(Debug, Row, Deserialize)]
struct VariableRow {
    name: String,
    access_count: u64,
}

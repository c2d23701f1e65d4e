//! Services in the ClickHouse store: per-service counts, one row per trace of a service, and
//! the hotspots, each from a few grouped queries merged by `crate::services`.
//!
//! Counts are distinct ids (`uniqExact`) over the newest version of each finding and the latest
//! analysis of each trace ([`LATEST`]), so unmerged duplicates never double a count.

use ::clickhouse::Row;
use async_trait::async_trait;
use serde::Deserialize;
use uuid::Uuid;

use crate::clickhouse::analyses::LATEST;
use crate::clickhouse::findings::newest_matching;
use crate::clickhouse::ClickHouseStore;
use crate::filter::{Dialect, Value};
use crate::services::{finding_sides, merge_service_counts, rank_locations, rank_variables};
use crate::{
    Hotspots, ServiceCounts, ServiceStore, ServiceTraceRow, ServiceTracesQuery, ServiceWindow,
    StoreError,
};

#[derive(Debug, Row, Deserialize)]
struct ServiceEventsRow {
    service: String,
    traces: u64,
    events: u64,
}

#[derive(Debug, Row, Deserialize)]
struct ServiceCountRow {
    service: String,
    count: u64,
}

#[derive(Debug, Row, Deserialize)]
struct TraceRow {
    trace_key: String,
    first_ns: i64,
    last_ns: i64,
    event_count: u64,
    error_count: u64,
    anomaly_count: u64,
}

#[derive(Debug, Row, Deserialize)]
struct VariableRow {
    environment: String,
    variable: String,
    kind: String,
    count: u64,
}

#[derive(Debug, Row, Deserialize)]
struct LocationRow {
    service: String,
    location: String,
    count: u64,
}

fn locations(rows: Vec<LocationRow>) -> Vec<(String, String, u64)> {
    rows.into_iter()
        .map(|r| (r.service, r.location, r.count))
        .collect()
}

fn service_groups(rows: Vec<ServiceCountRow>) -> Vec<(String, u64)> {
    rows.into_iter().map(|r| (r.service, r.count)).collect()
}

#[async_trait]
impl ServiceStore for ClickHouseStore {
    async fn service_counts(
        &self,
        window: &ServiceWindow,
    ) -> Result<Vec<ServiceCounts>, StoreError> {
        let events = window.events(Dialect::ClickHouse, None);
        let sql = format!(
            "SELECT service, toUInt64(uniqExact(trace_id)), toUInt64(uniqExact(id)) \
             FROM events WHERE {} GROUP BY service",
            events.sql()
        );
        let event_rows: Vec<ServiceEventsRow> = self
            .fetch_rows("count service events", &sql, events.params())
            .await?;
        let (sides, side_params) = finding_sides(&newest_matching(&window.findings()));
        let sql =
            format!("SELECT service, toUInt64(uniqExact(id)) FROM ({sides}) GROUP BY service");
        let finding_rows: Vec<ServiceCountRow> = self
            .fetch_rows("count service findings", &sql, &side_params)
            .await?;
        let anomalies = window.anomalies(Dialect::ClickHouse).condition(LATEST);
        let sql = format!(
            "SELECT service, toUInt64(uniqExact(id)) FROM duration_anomalies WHERE {} \
             GROUP BY service",
            anomalies.sql()
        );
        let anomaly_rows: Vec<ServiceCountRow> = self
            .fetch_rows("count service anomalies", &sql, anomalies.params())
            .await?;
        Ok(merge_service_counts(
            event_rows
                .into_iter()
                .map(|r| (r.service, r.traces, r.events))
                .collect(),
            service_groups(finding_rows),
            service_groups(anomaly_rows),
        ))
    }

    async fn service_traces(
        &self,
        query: &ServiceTracesQuery,
    ) -> Result<Vec<ServiceTraceRow>, StoreError> {
        let events = query
            .window
            .events(Dialect::ClickHouse, Some(&query.service));
        let sql = format!(
            "SELECT trace_key, first_ns, last_ns, event_count, error_count, anomaly_count \
             FROM ( \
                 SELECT toString(trace_id) AS trace_key, min(timestamp_ns) AS first_ns, \
                        max(timestamp_ns) AS last_ns, toUInt64(uniqExact(id)) AS event_count, \
                        toUInt64(uniqExactIf(id, kind = 'Error')) AS error_count \
                 FROM events WHERE {} GROUP BY trace_key \
             ) ANY LEFT JOIN ( \
                 SELECT trace_id AS trace_key, toUInt64(uniqExact(id)) AS anomaly_count \
                 FROM duration_anomalies WHERE service = ? AND {LATEST} GROUP BY trace_key \
             ) USING trace_key \
             ORDER BY first_ns DESC, trace_key LIMIT ?",
            events.sql()
        );
        let params = events.params_with(&[
            Value::Str(query.service.clone()),
            Value::I64(query.limit.into()),
        ]);
        let rows: Vec<TraceRow> = self
            .fetch_rows("read service traces", &sql, &params)
            .await?;
        rows.into_iter()
            .map(|r| {
                Ok(ServiceTraceRow {
                    trace_id: Uuid::parse_str(&r.trace_key).map_err(|e| StoreError::Corrupt {
                        what: "trace",
                        id: r.trace_key.clone(),
                        message: e.to_string(),
                    })?,
                    first_ns: r.first_ns,
                    last_ns: r.last_ns,
                    event_count: r.event_count,
                    error_count: r.error_count,
                    anomaly_count: r.anomaly_count,
                })
            })
            .collect()
    }

    async fn hotspots(&self, window: &ServiceWindow, limit: u32) -> Result<Hotspots, StoreError> {
        let findings = newest_matching(&window.findings());
        let sql = format!(
            "SELECT environment, variable, kind, toUInt64(uniqExact(id)) FROM findings \
             WHERE {} AND variable != '' GROUP BY environment, variable, kind",
            findings.sql()
        );
        let variable_rows: Vec<VariableRow> = self
            .fetch_rows("rank hotspot variables", &sql, findings.params())
            .await?;
        let (sides, side_params) = finding_sides(&findings);
        let sql = format!(
            "SELECT service, location, toUInt64(uniqExact(id)) FROM ({sides}) \
             WHERE location != '' GROUP BY service, location"
        );
        let finding_rows: Vec<LocationRow> = self
            .fetch_rows("rank hotspot finding locations", &sql, &side_params)
            .await?;
        let anomalies = window.anomalies(Dialect::ClickHouse).condition(LATEST);
        let sql = format!(
            "SELECT service, location, toUInt64(uniqExact(id)) FROM duration_anomalies \
             WHERE {} AND location != '' GROUP BY service, location",
            anomalies.sql()
        );
        let anomaly_rows: Vec<LocationRow> = self
            .fetch_rows("rank hotspot anomaly locations", &sql, anomalies.params())
            .await?;
        let variables = variable_rows
            .into_iter()
            .map(|r| (r.environment, r.variable, r.kind, r.count))
            .collect();
        Ok(Hotspots {
            variables: rank_variables(variables, limit),
            locations: rank_locations(locations(finding_rows), locations(anomaly_rows), limit),
        })
    }
}

//! Services in the SQLite store: per-service counts, one row per trace of a service, and the
//! hotspots, each from a few grouped queries merged by `crate::services`.

use async_trait::async_trait;
use rusqlite::{params_from_iter, Connection};
use uuid::Uuid;

use crate::filter::{self, Dialect, Filter};
use crate::services::{merge_service_counts, rank_locations, rank_variables};
use crate::sqlite::findings::matching;
use crate::sqlite::{query_decoded, read_columns, SqliteStore};
use crate::{
    AnomalyQuery, FindingQuery, Hotspots, ServiceCounts, ServiceStore, ServiceTraceRow, StoreError,
    TimeRange,
};

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The newest, not retracted findings whose events span a time overlapping `time`.
fn findings_within(time: TimeRange, environments: &[String]) -> Filter {
    matching(&FindingQuery {
        environments: environments.to_vec(),
        from_ns: time.from_ns,
        to_ns: time.to_ns,
        ..FindingQuery::default()
    })
}

/// The anomalies of traces' latest analyses, traces started within `time`.
fn anomalies_within(time: TimeRange, environments: &[String]) -> Filter {
    filter::anomalies(
        Dialect::Sqlite,
        &AnomalyQuery {
            environments: environments.to_vec(),
            from_ns: time.from_ns,
            to_ns: time.to_ns,
            ..AnomalyQuery::default()
        },
    )
}

/// Both sides of each finding of `filter` as rows `(id, service, location)`: the filter's
/// values are bound twice, once per side.
fn finding_sides(filter: &Filter) -> (String, Vec<crate::filter::Value>) {
    let conditions = filter.sql();
    let sql = format!(
        "SELECT id, first_service AS service, first_location AS location FROM findings \
         WHERE {conditions} \
         UNION ALL SELECT id, second_service, second_location FROM findings WHERE {conditions}"
    );
    (sql, filter.params_with(filter.params()))
}

fn service_counts_blocking(
    conn: &Connection,
    time: TimeRange,
    environments: &[String],
) -> Result<Vec<ServiceCounts>, StoreError> {
    let events = filter::service_events(Dialect::Sqlite, None, time, environments);
    let event_groups = query_decoded(
        conn,
        "count service events",
        &format!(
            "SELECT service, COUNT(DISTINCT trace_id), COUNT(*) FROM events WHERE {} \
             GROUP BY service",
            events.sql()
        ),
        params_from_iter(events.params()),
        read_columns::<(String, i64, i64)>,
        |(service, traces, events)| Ok((service, count(traces), count(events))),
    )?;
    let (sides, side_params) = finding_sides(&findings_within(time, environments));
    let finding_groups = query_decoded(
        conn,
        "count service findings",
        &format!("SELECT service, COUNT(DISTINCT id) FROM ({sides}) GROUP BY service"),
        params_from_iter(side_params),
        read_columns::<(String, i64)>,
        |(service, n)| Ok((service, count(n))),
    )?;
    let anomalies = anomalies_within(time, environments);
    let anomaly_groups = query_decoded(
        conn,
        "count service anomalies",
        &format!(
            "SELECT service, COUNT(*) FROM duration_anomalies WHERE {} GROUP BY service",
            anomalies.sql()
        ),
        params_from_iter(anomalies.params()),
        read_columns::<(String, i64)>,
        |(service, n)| Ok((service, count(n))),
    )?;
    Ok(merge_service_counts(
        event_groups,
        finding_groups,
        anomaly_groups,
    ))
}

type TraceColumns = (String, i64, i64, i64, i64, i64);

fn into_trace_row(
    (trace_id, first_ns, last_ns, events, errors, anomalies): TraceColumns,
) -> Result<ServiceTraceRow, StoreError> {
    Ok(ServiceTraceRow {
        trace_id: Uuid::parse_str(&trace_id).map_err(|e| StoreError::Corrupt {
            what: "trace",
            id: trace_id.clone(),
            message: e.to_string(),
        })?,
        first_ns,
        last_ns,
        event_count: count(events),
        error_count: count(errors),
        anomaly_count: count(anomalies),
    })
}

fn service_traces_blocking(
    conn: &Connection,
    service: &str,
    time: TimeRange,
    environments: &[String],
    limit: u32,
) -> Result<Vec<ServiceTraceRow>, StoreError> {
    let events = filter::service_events(Dialect::Sqlite, Some(service), time, environments);
    let sql = format!(
        "SELECT e.trace_id, MIN(e.timestamp_ns) AS first_ns, MAX(e.timestamp_ns), COUNT(*), \
                SUM(e.kind = 'Error'), \
                (SELECT COUNT(*) FROM duration_anomalies a \
                 WHERE a.trace_id = e.trace_id AND a.service = e.service) \
         FROM events e WHERE {} GROUP BY e.trace_id ORDER BY first_ns DESC, e.trace_id LIMIT ?",
        events.sql()
    );
    let params = events.params_with(&[crate::filter::Value::I64(limit.into())]);
    query_decoded(
        conn,
        "read service traces",
        &sql,
        params_from_iter(params),
        read_columns::<TraceColumns>,
        into_trace_row,
    )
}

fn hotspots_blocking(
    conn: &Connection,
    time: TimeRange,
    environments: &[String],
    limit: u32,
) -> Result<Hotspots, StoreError> {
    let findings = findings_within(time, environments);
    let variable_groups = query_decoded(
        conn,
        "rank hotspot variables",
        &format!(
            "SELECT environment, variable, kind, COUNT(*) FROM findings \
             WHERE {} AND variable <> '' GROUP BY environment, variable, kind",
            findings.sql()
        ),
        params_from_iter(findings.params()),
        read_columns::<(String, String, String, i64)>,
        |(environment, variable, kind, n)| Ok((environment, variable, kind, count(n))),
    )?;
    let (sides, side_params) = finding_sides(&findings);
    let finding_locations = query_decoded(
        conn,
        "rank hotspot finding locations",
        &format!(
            "SELECT service, location, COUNT(DISTINCT id) FROM ({sides}) \
             WHERE location <> '' GROUP BY service, location"
        ),
        params_from_iter(side_params),
        read_columns::<(String, String, i64)>,
        |(service, location, n)| Ok((service, location, count(n))),
    )?;
    let anomalies = anomalies_within(time, environments);
    let anomaly_locations = query_decoded(
        conn,
        "rank hotspot anomaly locations",
        &format!(
            "SELECT service, location, COUNT(*) FROM duration_anomalies \
             WHERE {} AND location <> '' GROUP BY service, location",
            anomalies.sql()
        ),
        params_from_iter(anomalies.params()),
        read_columns::<(String, String, i64)>,
        |(service, location, n)| Ok((service, location, count(n))),
    )?;
    Ok(Hotspots {
        variables: rank_variables(variable_groups, limit),
        locations: rank_locations(finding_locations, anomaly_locations, limit),
    })
}

#[async_trait]
impl ServiceStore for SqliteStore {
    async fn service_counts(
        &self,
        time: TimeRange,
        environments: &[String],
    ) -> Result<Vec<ServiceCounts>, StoreError> {
        let environments = environments.to_vec();
        self.call(move |conn| service_counts_blocking(conn, time, &environments))
            .await
    }

    async fn service_traces(
        &self,
        service: &str,
        time: TimeRange,
        environments: &[String],
        limit: u32,
    ) -> Result<Vec<ServiceTraceRow>, StoreError> {
        let (service, environments) = (service.to_string(), environments.to_vec());
        self.call(move |conn| service_traces_blocking(conn, &service, time, &environments, limit))
            .await
    }

    async fn hotspots(
        &self,
        time: TimeRange,
        environments: &[String],
        limit: u32,
    ) -> Result<Hotspots, StoreError> {
        let environments = environments.to_vec();
        self.call(move |conn| hotspots_blocking(conn, time, &environments, limit))
            .await
    }
}

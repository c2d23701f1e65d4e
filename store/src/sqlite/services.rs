//! Services in the SQLite store: per-service counts, one row per trace of a service, and the
//! hotspots, each from a few grouped queries merged by `crate::services`.

use async_trait::async_trait;
use rusqlite::{params_from_iter, Connection};
use uuid::Uuid;

use crate::filter::{Dialect, Filter, Value};
use crate::services::{finding_sides, merge_service_counts, rank_locations, rank_variables};
use crate::sqlite::findings::matching;
use crate::sqlite::{query_decoded, read_columns, SqliteStore};
use crate::{
    Hotspots, ServiceCounts, ServiceStore, ServiceTraceRow, ServiceTracesQuery, ServiceWindow,
    StoreError,
};

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// `(group, count)` rows of `sql` bound to `params`.
fn groups(
    conn: &Connection,
    operation: &str,
    sql: &str,
    params: &[Value],
) -> Result<Vec<(String, u64)>, StoreError> {
    let decode = |(group, n): (String, i64)| Ok((group, count(n)));
    query_decoded(
        conn,
        operation,
        sql,
        params_from_iter(params),
        read_columns::<(String, i64)>,
        decode,
    )
}

/// `(service, location, count)` rows of `sql` bound to `params`.
fn located(
    conn: &Connection,
    operation: &str,
    sql: &str,
    params: &[Value],
) -> Result<Vec<(String, String, u64)>, StoreError> {
    let decode = |(service, location, n): (String, String, i64)| Ok((service, location, count(n)));
    query_decoded(
        conn,
        operation,
        sql,
        params_from_iter(params),
        read_columns::<(String, String, i64)>,
        decode,
    )
}

fn service_counts_blocking(
    conn: &Connection,
    window: &ServiceWindow,
) -> Result<Vec<ServiceCounts>, StoreError> {
    let events = window.events(Dialect::Sqlite, None);
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
    let (sides, side_params) = finding_sides(&matching(&window.findings()));
    let sql = format!("SELECT service, COUNT(DISTINCT id) FROM ({sides}) GROUP BY service");
    let finding_groups = groups(conn, "count service findings", &sql, &side_params)?;
    let anomalies = window.anomalies(Dialect::Sqlite);
    let sql = format!(
        "SELECT service, COUNT(*) FROM duration_anomalies WHERE {} GROUP BY service",
        anomalies.sql()
    );
    let anomaly_groups = groups(conn, "count service anomalies", &sql, anomalies.params())?;
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
    query: &ServiceTracesQuery,
) -> Result<Vec<ServiceTraceRow>, StoreError> {
    let events = query.window.events(Dialect::Sqlite, Some(&query.service));
    let sql = format!(
        "SELECT e.trace_id, MIN(e.timestamp_ns) AS first_ns, MAX(e.timestamp_ns), COUNT(*), \
                SUM(e.kind = 'Error'), \
                (SELECT COUNT(*) FROM duration_anomalies a \
                 WHERE a.trace_id = e.trace_id AND a.service = e.service) \
         FROM events e WHERE {} GROUP BY e.trace_id ORDER BY first_ns DESC, e.trace_id LIMIT ?",
        events.sql()
    );
    let params = events.params_with(&[Value::I64(query.limit.into())]);
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
    window: &ServiceWindow,
    limit: u32,
) -> Result<Hotspots, StoreError> {
    let findings: Filter = matching(&window.findings());
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
    let sql = format!(
        "SELECT service, location, COUNT(DISTINCT id) FROM ({sides}) \
         WHERE location <> '' GROUP BY service, location"
    );
    let finding_locations = located(conn, "rank finding locations", &sql, &side_params)?;
    let anomalies = window.anomalies(Dialect::Sqlite);
    let sql = format!(
        "SELECT service, location, COUNT(*) FROM duration_anomalies \
         WHERE {} AND location <> '' GROUP BY service, location",
        anomalies.sql()
    );
    let anomaly_locations = located(conn, "rank anomaly locations", &sql, anomalies.params())?;
    Ok(Hotspots {
        variables: rank_variables(variable_groups, limit),
        locations: rank_locations(finding_locations, anomaly_locations, limit),
    })
}

#[async_trait]
impl ServiceStore for SqliteStore {
    async fn service_counts(
        &self,
        window: &ServiceWindow,
    ) -> Result<Vec<ServiceCounts>, StoreError> {
        let window = window.clone();
        let count = move |conn: &Connection| service_counts_blocking(conn, &window);
        self.read(count).await
    }

    async fn service_traces(
        &self,
        query: &ServiceTracesQuery,
    ) -> Result<Vec<ServiceTraceRow>, StoreError> {
        let query = query.clone();
        self.read(move |conn| service_traces_blocking(conn, &query))
            .await
    }

    async fn hotspots(&self, window: &ServiceWindow, limit: u32) -> Result<Hotspots, StoreError> {
        let window = window.clone();
        self.read(move |conn| hotspots_blocking(conn, &window, limit))
            .await
    }
}

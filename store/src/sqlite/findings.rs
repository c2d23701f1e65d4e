//! Findings in the SQLite store: upsert keeping the newest version, reads by trace and by
//! variable, and the filtered, paginated list.

use raceway_schemas::{FindingEvent, RaceFinding};
use rusqlite::{named_params, params, Connection, Row};
use uuid::Uuid;

use crate::rows::{normalize_trace_id, parse_kind_severity, severity_rank, sort_findings};
use crate::sqlite::query_decoded;
use crate::{FindingPage, FindingQuery, StoreError};

const FINDING_COLUMNS: &str = "id, kind, environment, variable, severity, severity_rank, \
    occurrences, explanation, \
    first_event_id, first_trace_id, first_thread_id, first_service, first_instance, \
    first_location, first_access_type, first_timestamp_ns, first_clock, \
    second_event_id, second_trace_id, second_thread_id, second_service, second_instance, \
    second_location, second_access_type, second_timestamp_ns, second_clock, detected_at_ns";

fn upsert_sql() -> String {
    let columns: Vec<&str> = FINDING_COLUMNS.split(',').map(str::trim).collect();
    let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
    let updates: Vec<String> = columns
        .iter()
        .filter(|c| **c != "id")
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO findings ({}) VALUES ({}) ON CONFLICT(id) DO UPDATE SET {} \
         WHERE excluded.detected_at_ns > findings.detected_at_ns",
        columns.join(", "),
        placeholders.join(", "),
        updates.join(", ")
    )
}

fn clock_json(clock: &[(String, u64)]) -> String {
    serde_json::Value::from(
        clock
            .iter()
            .map(|(c, n)| serde_json::json!([c, n]))
            .collect::<Vec<_>>(),
    )
    .to_string()
}

pub(crate) fn upsert_findings_blocking(
    conn: &mut Connection,
    findings: &[RaceFinding],
) -> Result<(), StoreError> {
    let failed = |e| StoreError::sqlite("upsert findings", e);
    let tx = conn.transaction().map_err(failed)?;
    {
        let mut stmt = tx.prepare_cached(&upsert_sql()).map_err(failed)?;
        for f in findings {
            let (a, b) = (&f.first, &f.second);
            stmt.execute(params![
                f.id,
                f.kind.as_str(),
                f.environment,
                f.variable,
                f.severity.as_str(),
                severity_rank(f.severity),
                i64::try_from(f.count).unwrap_or(i64::MAX),
                f.explanation,
                a.event_id,
                normalize_trace_id(&a.trace_id),
                a.thread_id,
                a.service,
                a.instance,
                a.location,
                a.access_type,
                a.timestamp_ns,
                clock_json(&a.clock),
                b.event_id,
                normalize_trace_id(&b.trace_id),
                b.thread_id,
                b.service,
                b.instance,
                b.location,
                b.access_type,
                b.timestamp_ns,
                clock_json(&b.clock),
                f.detected_at_ns,
            ])
            .map_err(failed)?;
        }
    }
    tx.commit().map_err(failed)
}

fn finding_event(row: &Row<'_>, at: usize) -> rusqlite::Result<(FindingEvent, String)> {
    Ok((
        FindingEvent {
            event_id: row.get(at)?,
            trace_id: row.get(at + 1)?,
            thread_id: row.get(at + 2)?,
            service: row.get(at + 3)?,
            instance: row.get(at + 4)?,
            location: row.get(at + 5)?,
            access_type: row.get(at + 6)?,
            timestamp_ns: row.get(at + 7)?,
            clock: Vec::new(),
        },
        row.get(at + 8)?,
    ))
}

/// The columns of a finding row, before its kind, severity and clocks are parsed.
type RawFinding = (
    String,
    String,
    String,
    String,
    String,
    i64,
    String,
    (FindingEvent, String),
    (FindingEvent, String),
    i64,
);

fn read_finding(row: &Row<'_>) -> rusqlite::Result<RawFinding> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(6)?,
        row.get(7)?,
        finding_event(row, 8)?,
        finding_event(row, 17)?,
        row.get(26)?,
    ))
}

fn into_finding(raw: RawFinding) -> Result<RaceFinding, StoreError> {
    let (id, kind, environment, variable, severity, count, explanation, first, second, at) = raw;
    let (kind, severity) = parse_kind_severity(&id, &kind, &severity)?;
    let clock = |text: &str| -> Result<Vec<(String, u64)>, StoreError> {
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
            what: "finding",
            id: id.clone(),
            message: format!("clock is not a JSON list of [component, counter]: {e}"),
        })
    };
    let (mut first, first_clock) = first;
    let (mut second, second_clock) = second;
    first.clock = clock(&first_clock)?;
    second.clock = clock(&second_clock)?;
    Ok(RaceFinding {
        id,
        kind,
        environment,
        variable,
        severity,
        count: u64::try_from(count).unwrap_or(0),
        explanation,
        first,
        second,
        detected_at_ns: at,
    })
}

/// Runs a `SELECT {FINDING_COLUMNS} ...` and decodes its rows, in the query's order.
fn query_findings<P: rusqlite::Params>(
    conn: &Connection,
    operation: &str,
    sql: &str,
    params: P,
) -> Result<Vec<RaceFinding>, StoreError> {
    query_decoded(conn, operation, sql, params, read_finding, into_finding)
}

pub(crate) fn trace_findings_blocking(
    conn: &Connection,
    trace_id: Uuid,
) -> Result<Vec<RaceFinding>, StoreError> {
    let sql = format!(
        "SELECT {FINDING_COLUMNS} FROM findings WHERE first_trace_id = ?1 AND occurrences > 0 \
         UNION SELECT {FINDING_COLUMNS} FROM findings WHERE second_trace_id = ?1 \
         AND occurrences > 0"
    );
    let mut findings = query_findings(conn, "read trace findings", &sql, [trace_id.to_string()])?;
    sort_findings(&mut findings);
    Ok(findings)
}

pub(crate) fn findings_for_variable_blocking(
    conn: &Connection,
    environment: Option<&str>,
    variable: &str,
) -> Result<Vec<RaceFinding>, StoreError> {
    let sql = format!(
        "SELECT {FINDING_COLUMNS} FROM findings WHERE variable = :variable \
         AND (:environment IS NULL OR environment = :environment) AND occurrences > 0"
    );
    let mut findings = query_findings(
        conn,
        "read variable findings",
        &sql,
        named_params! { ":variable": variable, ":environment": environment },
    )?;
    sort_findings(&mut findings);
    Ok(findings)
}

/// The filters of [`FindingQuery`]; a NULL parameter disables its filter. One row per finding
/// (the primary key), already its newest version.
const FINDING_FILTERS: &str = "
WHERE occurrences > 0
  AND (:kind IS NULL OR kind = :kind)
  AND (:environment IS NULL OR environment = :environment)
  AND (:variable IS NULL OR variable = :variable)
  AND (:service IS NULL OR first_service = :service OR second_service = :service)
  AND (:severity IS NULL OR severity = :severity)
  AND (:from_ns IS NULL OR MAX(first_timestamp_ns, second_timestamp_ns) >= :from_ns)
  AND (:to_ns IS NULL OR MIN(first_timestamp_ns, second_timestamp_ns) <= :to_ns)";

pub(crate) fn list_findings_blocking(
    conn: &Connection,
    query: &FindingQuery,
) -> Result<FindingPage, StoreError> {
    let kind = query.kind.map(|k| k.as_str());
    let severity = query.severity.map(|s| s.as_str());
    let page_sql = format!(
        "SELECT {FINDING_COLUMNS} FROM findings {FINDING_FILTERS} \
         ORDER BY MAX(first_timestamp_ns, second_timestamp_ns) DESC, id \
         LIMIT :limit OFFSET :offset"
    );
    let findings = query_findings(
        conn,
        "list findings",
        &page_sql,
        named_params! {
            ":kind": kind,
            ":environment": query.environment,
            ":variable": query.variable,
            ":service": query.service,
            ":severity": severity,
            ":from_ns": query.from_ns,
            ":to_ns": query.to_ns,
            ":limit": query.limit,
            ":offset": query.offset,
        },
    )?;
    let failed = |e| StoreError::sqlite("count findings", e);
    let total: i64 = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM findings {FINDING_FILTERS}"))
        .map_err(failed)?
        .query_row(
            named_params! {
                ":kind": kind,
                ":environment": query.environment,
                ":variable": query.variable,
                ":service": query.service,
                ":severity": severity,
                ":from_ns": query.from_ns,
                ":to_ns": query.to_ns,
            },
            |row| row.get(0),
        )
        .map_err(failed)?;
    Ok(FindingPage {
        findings,
        total: u64::try_from(total).unwrap_or(0),
    })
}

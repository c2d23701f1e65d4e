//! Findings in the SQLite store: upsert keeping the newest version, reads by trace and by
//! variable, and the filtered, paginated list.

use async_trait::async_trait;
use raceway_schemas::{FindingEvent, RaceFinding};
use rusqlite::{params, Connection, Row};
use uuid::Uuid;

use crate::filter::{self, Dialect, Filter};
use crate::rows::{normalize_trace_id, parse_kind_severity, severity_rank, sort_findings};
use crate::sqlite::{query_decoded, query_page, SqliteStore};
use crate::{FindingPage, FindingQuery, FindingStore, StoreError};

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

fn upsert_findings_blocking(
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
            old_value: None,
            new_value: None,
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

/// The findings matching `query`; one row per finding (the primary key), already its newest
/// version.
pub(crate) fn matching(query: &FindingQuery) -> Filter {
    let (identity, rest) = filter::findings(Dialect::Sqlite, query);
    Filter::new(Dialect::Sqlite)
        .condition("occurrences > 0")
        .and(&identity)
        .and(&rest)
}

/// The race list's rows matching `conditions`, newest first by the later of the two events,
/// then by id (a stable order for paging). The index `findings_newest_first` (migration 7) holds
/// exactly this expression, so a page reads its rows in order instead of sorting every finding.
#[cfg(test)]
pub(crate) fn list_sql(conditions: &str) -> String {
    format!("{} ORDER BY {LIST_ORDER}", list_select(conditions))
}

/// The race list's order, newest first: the expression of the index `findings_newest_first`.
const LIST_ORDER: &str = "MAX(first_timestamp_ns, second_timestamp_ns) DESC, id";

/// The race list's rows matching `conditions`, unordered.
fn list_select(conditions: &str) -> String {
    format!("SELECT {FINDING_COLUMNS} FROM findings WHERE {conditions}")
}

#[async_trait]
impl FindingStore for SqliteStore {
    async fn upsert_findings(&self, findings: &[RaceFinding]) -> Result<(), StoreError> {
        self.write_rows(findings, upsert_findings_blocking).await
    }

    async fn trace_findings(&self, trace_id: Uuid) -> Result<Vec<RaceFinding>, StoreError> {
        self.read(move |conn| {
            let sql = format!(
                "SELECT {FINDING_COLUMNS} FROM findings \
                 WHERE first_trace_id = ?1 AND occurrences > 0 \
                 UNION SELECT {FINDING_COLUMNS} FROM findings \
                 WHERE second_trace_id = ?1 AND occurrences > 0"
            );
            let mut findings =
                query_findings(conn, "read trace findings", &sql, [trace_id.to_string()])?;
            sort_findings(&mut findings);
            Ok(findings)
        })
        .await
    }

    async fn list_findings(&self, query: &FindingQuery) -> Result<FindingPage, StoreError> {
        let query = query.clone();
        self.read(move |conn| {
            let filter = matching(&query);
            let conditions = filter.sql();
            let select_sql = list_select(&conditions);
            let page = (query.limit, query.offset);
            let (findings, total) = query_page(
                conn,
                "findings",
                (&select_sql, LIST_ORDER),
                &filter,
                page,
                read_finding,
                into_finding,
            )?;
            Ok(FindingPage { findings, total })
        })
        .await
    }
}

//! Finding reads of the ClickHouse store beyond one trace: the filtered, paginated list and the
//! findings of one variable.
//!
//! Every read first narrows `findings` to the newest version of each id (`(id, version) IN
//! (SELECT id, max(version) ...)`), then filters those rows, so a filter never matches an
//! outdated version; `LIMIT 1 BY id` drops exact duplicates (one version inserted twice).

use raceway_schemas::RaceFinding;

use crate::clickhouse::{bind_all, ClickHouseStore, Param};
use crate::clickhouse::rows::{FindingRow, FINDING_COLUMNS};
use crate::rows::{sort_findings, sort_findings_newest_first};
use crate::{FindingPage, FindingQuery, StoreError};

/// `(fixed, rest)`: the conditions on columns that are part of a finding's identity (kind,
/// environment, variable: the same in every version, so they can also narrow the newest-version
/// subquery), and the conditions on the others; each with its values in order.
fn filters(query: &FindingQuery) -> ((String, Vec<Param>), (String, Vec<Param>)) {
    let mut fixed = (String::new(), Vec::new());
    let mut rest = (String::new(), Vec::new());
    fn add(part: &mut (String, Vec<Param>), sql: &str, values: Vec<Param>) {
        part.0.push_str(" AND ");
        part.0.push_str(sql);
        part.1.extend(values);
    }
    if let Some(kind) = query.kind {
        add(
            &mut fixed,
            "kind = ?",
            vec![Param::Str(kind.as_str().into())],
        );
    }
    if let Some(environment) = &query.environment {
        add(
            &mut fixed,
            "environment = ?",
            vec![Param::Str(environment.clone())],
        );
    }
    if let Some(variable) = &query.variable {
        add(
            &mut fixed,
            "variable = ?",
            vec![Param::Str(variable.clone())],
        );
    }
    if let Some(service) = &query.service {
        add(
            &mut rest,
            "(first_service = ? OR second_service = ?)",
            vec![Param::Str(service.clone()), Param::Str(service.clone())],
        );
    }
    if let Some(severity) = query.severity {
        add(
            &mut rest,
            "severity = ?",
            vec![Param::Str(severity.as_str().into())],
        );
    }
    if let Some(from) = query.from_ns {
        add(
            &mut rest,
            "greatest(first_timestamp_ns, second_timestamp_ns) >= ?",
            vec![Param::I64(from)],
        );
    }
    if let Some(to) = query.to_ns {
        add(
            &mut rest,
            "least(first_timestamp_ns, second_timestamp_ns) <= ?",
            vec![Param::I64(to)],
        );
    }
    (fixed, rest)
}

/// `WHERE` clause selecting the newest version of each finding matching `fixed`, then `rest`;
/// and the values to bind, in order.
fn newest_matching(
    (fixed_sql, fixed_params): (String, Vec<Param>),
    (rest_sql, rest_params): (String, Vec<Param>),
) -> (String, Vec<Param>) {
    let sql = format!(
        "WHERE (id, version) IN \
             (SELECT id, max(version) FROM findings WHERE 1 = 1{fixed_sql} GROUP BY id) \
         AND occurrences > 0{fixed_sql}{rest_sql}"
    );
    let mut params = fixed_params.clone();
    params.extend(fixed_params);
    params.extend(rest_params);
    (sql, params)
}

impl ClickHouseStore {
    /// [`crate::Store::list_findings`].
    pub(crate) async fn list_findings_impl(
        &self,
        query: &FindingQuery,
    ) -> Result<FindingPage, StoreError> {
        let (fixed, rest) = filters(query);
        let (conditions, params) = newest_matching(fixed, rest);
        let page_sql = format!(
            "SELECT {FINDING_COLUMNS} FROM findings {conditions} \
             ORDER BY greatest(first_timestamp_ns, second_timestamp_ns) DESC, id \
             LIMIT 1 BY id LIMIT ?, ?"
        );
        let total_sql = format!("SELECT toUInt64(uniqExact(id)) FROM findings {conditions}");
        let (rows, total): (Vec<FindingRow>, u64) = self
            .fetch_page(
                "findings",
                &page_sql,
                &total_sql,
                &params,
                query.offset,
                query.limit,
            )
            .await?;
        let mut findings = rows
            .into_iter()
            .map(FindingRow::into_finding)
            .collect::<Result<Vec<_>, _>>()?;
        // Already in this order; sorting again makes the promise independent of the SQL.
        sort_findings_newest_first(&mut findings);
        Ok(FindingPage { findings, total })
    }

    /// [`crate::Store::findings_for_variable`].
    pub(crate) async fn findings_for_variable_impl(
        &self,
        environment: Option<&str>,
        variable: &str,
    ) -> Result<Vec<RaceFinding>, StoreError> {
        let query = FindingQuery {
            environment: environment.map(str::to_string),
            variable: Some(variable.to_string()),
            ..FindingQuery::default()
        };
        let (fixed, rest) = filters(&query);
        let (conditions, params) = newest_matching(fixed, rest);
        let sql = format!("SELECT {FINDING_COLUMNS} FROM findings {conditions} LIMIT 1 BY id");
        let rows: Vec<FindingRow> = bind_all(self.client.query(&sql), &params)
            .fetch_all()
            .await
            .map_err(self.err("read variable findings"))?;
        let mut findings = rows
            .into_iter()
            .map(FindingRow::into_finding)
            .collect::<Result<Vec<_>, _>>()?;
        sort_findings(&mut findings);
        Ok(findings)
    }
}

//! Findings in the ClickHouse store: upserts (a new version per write), reads by trace and by
//! variable, and the filtered, paginated list.
//!
//! Every read first narrows `findings` to the newest version of each id (`ORDER BY id, version
//! DESC LIMIT 1 BY id`, or `(id, version) IN (SELECT id, max(version) ...)`), then filters
//! those rows, so a filter never matches an outdated version; `LIMIT 1 BY id` also drops exact
//! duplicates (one version inserted twice).

use async_trait::async_trait;
use raceway_schemas::RaceFinding;
use uuid::Uuid;

use crate::clickhouse::rows::{FindingRow, FINDING_COLUMNS};
use crate::clickhouse::ClickHouseStore;
use crate::filter::{self, Dialect, Filter, Value};
use crate::rows::{sort_findings, sort_findings_newest_first};
use crate::{FindingPage, FindingQuery, FindingStore, StoreError};

/// The newest version of each finding matching `query`: its identity conditions narrow the
/// newest-version subquery too (they are the same in every version), the others apply to the
/// newest version only, so a filter never matches an outdated version.
pub(crate) fn newest_matching(query: &FindingQuery) -> Filter {
    let (identity, rest) = filter::findings(Dialect::ClickHouse, query);
    Filter::new(Dialect::ClickHouse)
        .condition_with(
            format!(
                "(id, version) IN (SELECT id, max(version) FROM findings WHERE {} GROUP BY id)",
                identity.sql()
            ),
            identity.params(),
        )
        .condition("occurrences > 0")
        .and(&identity)
        .and(&rest)
}

/// The race list's order: newest first (the later of a finding's two times), ties by id.
const NEWEST_FIRST: &str = "greatest(first_timestamp_ns, second_timestamp_ns) DESC, id";

/// The columns the race list's page and total need of each finding's newest version: its key,
/// whether it is retracted, and what [`filter::findings`]' non-identity conditions and the
/// order read. The page then reads every column of only its own rows (`PREWHERE (id, version)
/// IN ...`), and the total counts these alone: ClickHouse reads every column a subquery names
/// under `LIMIT 1 BY`, even those an outer query drops, so naming all of them cost the list
/// two full reads of every finding (its clocks included) per request.
const NEWEST_KEY_COLUMNS: &str = "id, version, occurrences, severity, first_service, \
     second_service, first_timestamp_ns, second_timestamp_ns";

/// Decodes finding rows.
fn decode(rows: Vec<FindingRow>) -> Result<Vec<RaceFinding>, StoreError> {
    rows.into_iter().map(FindingRow::into_finding).collect()
}

/// Decodes finding rows, in the order of [`FindingStore::trace_findings`].
fn sorted(rows: Vec<FindingRow>) -> Result<Vec<RaceFinding>, StoreError> {
    let mut findings = decode(rows)?;
    sort_findings(&mut findings);
    Ok(findings)
}

#[async_trait]
impl FindingStore for ClickHouseStore {
    async fn upsert_findings(&self, findings: &[RaceFinding]) -> Result<(), StoreError> {
        let rows: Vec<FindingRow> = findings.iter().map(FindingRow::from).collect();
        self.insert_rows("findings", rows).await
    }

    async fn trace_findings(&self, trace_id: Uuid) -> Result<Vec<RaceFinding>, StoreError> {
        // The newest version of each finding of the trace (`LIMIT 1 BY id` after ordering by
        // version; the trace ids are the same in every version of a finding), then the
        // retracted ones dropped: one pass over `findings`. The `(id, version) IN (SELECT ...
        // max(version))` form scanned it twice and built a set per request (about 30% more
        // CPU and 5x the bytes read at 21,000 findings; benches/README.md).
        let sql = format!(
            "SELECT {FINDING_COLUMNS} FROM \
             (SELECT {FINDING_COLUMNS} FROM findings \
              WHERE first_trace_id = ? OR second_trace_id = ? \
              ORDER BY id, version DESC LIMIT 1 BY id) \
             WHERE occurrences > 0"
        );
        let key = trace_id.to_string();
        let params = [Value::Str(key.clone()), Value::Str(key)];
        sorted(
            self.fetch_rows("read trace findings", &sql, &params)
                .await?,
        )
    }

    async fn list_findings(&self, query: &FindingQuery) -> Result<FindingPage, StoreError> {
        let (identity, rest) = filter::findings(Dialect::ClickHouse, query);
        // `select` of the newest version of each finding matching `query`, not retracted.
        let newest = |select: &str| {
            format!(
                "SELECT {select} FROM (SELECT {NEWEST_KEY_COLUMNS} FROM findings WHERE {} \
                 ORDER BY id, version DESC LIMIT 1 BY id) WHERE occurrences > 0 AND {}",
                identity.sql(),
                rest.sql()
            )
        };
        let params = identity.params_with(rest.params());
        let (clause, page) = Dialect::ClickHouse.page(query.limit, query.offset);
        let page_sql = format!(
            "SELECT {FINDING_COLUMNS} FROM findings PREWHERE (id, version) IN ({} \
             ORDER BY {NEWEST_FIRST} {clause}) ORDER BY {NEWEST_FIRST} LIMIT 1 BY id",
            newest("id, version")
        );
        let total_sql = newest("toUInt64(count())");
        let page_params: Vec<Value> = params.iter().chain(&page).cloned().collect();
        let (rows, total): (Vec<FindingRow>, u64) = self
            .fetch_page_counted("findings", (&page_sql, &page_params), (&total_sql, &params))
            .await?;
        let mut findings = decode(rows)?;
        // Already in this order; sorting again makes the promise independent of the SQL.
        sort_findings_newest_first(&mut findings);
        Ok(FindingPage { findings, total })
    }
}

//! One builder for the `WHERE` clauses of both backends, and the filters of each listing.
//!
//! A [`Filter`] collects conditions (`environment IN (...)`, `service = ?`, a [`TimeRange`], ...)
//! and the values to bind, in order; each backend binds them its own way (`?` on both). The
//! filters of each query ([`traces`], [`findings`], [`accesses`], [`anomalies`], [`calls`]) are
//! written once here, for both dialects, so that the backends answer the same question: written
//! per backend, the conditions drift (a bound inclusive in one and not the other) and the
//! conformance suite only catches the cases it tries. Values are always bound, never spliced.
//!
//! Environments are a set (`IN`), so that a tenant's several environments fit the same filter.
//! Rows without an environment column (trace summaries, analyses) are confined through their
//! trace: [`Filter::traces_within`] keeps the traces whose every event is in the set, so a trace
//! that strays into another tenant's environment is shown to neither tenant's confined callers
//! ([`Filter::array_within`] states the same of a summary's list of environments).

use uuid::Uuid;

use crate::{
    AccessKey, AccessQuery, AnomalyKind, AnomalyQuery, FindingQuery, TimeRange, TraceQuery,
};

/// A value bound to a `?`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Str(String),
    I64(i64),
}

/// The SQL dialect a filter is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    ClickHouse,
    Sqlite,
}

impl Dialect {
    /// `greatest(a, b)` / `least(a, b)` of two columns.
    fn extreme(self, greatest: bool, a: &str, b: &str) -> String {
        let name = match (self, greatest) {
            (Dialect::ClickHouse, true) => "greatest",
            (Dialect::ClickHouse, false) => "least",
            (Dialect::Sqlite, true) => "MAX",
            (Dialect::Sqlite, false) => "MIN",
        };
        format!("{name}({a}, {b})")
    }

    /// `column` (an array: a ClickHouse array, a JSON array in SQLite) holds the bound value.
    fn array_has(self, column: &str) -> String {
        match self {
            Dialect::ClickHouse => format!("has({column}, ?)"),
            Dialect::Sqlite => {
                format!("EXISTS (SELECT 1 FROM json_each({column}) WHERE value = ?)")
            }
        }
    }

    /// True when every element of the array `column` is one of `count` bound values.
    fn array_within(self, column: &str, count: usize) -> String {
        let marks = vec!["?"; count].join(", ");
        match self {
            Dialect::ClickHouse => format!("arrayAll(x -> has([{marks}], x), {column})"),
            Dialect::Sqlite => {
                format!(
                    "NOT EXISTS (SELECT 1 FROM json_each({column}) WHERE value NOT IN ({marks}))"
                )
            }
        }
    }

    /// The paging clause, and its values in the order of its `?`s.
    pub(crate) fn page(self, limit: u32, offset: u32) -> (&'static str, [Value; 2]) {
        let (limit, offset) = (Value::I64(limit.into()), Value::I64(offset.into()));
        match self {
            Dialect::ClickHouse => ("LIMIT ?, ?", [offset, limit]),
            Dialect::Sqlite => ("LIMIT ? OFFSET ?", [limit, offset]),
        }
    }
}

/// Conditions joined by `AND`, and the values of their `?`s in order.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    dialect: Dialect,
    conditions: Vec<String>,
    params: Vec<Value>,
}

impl Filter {
    pub(crate) fn new(dialect: Dialect) -> Filter {
        Filter {
            dialect,
            conditions: Vec::new(),
            params: Vec::new(),
        }
    }

    /// A condition without values (a constant test, or a backend's subquery).
    pub(crate) fn condition(mut self, sql: impl Into<String>) -> Filter {
        self.conditions.push(sql.into());
        self
    }

    /// A condition with its own values (a subquery built from another filter).
    pub(crate) fn condition_with(mut self, sql: impl Into<String>, values: &[Value]) -> Filter {
        self.push(sql.into(), values.iter().cloned());
        self
    }

    fn push(&mut self, sql: String, values: impl IntoIterator<Item = Value>) {
        self.conditions.push(sql);
        self.params.extend(values);
    }

    /// `column = value`, when a value is given.
    pub(crate) fn equals(mut self, column: &str, value: Option<&str>) -> Filter {
        if let Some(value) = value {
            self.push(format!("{column} = ?"), [Value::Str(value.into())]);
        }
        self
    }

    /// Any of `columns` equals `value`, when a value is given.
    pub(crate) fn equals_any(mut self, columns: &[&str], value: Option<&str>) -> Filter {
        if let Some(value) = value {
            let tests: Vec<String> = columns.iter().map(|c| format!("{c} = ?")).collect();
            let values = columns.iter().map(|_| Value::Str(value.into()));
            self.push(format!("({})", tests.join(" OR ")), values);
        }
        self
    }

    /// `column` is one of `values`; an empty set filters nothing.
    pub(crate) fn one_of<'a>(
        mut self,
        column: &str,
        values: impl IntoIterator<Item = &'a str>,
    ) -> Filter {
        let values: Vec<Value> = values.into_iter().map(|v| Value::Str(v.into())).collect();
        if !values.is_empty() {
            let marks = vec!["?"; values.len()].join(", ");
            self.push(format!("{column} IN ({marks})"), values);
        }
        self
    }

    /// The UUID `column` is one of `ids`, each bound as its text; an empty set filters nothing.
    /// ClickHouse converts the literals of an `IN` list to the column's type, so a UUID column of
    /// the sort key narrows what it reads as `toUUID(?)` per id did, and parses a plain literal
    /// at a fraction of a function call's cost (150 ids: about 2.6 ms of ClickHouse CPU less per
    /// query on 18.16). Only ClickHouse's queries use it: the SQLite store binds event ids as their
    /// 16 bytes (`sqlite/ids.rs`).
    pub(crate) fn one_of_ids(
        mut self,
        column: &str,
        ids: impl IntoIterator<Item = Uuid>,
    ) -> Filter {
        let values: Vec<Value> = ids
            .into_iter()
            .map(|id| Value::Str(id.to_string()))
            .collect();
        if !values.is_empty() {
            let marks = vec!["?"; values.len()].join(", ");
            self.push(format!("{column} IN ({marks})"), values);
        }
        self
    }

    /// The array (or JSON array) `column` holds `value`, when a value is given.
    pub(crate) fn array_has(mut self, column: &str, value: Option<&str>) -> Filter {
        if let Some(value) = value {
            let sql = self.dialect.array_has(column);
            self.push(sql, [Value::Str(value.into())]);
        }
        self
    }

    /// `column` starts with `prefix` (compared as is: no `LIKE` wildcards), when one is given.
    pub(crate) fn starts_with(mut self, column: &str, prefix: Option<&str>) -> Filter {
        if let Some(prefix) = prefix {
            let substring = match self.dialect {
                Dialect::ClickHouse => "substring",
                Dialect::Sqlite => "substr",
            };
            let value = Value::Str(prefix.into());
            self.push(
                format!("{substring}({column}, 1, length(?)) = ?"),
                [value.clone(), value],
            );
        }
        self
    }

    /// `column >= value`, when a value is given.
    pub(crate) fn at_least(mut self, column: &str, value: Option<u64>) -> Filter {
        if let Some(value) = value {
            let value = i64::try_from(value).unwrap_or(i64::MAX);
            self.push(format!("{column} >= ?"), [Value::I64(value)]);
        }
        self
    }

    /// Rows whose array `column` (a trace's environments) lies within `environments`; an empty
    /// set filters nothing. The same rule as [`Filter::traces_within`], for rows that list
    /// their trace's environments.
    pub(crate) fn array_within(mut self, column: &str, environments: &[String]) -> Filter {
        if environments.is_empty() {
            return self;
        }
        let sql = self.dialect.array_within(column, environments.len());
        self.push(sql, environments.iter().map(|e| Value::Str(e.clone())));
        self
    }

    /// Rows whose trace (`trace_key`, the id as text) has events, all in one of
    /// `environments`; an empty set filters nothing.
    pub(crate) fn traces_within(mut self, trace_key: &str, environments: &[String]) -> Filter {
        if environments.is_empty() {
            return self;
        }
        let id = match self.dialect {
            Dialect::ClickHouse => "toString(trace_id)",
            Dialect::Sqlite => "trace_id",
        };
        let marks = vec!["?"; environments.len()].join(", ");
        let values = environments.iter().map(|e| Value::Str(e.clone()));
        self.push(
            format!(
                "{trace_key} IN (SELECT {id} FROM events WHERE environment IN ({marks})) \
                 AND {trace_key} NOT IN (SELECT {id} FROM events WHERE environment NOT IN ({marks}))"
            ),
            values.clone().chain(values),
        );
        self
    }

    /// Rows whose span `[start, end]` overlaps `time`: `end >= from_ns`, `start <= to_ns`.
    pub(crate) fn overlaps(mut self, start: &str, end: &str, time: TimeRange) -> Filter {
        if let Some(from) = time.from_ns {
            self.push(format!("{end} >= ?"), [Value::I64(from)]);
        }
        if let Some(to) = time.to_ns {
            self.push(format!("{start} <= ?"), [Value::I64(to)]);
        }
        self
    }

    /// Rows whose `column` lies within `time`.
    pub(crate) fn within(self, column: &str, time: TimeRange) -> Filter {
        self.overlaps(column, column, time)
    }

    /// These conditions, then `other`'s.
    pub(crate) fn and(mut self, other: &Filter) -> Filter {
        self.conditions.extend(other.conditions.iter().cloned());
        self.params.extend(other.params.iter().cloned());
        self
    }

    /// The conditions, joined by `AND` (`1 = 1` when there are none).
    pub(crate) fn sql(&self) -> String {
        if self.conditions.is_empty() {
            "1 = 1".to_string()
        } else {
            self.conditions.join(" AND ")
        }
    }

    /// Whether no condition filters anything.
    pub(crate) fn is_empty(&self) -> bool {
        self.conditions.is_empty()
    }

    /// The values of the `?`s of [`Filter::sql`], in order.
    pub(crate) fn params(&self) -> &[Value] {
        &self.params
    }

    /// The values of [`Filter::sql`] followed by `more` (e.g. a page's).
    pub(crate) fn params_with(&self, more: &[Value]) -> Vec<Value> {
        self.params.iter().chain(more).cloned().collect()
    }
}

/// [`TraceQuery`] over the per-trace summary (`trace_key`, `services`, `environments`,
/// `event_count`, `first_ts`, `last_ts`, `race_count`).
pub(crate) fn traces(dialect: Dialect, query: &TraceQuery) -> Filter {
    let filter = Filter::new(dialect)
        .starts_with("trace_key", query.trace_id.as_deref())
        .array_has("services", query.service.as_deref())
        .array_has("environments", query.environment.as_deref())
        .at_least("event_count", query.min_events)
        .array_within("environments", &query.environments)
        .overlaps("first_ts", "last_ts", query.time());
    match query.has_races {
        Some(true) => filter.condition("race_count > 0"),
        Some(false) => filter.condition("race_count = 0"),
        None => filter,
    }
}

/// [`FindingQuery`] over `findings`, as `(identity, rest)`: the conditions on the columns of a
/// finding's identity (kind, environment, variable: the same in every version, so they can also
/// narrow a newest-version subquery), and the conditions on the others.
pub(crate) fn findings(dialect: Dialect, query: &FindingQuery) -> (Filter, Filter) {
    let identity = Filter::new(dialect)
        .equals("kind", query.kind.map(|k| k.as_str()))
        .one_of("environment", query.environment.as_deref())
        .one_of("environment", query.environments.iter().map(String::as_str))
        .equals("variable", query.variable.as_deref());
    let (first, second) = ("first_timestamp_ns", "second_timestamp_ns");
    let rest = Filter::new(dialect)
        .equals_any(
            &["first_service", "second_service"],
            query.service.as_deref(),
        )
        .equals("severity", query.severity.map(|s| s.as_str()))
        .overlaps(
            &dialect.extreme(false, first, second),
            &dialect.extreme(true, first, second),
            query.time(),
        );
    (identity, rest)
}

/// The accessed variables whose names start with `prefix`, in `environments` (every one when
/// empty), over `accesses`.
pub(crate) fn variables(dialect: Dialect, prefix: &str, environments: &[String]) -> Filter {
    Filter::new(dialect)
        .starts_with("variable", Some(prefix))
        .one_of("environment", environments.iter().map(String::as_str))
}

/// [`AccessQuery`] over `accesses` (without its limit).
pub(crate) fn accesses(dialect: Dialect, query: &AccessQuery) -> Filter {
    Filter::new(dialect)
        .equals("variable", Some(&query.variable))
        .one_of("environment", query.environment.as_deref())
        .within("timestamp_ns", query.time)
}

/// The accesses named by `keys` in ClickHouse's `accesses`; `None` when there is none, so
/// nothing to read.
///
/// The table is ordered by (variable, environment, trace, event id), so every part of the key
/// narrows the granules it reads. (SQLite looks each key up in its unique index on (trace,
/// variable, event id) with a statement of its own: `sqlite/accesses.rs`.)
pub(crate) fn event_accesses(keys: &[AccessKey]) -> Option<Filter> {
    if keys.is_empty() {
        return None;
    }
    let filter = Filter::new(Dialect::ClickHouse)
        .one_of(
            "variable",
            distinct(keys.iter().map(|k| k.variable.as_str())),
        )
        .one_of(
            "environment",
            distinct(keys.iter().map(|k| k.environment.as_str())),
        )
        .one_of_ids("trace_id", distinct(keys.iter().map(|k| k.trace_id)))
        .one_of_ids("event_id", keys.iter().map(|k| k.event_id));
    Some(filter)
}

/// `values` sorted, each once: a key part shared by many keys is bound once.
fn distinct<T: Ord>(values: impl Iterator<Item = T>) -> Vec<T> {
    let mut values: Vec<T> = values.collect();
    values.sort_unstable();
    values.dedup();
    values
}

/// [`AnomalyQuery`] over `duration_anomalies`.
pub(crate) fn anomalies(dialect: Dialect, query: &AnomalyQuery) -> Filter {
    Filter::new(dialect)
        .one_of(
            "severity",
            crate::analyses::grades_at_least(query.min_severity),
        )
        .equals("service", query.service.as_deref())
        .equals("anomaly_kind", query.anomaly_kind.map(AnomalyKind::as_str))
        .within("timestamp_ns", query.time())
        .traces_within("trace_id", &query.environments)
}

/// The events within `time` of `service` (every service when `None`), in `environments`
/// (every one when empty), by the event's own environment.
pub(crate) fn service_events(
    dialect: Dialect,
    service: Option<&str>,
    time: TimeRange,
    environments: &[String],
) -> Filter {
    Filter::new(dialect)
        .equals("service", service)
        .one_of("environment", environments.iter().map(String::as_str))
        .within("timestamp_ns", time)
}

/// The service calls within `time` of traces in `environments` (every trace when empty).
pub(crate) fn calls(dialect: Dialect, time: TimeRange, environments: &[String]) -> Filter {
    Filter::new(dialect)
        .within("timestamp_ns", time)
        .traces_within("trace_id", environments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_and_values_stay_in_order() {
        let time = TimeRange {
            from_ns: Some(10),
            to_ns: Some(20),
        };
        let filter = Filter::new(Dialect::Sqlite)
            .one_of("environment", ["prod", "staging"])
            .equals("service", None)
            .within("timestamp_ns", time);
        assert_eq!(
            filter.sql(),
            "environment IN (?, ?) AND timestamp_ns >= ? AND timestamp_ns <= ?"
        );
        assert_eq!(
            filter.params(),
            [
                Value::Str("prod".into()),
                Value::Str("staging".into()),
                Value::I64(10),
                Value::I64(20)
            ]
        );
    }

    #[test]
    fn an_empty_filter_matches_everything() {
        let filter = Filter::new(Dialect::ClickHouse).one_of("environment", []);
        assert_eq!(filter.sql(), "1 = 1");
        assert!(filter.params().is_empty());
    }

    #[test]
    fn spans_overlap_by_their_ends() {
        let (identity, rest) = findings(
            Dialect::ClickHouse,
            &FindingQuery {
                from_ns: Some(5),
                ..FindingQuery::default()
            },
        );
        assert_eq!(identity.sql(), "1 = 1");
        assert_eq!(
            rest.sql(),
            "greatest(first_timestamp_ns, second_timestamp_ns) >= ?"
        );
    }
}

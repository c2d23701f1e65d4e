//! Versioned schema migrations.
//!
//! Each backend has an ordered list of SQL files under `store/migrations/<backend>/`, named
//! `NNNN_name.sql` and embedded in the binary. [`crate::Store::migrate`] applies the ones not yet
//! recorded in the backend's `schema_migrations` table, in order, and records each one after it
//! succeeded. Statements are idempotent (`IF NOT EXISTS`), so two processes migrating at once, or
//! a crash between applying and recording, are harmless. ClickHouse 18.16 has no
//! `ADD COLUMN IF NOT EXISTS`, so its migrator takes an `ADD COLUMN` that fails because the
//! column exists as applied ([`is_applied_add_column`]); SQLite applies and records each
//! migration in one transaction. To change the schema, add a new file
//! with the next number and list it below; never edit a released one.

/// One versioned migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// Strictly increasing from 1.
    pub version: u32,
    /// Short name (the file name without number and extension).
    pub name: &'static str,
    /// The SQL text: one or more statements separated by `;`.
    pub sql: &'static str,
}

impl Migration {
    /// The statements of this migration, without comments, in order.
    pub fn statements(&self) -> Vec<String> {
        split_statements(self.sql)
    }
}

/// The ClickHouse migrations, in order. Valid on ClickHouse 18.16 and current ClickHouse.
pub const CLICKHOUSE: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../migrations/clickhouse/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "accesses",
        sql: include_str!("../migrations/clickhouse/0002_accesses.sql"),
    },
    Migration {
        version: 3,
        name: "analyses",
        sql: include_str!("../migrations/clickhouse/0003_analyses.sql"),
    },
    Migration {
        version: 4,
        name: "grafana",
        sql: include_str!("../migrations/clickhouse/0004_grafana.sql"),
    },
    Migration {
        version: 5,
        name: "anomaly_kinds",
        sql: include_str!("../migrations/clickhouse/0005_anomaly_kinds.sql"),
    },
    Migration {
        version: 6,
        name: "trace_summaries",
        sql: include_str!("../migrations/clickhouse/0006_trace_summaries.sql"),
    },
    Migration {
        version: 7,
        name: "events_by_trace",
        sql: include_str!("../migrations/clickhouse/0007_events_by_trace.sql"),
    },
    Migration {
        version: 8,
        name: "payload_once",
        sql: include_str!("../migrations/clickhouse/0008_payload_once.sql"),
    },
];

/// The SQLite migrations, in order.
pub const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "accesses",
        sql: include_str!("../migrations/sqlite/0002_accesses.sql"),
    },
    Migration {
        version: 3,
        name: "analyses",
        sql: include_str!("../migrations/sqlite/0003_analyses.sql"),
    },
    Migration {
        version: 4,
        name: "anomaly_kinds",
        sql: include_str!("../migrations/sqlite/0004_anomaly_kinds.sql"),
    },
    Migration {
        version: 5,
        name: "trace_summaries",
        sql: include_str!("../migrations/sqlite/0005_trace_summaries.sql"),
    },
    Migration {
        version: 6,
        name: "events_by_trace",
        sql: include_str!("../migrations/sqlite/0006_events_by_trace.sql"),
    },
    Migration {
        version: 7,
        name: "findings_newest_first",
        sql: include_str!("../migrations/sqlite/0007_findings_newest_first.sql"),
    },
    Migration {
        version: 8,
        name: "accesses_by_trace",
        sql: include_str!("../migrations/sqlite/0008_accesses_by_trace.sql"),
    },
    Migration {
        version: 9,
        name: "event_ids_as_blobs",
        sql: include_str!("../migrations/sqlite/0009_event_ids_as_blobs.sql"),
    },
];

/// True when `statement` adds columns and `error` says one already exists: a previous run
/// applied it (ClickHouse, which cannot say `IF NOT EXISTS` there).
pub fn is_applied_add_column(statement: &str, error: &str) -> bool {
    statement.to_ascii_uppercase().contains("ADD COLUMN")
        && error.contains("column with this name already exists")
}

/// Splits SQL text into statements at `;`, dropping `--` comments and blank statements. Quotes
/// (`'...'`, `"..."`, `` `...` ``) are respected, so a `;` or `--` inside a literal stays.
pub fn split_statements(sql: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    let mut chars = sql.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            current.push(c);
            if c == '\\' {
                if let Some(escaped) = chars.next() {
                    current.push(escaped);
                }
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' | '`' => {
                quote = Some(c);
                current.push(c);
            }
            '-' if chars.peek() == Some(&'-') => {
                // A comment runs to the end of the line.
                for skipped in chars.by_ref() {
                    if skipped == '\n' {
                        current.push('\n');
                        break;
                    }
                }
            }
            ';' => push_statement(&mut statements, &mut current),
            _ => current.push(c),
        }
    }
    push_statement(&mut statements, &mut current);
    statements
}

fn push_statement(statements: &mut Vec<String>, current: &mut String) {
    let statement = current.trim();
    if !statement.is_empty() {
        statements.push(statement.to_string());
    }
    current.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_list(list: &[Migration]) {
        assert!(!list.is_empty());
        for (index, migration) in list.iter().enumerate() {
            assert_eq!(
                migration.version as usize,
                index + 1,
                "versions are 1, 2, ..."
            );
            assert!(
                !migration.statements().is_empty(),
                "{} is empty",
                migration.name
            );
        }
    }

    #[test]
    fn migration_lists_are_numbered_in_order() {
        check_list(CLICKHOUSE);
        check_list(SQLITE);
    }

    #[test]
    fn splitter_drops_comments_and_keeps_literals() {
        let sql = "-- head; comment\nCREATE TABLE a (x String DEFAULT 'a;b--c'); -- tail\n\n;SELECT \"q;\" ;";
        assert_eq!(
            split_statements(sql),
            vec![
                "CREATE TABLE a (x String DEFAULT 'a;b--c')".to_string(),
                "SELECT \"q;\"".to_string()
            ]
        );
    }

    #[test]
    fn clickhouse_ddl_avoids_features_missing_on_18_16() {
        for migration in CLICKHOUSE {
            let sql = migration.statements().join(";\n").to_ascii_uppercase();
            for forbidden in [
                "DATETIME64",
                "MAP(",
                " TTL ",
                "INDEX ",
                "JSON_",
                "LOWCARDINALITY",
                "TOSTARTOFINTERVAL",
            ] {
                assert!(
                    !sql.contains(forbidden),
                    "migration {} uses {forbidden}, which ClickHouse 18.16 lacks",
                    migration.name
                );
            }
        }
    }
}

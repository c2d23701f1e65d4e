//! Reading the Grafana provisioning and dashboards under `deploy/grafana/`, and expanding the
//! macros Grafana's datasources expand before a query reaches ClickHouse or Prometheus.
//!
//! The ClickHouse macros follow the documented semantics of `grafana-clickhouse-datasource`:
//! `$__timeFilter(col)` is `col >= toDateTime(FROM) AND col <= toDateTime(TO)` (seconds),
//! `$__fromTime` / `$__toTime` are `toDateTime(FROM)` / `toDateTime(TO)`, `$__interval_s` the
//! interval in seconds. Template variables: `${name:singlequote}` is every selected value
//! quoted and joined by commas (the "All" option selects every value), `${name}` / `$name` the
//! values joined by commas.

use std::collections::BTreeMap;

use serde_json::Value;

use super::repo_path;

/// Every dashboard JSON under `deploy/grafana/dashboards/`, by file name.
pub fn dashboards() -> Vec<(String, Value)> {
    let dir = repo_path("deploy/grafana/dashboards");
    let mut found: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .expect("dashboards folder")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("dashboard");
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .to_string();
            let json = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{name} is not valid JSON: {e}"));
            (name, json)
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// The provisioned datasources: uid -> plugin type.
pub fn datasources() -> BTreeMap<String, String> {
    let path = repo_path("deploy/grafana/provisioning/datasources/raceway.yml");
    let text = std::fs::read_to_string(path).expect("datasources provisioning");
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("datasources YAML");
    yaml["datasources"]
        .as_sequence()
        .expect("datasources list")
        .iter()
        .map(|d| {
            let field = |k: &str| d[k].as_str().unwrap_or_default().to_string();
            (field("uid"), field("type"))
        })
        .collect()
}

/// The top-level panels of a dashboard (rows excluded), with their nested row panels.
pub fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut all = Vec::new();
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        if panel["type"] == "row" {
            all.extend(panel["panels"].as_array().into_iter().flatten());
        } else {
            all.push(panel);
        }
    }
    all
}

/// The datasource uid of a query target (its own, else its panel's).
pub fn target_datasource<'a>(panel: &'a Value, target: &'a Value) -> &'a str {
    target["datasource"]["uid"]
        .as_str()
        .or_else(|| panel["datasource"]["uid"].as_str())
        .unwrap_or_default()
}

/// A dashboard's time range and the selected values of its template variables.
pub struct Macros {
    /// Range start, seconds since the epoch.
    pub from_s: i64,
    /// Range end, seconds since the epoch.
    pub to_s: i64,
    /// Selected values per variable name.
    pub variables: BTreeMap<String, Vec<String>>,
}

impl Macros {
    /// `sql` with the ClickHouse datasource's macros and the template variables expanded.
    pub fn expand_clickhouse(&self, sql: &str) -> String {
        let mut out = expand_calls(sql, "$__timeFilter(", |column| {
            format!(
                "{column} >= toDateTime({}) AND {column} <= toDateTime({})",
                self.from_s, self.to_s
            )
        });
        out = out
            .replace("$__fromTime", &format!("toDateTime({})", self.from_s))
            .replace("$__toTime", &format!("toDateTime({})", self.to_s))
            .replace(
                "$__interval_s",
                &((self.to_s - self.from_s) / 1000).max(1).to_string(),
            );
        self.expand_variables(&out, |values| {
            values
                .iter()
                .map(|v| format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'")))
                .collect::<Vec<_>>()
                .join(",")
        })
    }

    /// `text` with `${name:singlequote}` formatted by `quoted`, and `${name}` / `$name` as the
    /// values joined by `,`, longest names first.
    pub fn expand_variables(&self, text: &str, quoted: impl Fn(&[String]) -> String) -> String {
        let mut names: Vec<&String> = self.variables.keys().collect();
        names.sort_by_key(|n| std::cmp::Reverse(n.len()));
        let mut out = text.to_string();
        for name in names {
            let values = &self.variables[name];
            out = out
                .replace(&format!("${{{name}:singlequote}}"), &quoted(values))
                .replace(&format!("${{{name}}}"), &values.join(","))
                .replace(&format!("${name}"), &values.join(","));
        }
        out
    }
}

/// Replaces every `PREFIX arg)` in `text` by `expand(arg)` (arguments without parentheses).
fn expand_calls(text: &str, prefix: &str, expand: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(prefix) {
        out.push_str(&rest[..start]);
        let after = &rest[start + prefix.len()..];
        let end = after
            .find(')')
            .unwrap_or_else(|| panic!("unclosed {prefix} in {text}"));
        out.push_str(&expand(after[..end].trim()));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

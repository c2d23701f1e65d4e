//! The Grafana dashboards (`deploy/grafana/`) against the real ClickHouse: a dataset goes
//! through `raceway up --clickhouse` (the fixture's race, 31 requests between two services, one
//! of them slow enough to be an anomaly); then every ClickHouse query of every panel and every
//! template variable runs with Grafana's macros expanded as the plugin does, and must return at
//! least one row with the columns its panel type needs. A static test checks every dashboard
//! against the provisioned datasources and the panel types it uses.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::grafana::{dashboards, datasources, panels, target_datasource, Macros};
use common::*;
use serde_json::{json, Value};

/// 2024-01-01T11:00:00Z and 13:00:00Z: the dataset's hour, with margins.
const FROM_S: i64 = 1_704_106_800;
const TO_S: i64 = 1_704_114_000;

/// Panel types the dashboards may use (all built into Grafana 10+).
const PANEL_TYPES: [&str; 5] = ["timeseries", "table", "barchart", "nodeGraph", "stat"];

const CLICKHOUSE_UID: &str = "raceway-clickhouse";

fn post(base: &str, events: &[Value]) {
    let body = serde_json::to_vec(&json!({ "events": events })).expect("body");
    post_events(base, body);
}

/// Waits until the trace's analysis is stored; returns it.
fn analysed(up: &Raceway, base: &str, trace: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let response = reqwest::blocking::get(format!("{base}/api/traces/{trace}/anomalies"))
            .expect("GET anomalies");
        if response.status() == 200 {
            return response.json().expect("JSON");
        }
        assert!(
            Instant::now() < deadline,
            "trace {trace} not analysed:\n{}",
            up.output()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A ClickHouse database dropped when this is dropped.
struct Database {
    url: String,
    name: String,
}

impl Database {
    /// Runs `sql` and returns the `FORMAT JSON` answer (`meta` and `data`), or the error text.
    fn query(&self, sql: &str) -> Result<Value, String> {
        let response = reqwest::blocking::Client::new()
            .post(format!("{}/?database={}", self.url, self.name))
            .body(format!("{sql} FORMAT JSON"))
            .send()
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let text = response.text().map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(text);
        }
        serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        drop_database(&self.url, &self.name);
    }
}

/// Loads the dataset through `raceway up` on ClickHouse (embedded bus), then stops it.
fn load_dataset(dir: &std::path::Path) -> Database {
    let url = clickhouse();
    let database = Database {
        url: url.clone(),
        name: unique_name("raceway_grafana"),
    };
    let addr = free_addr();
    let data_dir = dir.join("data").to_string_lossy().to_string();
    let args = [
        "up",
        "--http-addr",
        &addr,
        "--data-dir",
        &data_dir,
        "--clickhouse",
        &url,
        "--database",
        &database.name,
        "--trace-idle-ms",
        "300",
    ];
    let mut up = Raceway::start(&args, dir);
    let base = format!("http://{addr}");
    up.wait_http_ok(&format!("{base}/health"));

    post_events(&base, fixture());
    let (normal, normal_events) = ordinary_requests();
    post(&base, &normal_events);
    for (trace, _) in &normal {
        analysed(&up, &base, trace);
    }
    let (slow, slow_events) = two_service_request(40, 60);
    post(&base, &slow_events);
    let analysis = analysed(&up, &base, &slow);
    assert!(
        analysis["anomalies"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "the slow request is an anomaly: {analysis}"
    );
    let races = wait_for_races(&base, FIXTURE_TRACE, Duration::from_secs(60));
    assert_fixture_race(&races);

    // A replay (the same events again) re-analyses the traces and must not double any count.
    let last = &normal[29].0;
    let before = analysed(&up, &base, last)["analyzed_at"].clone();
    post_events(&base, fixture());
    post(&base, &normal_events);
    let deadline = Instant::now() + Duration::from_secs(60);
    while analysed(&up, &base, last)["analyzed_at"] == before {
        assert!(
            Instant::now() < deadline,
            "no re-analysis:\n{}",
            up.output()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(up.terminate().success(), "{}", up.output());
    database
}

/// The values of the dashboard's ClickHouse template variables, each query run in order.
fn variable_values(db: &Database, dashboard: &Value, name: &str) -> Macros {
    let mut macros = Macros {
        from_s: FROM_S,
        to_s: TO_S,
        variables: BTreeMap::new(),
    };
    for variable in dashboard["templating"]["list"]
        .as_array()
        .expect("variables")
    {
        let var = variable["name"]
            .as_str()
            .expect("variable name")
            .to_string();
        let values = if variable["type"] == "query" {
            let raw = variable["query"]["rawSql"]
                .as_str()
                .or_else(|| variable["query"].as_str())
                .unwrap_or_else(|| panic!("{name}: variable {var} has no query"));
            let sql = macros.expand_clickhouse(raw);
            let answer = db
                .query(&sql)
                .unwrap_or_else(|e| panic!("{name}: variable {var}: {e}\n{sql}"));
            let values: Vec<String> = answer["data"]
                .as_array()
                .expect("rows")
                .iter()
                .filter_map(|row| row.as_object()?.values().next()?.as_str())
                .map(str::to_string)
                .collect();
            assert!(!values.is_empty(), "{name}: variable {var} has no values");
            values
        } else {
            vec![variable["query"].as_str().unwrap_or_default().to_string()]
        };
        macros.variables.insert(var, values);
    }
    macros
}

fn is_numeric(clickhouse_type: &str) -> bool {
    let t = clickhouse_type
        .trim_start_matches("Nullable(")
        .trim_end_matches(')');
    t.starts_with("UInt") || t.starts_with("Int") || t.starts_with("Float")
}

/// Checks one answer against what its panel type needs; returns its column names.
fn check_columns(context: &str, panel_type: &str, ref_id: &str, answer: &Value) -> Vec<String> {
    let meta = answer["meta"].as_array().expect("meta");
    let rows = answer["data"].as_array().expect("data");
    assert!(!rows.is_empty(), "{context}: no rows");
    let names: Vec<String> = meta
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default().to_string())
        .collect();
    let types: Vec<&str> = meta
        .iter()
        .map(|c| c["type"].as_str().unwrap_or_default())
        .collect();
    let numeric = types.iter().filter(|t| is_numeric(t)).count();
    match panel_type {
        "timeseries" => {
            assert!(
                types.first().is_some_and(|t| t.starts_with("DateTime")),
                "{context}: a time series starts with its DateTime column: {meta:?}"
            );
            assert!(numeric >= 1, "{context}: no value column: {meta:?}");
        }
        "barchart" => {
            assert!(
                types.first().is_some_and(|t| *t == "String"),
                "{context}: a bar chart starts with its label column: {meta:?}"
            );
            assert!(numeric >= 1, "{context}: no value column: {meta:?}");
        }
        "nodeGraph" => {
            let needed: &[&str] = if ref_id == "edges" {
                &["id", "source", "target", "mainstat"]
            } else {
                &["id", "title", "mainstat"]
            };
            for column in needed {
                assert!(
                    names.iter().any(|n| n == column),
                    "{context}: node graph {ref_id} need `{column}`: {names:?}"
                );
            }
        }
        _ => assert!(!names.is_empty(), "{context}: no columns"),
    }
    names
}

#[test]
fn every_clickhouse_panel_query_returns_rows_on_a_loaded_dataset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = load_dataset(dir.path());
    let mut queries_run = 0;
    for (name, dashboard) in dashboards() {
        if !panels(&dashboard).iter().any(|p| {
            p["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|t| target_datasource(p, t) == CLICKHOUSE_UID)
        }) {
            continue;
        }
        let macros = variable_values(&db, &dashboard, &name);
        for panel in panels(&dashboard) {
            let panel_type = panel["type"].as_str().unwrap_or_default();
            let title = panel["title"].as_str().unwrap_or_default();
            let mut node_ids = BTreeSet::new();
            let mut edge_ends = BTreeSet::new();
            for target in panel["targets"].as_array().into_iter().flatten() {
                if target_datasource(panel, target) != CLICKHOUSE_UID {
                    continue;
                }
                let ref_id = target["refId"].as_str().unwrap_or_default();
                let raw = target["rawSql"].as_str().expect("rawSql");
                let sql = macros.expand_clickhouse(raw);
                assert!(
                    !sql.contains('$'),
                    "{name} / {title}: unexpanded macro: {sql}"
                );
                let context = format!("{name} / {title} / {ref_id}");
                let answer = db
                    .query(&sql)
                    .unwrap_or_else(|e| panic!("{context}: {e}\n{sql}"));
                let columns = check_columns(&context, panel_type, ref_id, &answer);
                queries_run += 1;
                let link_field = panel["fieldConfig"]["overrides"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|o| o["matcher"]["options"].as_str());
                for field in link_field {
                    assert!(
                        columns.iter().any(|c| c == field),
                        "{context}: the data link's field `{field}` is not a column"
                    );
                }
                for row in answer["data"].as_array().into_iter().flatten() {
                    let text = |k: &str| row[k].as_str().unwrap_or_default().to_string();
                    if panel_type == "nodeGraph" && ref_id == "edges" {
                        edge_ends.insert(text("source"));
                        edge_ends.insert(text("target"));
                    } else if panel_type == "nodeGraph" {
                        node_ids.insert(text("id"));
                    }
                }
            }
            assert!(
                edge_ends.is_subset(&node_ids),
                "{name} / {title}: edges {edge_ends:?} end outside the nodes {node_ids:?}"
            );
        }
    }
    assert!(queries_run >= 16, "only {queries_run} panel queries ran");

    // The per-minute sets are exact: the fixture's 3 events plus 62 request events, once each,
    // although every event was posted twice.
    let events = db
        .query("SELECT uniqExactMerge(events) AS n FROM events_per_minute")
        .expect("count");
    assert_eq!(events["data"][0]["n"], "65", "{events}");
}

#[test]
fn dashboards_reference_provisioned_datasources_and_known_panel_types() {
    let sources = datasources();
    assert_eq!(
        sources.get(CLICKHOUSE_UID).map(String::as_str),
        Some("grafana-clickhouse-datasource")
    );
    assert_eq!(
        sources.get("raceway-prometheus").map(String::as_str),
        Some("prometheus")
    );
    let all = dashboards();
    let titles: BTreeSet<&str> = all
        .iter()
        .map(|(_, d)| d["title"].as_str().unwrap_or_default())
        .collect();
    for wanted in [
        "Raceway / Races",
        "Raceway / Traces and latency",
        "Raceway / Services",
        "Raceway / Anomalies",
        "Raceway / Pipeline health",
    ] {
        assert!(titles.contains(wanted), "no dashboard {wanted}: {titles:?}");
    }
    let uids: BTreeSet<&str> = all.iter().filter_map(|(_, d)| d["uid"].as_str()).collect();
    assert_eq!(uids.len(), all.len(), "dashboard uids are unique");

    for (name, dashboard) in &all {
        let top: Vec<&Value> = dashboard["panels"]
            .as_array()
            .expect("panels")
            .iter()
            .filter(|p| p["type"] != "row")
            .collect();
        assert!(top.len() >= 3, "{name}: {} top-level panels", top.len());
        let variables: Vec<&str> = dashboard["templating"]["list"]
            .as_array()
            .expect("variables")
            .iter()
            .filter_map(|v| v["name"].as_str())
            .collect();
        for wanted in ["environment", "service"] {
            assert!(variables.contains(&wanted), "{name}: no variable {wanted}");
        }
        for variable in dashboard["templating"]["list"].as_array().expect("list") {
            if let Some(uid) = variable["datasource"]["uid"].as_str() {
                assert_eq!(
                    sources.get(uid).map(String::as_str),
                    variable["datasource"]["type"].as_str(),
                    "{name}: variable {} uses datasource {uid}",
                    variable["name"]
                );
            }
        }
        let mut trace_links = 0;
        for panel in panels(dashboard) {
            let title = panel["title"].as_str().unwrap_or_default();
            let panel_type = panel["type"].as_str().unwrap_or_default();
            assert!(
                PANEL_TYPES.contains(&panel_type),
                "{name} / {title}: panel type {panel_type}"
            );
            let targets = panel["targets"].as_array().expect("targets");
            assert!(!targets.is_empty(), "{name} / {title}: no query");
            for target in targets {
                let uid = target_datasource(panel, target);
                let declared = target["datasource"]["type"]
                    .as_str()
                    .or_else(|| panel["datasource"]["type"].as_str());
                assert_eq!(
                    sources.get(uid).map(String::as_str),
                    declared,
                    "{name} / {title}: datasource {uid} is not provisioned with that type"
                );
                let query = target["rawSql"]
                    .as_str()
                    .or_else(|| target["expr"].as_str())
                    .unwrap_or_else(|| panic!("{name} / {title}: no rawSql or expr"));
                assert!(
                    !query.contains("$__timeInterval"),
                    "{name} / {title}: $__timeInterval needs toStartOfInterval (not on 18.16)"
                );
            }
            let links = panel["fieldConfig"]["overrides"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|o| o["properties"].as_array().into_iter().flatten())
                .filter(|p| p["id"] == "links")
                .flat_map(|p| p["value"].as_array().into_iter().flatten());
            for link in links {
                let url = link["url"].as_str().unwrap_or_default();
                assert_eq!(
                    url, "${raceway_ui}/traces/${__value.raw}",
                    "{name} / {title}: trace links open the web UI's trace page"
                );
                trace_links += 1;
            }
        }
        if !name.starts_with("pipeline") {
            assert!(trace_links >= 1, "{name}: no data link to the trace page");
        }
    }
}

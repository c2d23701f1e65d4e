//! The Prometheus setup (`deploy/prometheus/`) for real: `promtool` checks and unit-tests the
//! alert rules, and a real Prometheus (Debian's package, which the test command installs),
//! configured from `deploy/prometheus/prometheus.yml` with the `up` job pointed at a running
//! pipeline (`raceway up` on ClickHouse, one record on the bus that cannot be decoded) and the
//! `query` job at a `raceway query` over the same store, scrapes them; then every PromQL
//! expression of the Pipeline health dashboard must return data through Prometheus's HTTP API
//! (the live stream's drops and the query API's readiness included).

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::grafana::{dashboards, panels, Macros};
use common::*;
use raceway_bus::{Bus, EmbeddedBus, Record, Topics, DEFAULT_PARTITIONS};
use serde_json::Value;

fn promtool(args: &[&str]) -> String {
    let output = Command::new("promtool")
        .args(args)
        .current_dir(repo_path("deploy/prometheus"))
        .output()
        .expect("promtool (Debian's `prometheus` package; deploy/test-all.sh installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?}:\n{text}");
    text
}

#[test]
fn promtool_checks_and_unit_tests_the_alert_rules() {
    let checked = promtool(&["check", "rules", "alerts.yml"]);
    assert!(checked.contains("SUCCESS: 7 rules found"), "{checked}");
    promtool(&["check", "config", "prometheus.yml"]);
    let tested = promtool(&["test", "rules", "alerts_test.yml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");
    // Every alert has a unit test.
    let tests = std::fs::read_to_string(repo_path("deploy/prometheus/alerts_test.yml"))
        .expect("alerts_test.yml");
    let rules: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(repo_path("deploy/prometheus/alerts.yml")).expect("alerts"),
    )
    .expect("alerts YAML");
    for rule in rules["groups"][0]["rules"].as_sequence().expect("rules") {
        let alert = rule["alert"].as_str().expect("alert name");
        assert!(
            tests.contains(&format!(
                "alertname: {alert}\n        exp_alerts:\n          -"
            )),
            "alert {alert} has no unit test that expects it to fire"
        );
    }
}

/// A Prometheus server on a free port with its own data folder, killed when dropped.
struct Prometheus {
    child: Child,
    base: String,
}

impl Prometheus {
    /// Starts Prometheus with `deploy/prometheus/prometheus.yml`, each job's DNS discovery
    /// replaced by the static target in `targets` (jobs not listed are removed), scraping every
    /// second.
    fn start(dir: &Path, targets: &[(&str, &str)]) -> Prometheus {
        let text = std::fs::read_to_string(repo_path("deploy/prometheus/prometheus.yml"))
            .expect("prometheus.yml");
        let mut config: serde_yaml::Value = serde_yaml::from_str(&text).expect("YAML");
        config["global"]["scrape_interval"] = "1s".into();
        config["global"]["evaluation_interval"] = "1s".into();
        config["rule_files"] =
            serde_yaml::Value::Sequence(vec![repo_path("deploy/prometheus/alerts.yml")
                .to_string_lossy()
                .to_string()
                .into()]);
        let jobs = config["scrape_configs"]
            .as_sequence_mut()
            .expect("scrape_configs");
        jobs.retain(|job| {
            targets
                .iter()
                .any(|(name, _)| job["job_name"].as_str() == Some(name))
        });
        for job in jobs.iter_mut() {
            let name = job["job_name"].as_str().unwrap_or_default().to_string();
            let addr = targets.iter().find(|(n, _)| *n == name).expect("target").1;
            let job = job.as_mapping_mut().expect("job");
            job.remove("dns_sd_configs");
            let static_config: serde_yaml::Value =
                serde_yaml::from_str(&format!("[{{targets: [\"{addr}\"]}}]")).expect("YAML");
            job.insert("static_configs".into(), static_config);
        }
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, serde_yaml::to_string(&config).expect("YAML"))
            .expect("write config");
        let addr = free_addr();
        let log = std::fs::File::create(dir.join("prometheus.log")).expect("log");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("prometheus (Debian's package; deploy/test-all.sh installs it)");
        Prometheus {
            child,
            base: format!("http://{addr}"),
        }
    }

    /// `GET /api/v1/{path}` (query string included); the `data` of a success answer.
    fn api(&self, path_and_query: &str) -> Option<Value> {
        let answer: Value =
            reqwest::blocking::get(format!("{}/api/v1/{path_and_query}", self.base))
                .ok()?
                .json()
                .ok()?;
        (answer["status"] == "success").then(|| answer["data"].clone())
    }

    /// Polls an instant query until it returns at least one sample; returns them.
    fn wait_for_data(&self, expr: &str, logs: &dyn Fn() -> String) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(90);
        let url = format!("query?query={}", url_encode(expr));
        loop {
            if let Some(data) = self.api(&url) {
                if let Some(result) = data["result"].as_array().filter(|r| !r.is_empty()) {
                    return result.clone();
                }
            }
            assert!(
                Instant::now() < deadline,
                "no data for {expr} within 90 s\n{}",
                logs()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn a_real_prometheus_scrapes_the_pipeline_and_every_dashboard_expression_has_data() {
    let clickhouse = clickhouse();
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).expect("data dir");
    // A record that cannot be decoded waits on the events topic: a dead letter once running.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let bus = EmbeddedBus::open(&data_dir.join("bus.sqlite"), DEFAULT_PARTITIONS)
            .expect("embedded bus");
        let topics = Topics::with_prefix("");
        bus.create_topics(&topics.all(), DEFAULT_PARTITIONS)
            .await
            .expect("topics");
        bus.produce(
            &topics.events,
            vec![Record::new("garbage", vec![0xde, 0xad])],
        )
        .await
        .expect("produce garbage");
    });
    let database = unique_name("raceway_prometheus");
    let up_addr = free_addr();
    let data = data_dir.to_string_lossy().to_string();
    let mut up = Raceway::start(
        &[
            "up",
            "--http-addr",
            &up_addr,
            "--data-dir",
            &data,
            "--clickhouse",
            &clickhouse,
            "--database",
            &database,
            "--trace-idle-ms",
            "300",
        ],
        dir.path(),
    );
    up.wait_http_ok(&format!("http://{up_addr}/health"));
    // A separate query API over the same store: the `query` job.
    let query_addr = free_addr();
    let mut query = Raceway::start(
        &[
            "query",
            "--http-addr",
            &query_addr,
            "--clickhouse",
            &clickhouse,
            "--database",
            &database,
        ],
        dir.path(),
    );
    query.wait_http_ok(&format!("http://{query_addr}/health"));
    // Traffic and a race.
    post_events(&format!("http://{up_addr}"), fixture());

    let prometheus = Prometheus::start(dir.path(), &[("up", &up_addr), ("query", &query_addr)]);
    let logs = || {
        format!(
            "prometheus:\n{}\nraceway up:\n{}\nraceway query:\n{}",
            std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default(),
            up.output(),
            query.output()
        )
    };
    // The rules of deploy/prometheus/alerts.yml are loaded, all of them.
    let written: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(repo_path("deploy/prometheus/alerts.yml")).expect("alerts"),
    )
    .expect("alerts YAML");
    let expected = written["groups"][0]["rules"]
        .as_sequence()
        .map_or(0, Vec::len);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rules = prometheus.api("rules").unwrap_or_default();
        let count = rules["groups"][0]["rules"].as_array().map_or(0, Vec::len);
        if count == expected && expected > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "rules not loaded\n{}", logs());
        std::thread::sleep(Duration::from_millis(200));
    }

    let (_, dashboard) = dashboards()
        .into_iter()
        .find(|(name, _)| name == "pipeline-health.json")
        .expect("Pipeline health dashboard");
    // Template variables with "All" selected: their allValue, `.*`.
    let macros = Macros {
        from_s: 0,
        to_s: 0,
        variables: [("environment", ".*"), ("service", ".*")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
            .collect(),
    };
    let environments = prometheus.wait_for_data("count by (environment) (up)", &logs);
    assert_eq!(environments[0]["metric"]["environment"], "production");
    let mut checked = 0;
    for panel in panels(&dashboard) {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let raw = target["expr"].as_str().expect("PromQL expr");
            let expr = macros
                .expand_variables(raw, |values| values.join(","))
                .replace("$__rate_interval", "1m");
            assert!(!expr.contains('$'), "unexpanded macro: {expr}");
            let result = prometheus.wait_for_data(&expr, &logs);
            assert!(!result.is_empty(), "{expr}");
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} expressions checked");

    // The pieces report themselves up, and the stages ready.
    let scraped = prometheus.wait_for_data("up{job=\"up\"} == 1", &logs);
    assert_eq!(scraped.len(), 1, "{scraped:?}");
    let ready = prometheus.wait_for_data("raceway_stage_ready == 1", &logs);
    assert_eq!(ready.len(), 2, "trace and race stages: {ready:?}");
    let dead = prometheus.wait_for_data("raceway_dead_letters_total >= 1", &logs);
    assert_eq!(dead.len(), 1, "{dead:?}");
    // Both query APIs (in `up`, and `query` alone) are ready, and both expose the live stream.
    let query_ready = prometheus.wait_for_data("raceway_query_ready == 1", &logs);
    assert_eq!(query_ready.len(), 2, "{query_ready:?}");
    let dropped = prometheus.wait_for_data("raceway_live_dropped_total", &logs);
    assert_eq!(dropped.len(), 2, "{dropped:?}");
    drop(prometheus);
    assert!(query.terminate().success(), "{}", query.output());
    assert!(up.terminate().success(), "{}", up.output());
    drop_database(&clickhouse, &database);
}

//! `deploy/docker-compose.yml` and the `Dockerfile`, checked statically (Docker does not run
//! here): every `raceway` option and RACEWAY_* variable they use exists in `raceway <command>
//! --help`, published ports and scrape targets match the addresses the pieces listen on, and
//! every mounted file or folder exists and is where Grafana's provisioning and Prometheus's
//! configuration expect it.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::repo_path;
use serde_yaml::Value;

fn yaml(relative: &str) -> Value {
    let text = std::fs::read_to_string(repo_path(relative)).expect(relative);
    let mut value: Value = serde_yaml::from_str(&text).expect(relative);
    value.apply_merge().expect("merge keys");
    value
}

fn help(command: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_raceway"))
        .args([command, "--help"])
        .output()
        .expect("raceway --help");
    assert!(output.status.success(), "raceway {command} --help failed");
    String::from_utf8_lossy(&output.stdout).to_string()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// The port of `--http-addr` / `--metrics-addr` in a raceway command line.
fn listen_port(command: &[String]) -> Option<u16> {
    command
        .windows(2)
        .find(|w| w[0] == "--http-addr" || w[0] == "--metrics-addr")
        .and_then(|w| w[1].rsplit(':').next()?.parse().ok())
}

#[test]
fn compose_uses_only_existing_options_ports_and_paths() {
    let compose = yaml("deploy/docker-compose.yml");
    let services = compose["services"].as_mapping().expect("services");
    let name_of = |k: &Value| k.as_str().unwrap_or_default().to_string();
    let names: Vec<String> = services.keys().map(name_of).collect();
    for wanted in [
        "kafka",
        "clickhouse",
        "migrate",
        "ingest",
        "process",
        "query",
        "grafana",
        "prometheus",
    ] {
        assert!(names.iter().any(|n| n == wanted), "no service {wanted}");
    }
    let kafka = &services["kafka"]["environment"];
    assert!(
        kafka["KAFKA_PROCESS_ROLES"]
            .as_str()
            .is_some_and(|r| r.contains("broker") && r.contains("controller")),
        "Kafka runs in KRaft mode as one node"
    );
    assert_eq!(services["process"]["deploy"]["replicas"].as_u64(), Some(2));
    assert_eq!(services["migrate"]["restart"].as_str(), Some("no"));

    // Every raceway service: its options and variables exist, its ports are the ones it
    // listens on.
    let mut listen: BTreeMap<String, u16> = BTreeMap::new();
    for (key, service) in services {
        let name = name_of(key);
        if service["image"].as_str() != Some("raceway:latest") {
            continue;
        }
        let command = strings(&service["command"]);
        let subcommand = command.first().expect("a raceway command").clone();
        let text = help(&subcommand);
        for arg in command.iter().filter(|a| a.starts_with("--")) {
            let flag = arg.split('=').next().unwrap_or_default();
            assert!(
                text.contains(&format!("{flag} ")) || text.contains(&format!("{flag}\n")),
                "{name}: `raceway {subcommand}` has no option {flag}"
            );
        }
        for (variable, _) in service["environment"].as_mapping().expect("environment") {
            let variable = variable.as_str().unwrap_or_default();
            assert!(
                text.contains(&format!("[env: {variable}=")),
                "{name}: `raceway {subcommand}` reads no {variable}"
            );
        }
        if let Some(port) = listen_port(&command) {
            listen.insert(name.clone(), port);
        }
        for mapping in strings(&service["ports"]) {
            let inside: u16 = mapping
                .rsplit(':')
                .next()
                .unwrap_or_default()
                .parse()
                .expect("port");
            assert_eq!(
                Some(inside),
                listen_port(&command),
                "{name}: publishes {mapping}"
            );
        }
    }
    assert_eq!(
        listen.len(),
        3,
        "ingest, process and query listen: {listen:?}"
    );

    // Prometheus scrapes each piece where it listens.
    let prometheus = yaml("deploy/prometheus/prometheus.yml");
    for job in prometheus["scrape_configs"].as_sequence().expect("jobs") {
        for discovery in job["dns_sd_configs"].as_sequence().into_iter().flatten() {
            let port = discovery["port"].as_u64().expect("port") as u16;
            for host in strings(&discovery["names"]) {
                if let Some(listening) = listen.get(&host) {
                    assert_eq!(*listening, port, "prometheus scrapes {host}:{port}");
                }
            }
        }
    }

    // Mounted files and folders exist, and sit where the configurations expect them.
    let mut mounts: BTreeMap<String, String> = BTreeMap::new();
    for (key, service) in services {
        for volume in strings(&service["volumes"]) {
            let mut parts = volume.split(':');
            let (source, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            if let Some(relative) = source.strip_prefix("./") {
                let path = repo_path(&format!("deploy/{relative}"));
                assert!(path.exists(), "{}: mounts missing {source}", name_of(key));
                mounts.insert(relative.to_string(), target.to_string());
            }
        }
    }
    let provider = yaml("deploy/grafana/provisioning/dashboards/raceway.yml");
    let dashboards_path = provider["providers"][0]["options"]["path"]
        .as_str()
        .expect("provider path");
    assert_eq!(
        mounts.get("grafana/dashboards").map(String::as_str),
        Some(dashboards_path)
    );
    for folder in ["datasources", "dashboards"] {
        assert_eq!(
            mounts
                .get(&format!("grafana/provisioning/{folder}"))
                .map(String::as_str),
            Some(format!("/etc/grafana/provisioning/{folder}").as_str())
        );
    }
    assert!(services["grafana"]["environment"]["GF_INSTALL_PLUGINS"]
        .as_str()
        .is_some_and(|p| p.contains("grafana-clickhouse-datasource")));
    let config = strings(&services["prometheus"]["command"])
        .into_iter()
        .find_map(|a| a.strip_prefix("--config.file=").map(str::to_string))
        .expect("--config.file");
    assert_eq!(mounts.get("prometheus/prometheus.yml"), Some(&config));
    // rule_files are relative to the configuration file.
    let config_dir = config.rsplit_once('/').expect("dir").0;
    for rules in strings(&prometheus["rule_files"]) {
        assert_eq!(
            mounts.get(&format!("prometheus/{rules}")),
            Some(&format!("{config_dir}/{rules}"))
        );
    }

    // Grafana's datasources point at the compose services' ports.
    let sources = yaml("deploy/grafana/provisioning/datasources/raceway.yml");
    for source in sources["datasources"].as_sequence().expect("datasources") {
        match source["type"].as_str() {
            Some("grafana-clickhouse-datasource") => {
                assert_eq!(source["jsonData"]["host"].as_str(), Some("clickhouse"));
                assert_eq!(source["jsonData"]["port"].as_u64(), Some(8123));
                assert_eq!(source["jsonData"]["protocol"].as_str(), Some("http"));
            }
            Some("prometheus") => {
                let published = strings(&services["prometheus"]["ports"]);
                let port = published[0].rsplit(':').next().unwrap_or_default();
                assert_eq!(
                    source["url"].as_str(),
                    Some(format!("http://prometheus:{port}").as_str())
                );
            }
            other => panic!("unexpected datasource type {other:?}"),
        }
    }

    // The image builds the binary in one stage and ships it in another.
    let dockerfile = std::fs::read_to_string(repo_path("Dockerfile")).expect("Dockerfile");
    let stages = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .count();
    assert!(stages >= 2, "multi-stage Dockerfile");
    assert!(dockerfile.contains("cargo build --release --locked --bin raceway"));
    assert!(dockerfile.contains("ENTRYPOINT [\"raceway\"]"));
    let build = &services["migrate"]["build"];
    assert_eq!(build["context"].as_str(), Some(".."));
    assert_eq!(build["dockerfile"].as_str(), Some("Dockerfile"));
}

//! The gateway stays small: it validates and produces, so nothing of the processors, the
//! analyses or the stores (nor their machine-learning and database clients) may be among its
//! normal dependencies. A gateway that pulled them in would build and link them into every
//! ingest image and couple its releases to theirs.

use std::process::Command;

const FORBIDDEN: [&str; 6] = [
    "raceway-processors",
    "raceway-analysis",
    "raceway-store",
    "linfa",
    "clickhouse",
    "rusqlite",
];

#[test]
fn the_gateway_depends_on_no_processor_analysis_or_store_crate() {
    let output = Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "raceway-gateway",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(["--offline", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree");
    let tree = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        tree.contains("raceway-bus"),
        "not the gateway's tree:\n{tree}"
    );
    for line in tree.lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        assert!(
            !FORBIDDEN
                .iter()
                .any(|f| name == *f || name.starts_with(&format!("{f}-"))),
            "the gateway depends on {line}"
        );
    }
}

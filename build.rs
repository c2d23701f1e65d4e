//! Builds the web UI (`web/`) that the binary embeds.
//!
//! The rule: the binary embeds `web/dist`, and `web/dist` must be at least as new as the UI's
//! sources, so a plain `cargo build` of a clean clone produces a binary with the current UI. When
//! `web/dist` is missing or older than any source, this runs `npm ci` (only when `node_modules`
//! is missing or older than `package-lock.json`) and `npm run build` in `web/`.
//!
//! Cargo reruns this script only when a UI source (or `web/dist/index.html`) changes, so an
//! incremental Rust build never waits on npm. Without node/npm the build fails with a message
//! saying what to install, unless `RACEWAY_WEB=skip`: then the binary embeds nothing and answers
//! `/` with a page saying how to build the UI. The embedded folder is handed to `rust-embed`
//! through `RACEWAY_WEB_DIST` (an empty folder under `OUT_DIR` when skipped).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// The files and folders whose changes make `web/dist` stale.
const SOURCES: &[&str] = &[
    "src",
    "public",
    "index.html",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "tailwind.config.js",
    "postcss.config.js",
    "tsconfig.json",
    "openapi.json",
];

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let web = root.join("web");
    println!("cargo:rerun-if-env-changed=RACEWAY_WEB");
    for source in SOURCES {
        println!("cargo:rerun-if-changed=web/{source}");
    }
    println!("cargo:rerun-if-changed=web/dist/index.html");

    if std::env::var("RACEWAY_WEB").as_deref() == Ok("skip") {
        let empty = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("no-web");
        fs::create_dir_all(&empty).expect("cannot create OUT_DIR/no-web");
        println!("cargo:rustc-env=RACEWAY_WEB_DIST={}", empty.display());
        println!("cargo:warning=RACEWAY_WEB=skip: the binary serves no web UI");
        return;
    }

    let dist = web.join("dist");
    let built = modified(&dist.join("index.html"));
    let newest_source = SOURCES
        .iter()
        .filter_map(|source| newest(&web.join(source)))
        .max();
    if built.is_none() || newest_source > built {
        if let Err(message) = build_ui(&web) {
            panic!(
                "\n\nCannot build the web UI in web/: {message}\n\
                 Install Node.js 20+ with npm (Debian: `apt-get install nodejs npm`), or build \
                 without the UI: RACEWAY_WEB=skip cargo build\n\n"
            );
        }
    }
    println!("cargo:rustc-env=RACEWAY_WEB_DIST={}", dist.display());
}

/// `npm ci` when the installed packages are missing or older than the lock file, then
/// `npm run build`.
fn build_ui(web: &Path) -> Result<(), String> {
    let installed = modified(&web.join("node_modules/.package-lock.json"));
    if installed.is_none() || modified(&web.join("package-lock.json")) > installed {
        npm(web, &["ci", "--no-audit", "--no-fund"])?;
    }
    npm(web, &["run", "build"])
}

fn npm(web: &Path, args: &[&str]) -> Result<(), String> {
    let status = Command::new("npm")
        .args(args)
        .current_dir(web)
        .status()
        .map_err(|e| format!("cannot run `npm {}` ({e})", args.join(" ")))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`npm {}` failed ({status})", args.join(" ")))
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The newest modification time of a file, or of any file under a folder.
fn newest(path: &Path) -> Option<SystemTime> {
    let meta = fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    fs::read_dir(path)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| newest(&entry.path()))
        .max()
}

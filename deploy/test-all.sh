#!/usr/bin/env bash
# The test command (README.md): installs and starts every service the tests need (ClickHouse,
# the tansu Kafka-protocol broker, Prometheus, Python's fastavro for the Avro cross-check, Node.js
# and Chromium for the web UI), then runs every test of the workspace in one go, then the web
# UI's lint, unit tests and browser tests. Reuses whatever is already installed or running.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# fastavro: the second Avro implementation the schema tests check our encoding against.
if ! python3 -c 'import fastavro' 2>/dev/null; then
    pip install --quiet fastavro
fi

# Prometheus and promtool (Debian's package): the Prometheus tests run a real server on a free
# port with a data folder of their own; the package's own service is never started.
if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
    apt-get install -y prometheus >/dev/null || { apt-get update >/dev/null && apt-get install -y prometheus >/dev/null; }
fi
# tmux: the end-to-end test of `raceway tui` drives it in a real terminal.
if ! command -v tmux >/dev/null; then
    apt-get update -qq && apt-get install -y -qq tmux >/dev/null
fi
# The web UI: npm builds it (build.rs), Chromium runs its browser tests.
if ! command -v npm >/dev/null || ! command -v chromium >/dev/null; then
    apt-get update -qq
    command -v npm >/dev/null || apt-get install -y -qq nodejs npm
    command -v chromium >/dev/null || apt-get install -y -qq chromium
fi
# An unchanged UI is neither reinstalled nor rebuilt (see the script).
deploy/web-cache.sh restore

# The scenario files are generated: they must be exactly what generate.py writes, or the
# analysis tests would check labels nobody can regenerate.
scenarios="$(mktemp -d)"
trap 'rm -rf "$scenarios"' EXIT
python3 tests/scenarios/generate.py --out "$scenarios" >/dev/null
if ! diff -r -x README.md -x generate.py -x __pycache__ tests/scenarios "$scenarios" >&2; then
    echo "tests/scenarios/*.json differ from what tests/scenarios/generate.py writes:" \
        "run python3 tests/scenarios/generate.py and commit the result" >&2
    exit 1
fi

# Installs (if missing) and starts the broker and ClickHouse; prints the env the tests read.
# (Assigned first: a failure inside `eval "$(...)"` would be swallowed.)
service_env="$(deploy/services.sh up)"
eval "$service_env"

# Every target (libraries, binaries, integration tests, benchmarks in test mode), then the doc
# examples, which --all-targets leaves out.
cargo test --workspace --all-targets --locked "$@"
cargo test --workspace --doc --locked "$@"
deploy/web-cache.sh save

# The web UI against the binary just built: lint and types, Vitest, then Chromium end to end.
(cd web && { [[ -d node_modules ]] || npm ci --no-audit --no-fund; } && npm run lint && npm test && npm run e2e)

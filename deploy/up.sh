#!/usr/bin/env bash
# The quick start (README.md): builds Raceway (installing its build prerequisites if missing) and
# runs `raceway up` on the embedded default: gateway, processors and query API on 127.0.0.1:8080,
# data under ./raceway-data. Extra arguments go to `raceway up` (e.g. --kafka, --clickhouse).
set -euo pipefail

# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ensure_build_prereqs
cd "$REPO"
exec cargo run --release --locked -- up "$@"

#!/usr/bin/env bash
# The real services Raceway's tests and `raceway up --kafka --clickhouse` use: up | down | status
#
#   up      install what is missing (the build prerequisites of rdkafka, ClickHouse, tansu), start
#           ClickHouse and the tansu broker, wait for both, then print the environment to use on
#           stdout (progress goes to stderr), so `eval "$(deploy/services.sh up)"` works
#   down    stop both
#   status  status of both; exit 0 when both answer
#
# Environment: see clickhouse.sh and kafka.sh (RACEWAY_DEPLOY_DIR, RACEWAY_KAFKA_PORT,
# RACEWAY_CLICKHOUSE_HTTP_PORT, RACEWAY_CLICKHOUSE_TCP_PORT, ...).
set -euo pipefail

# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

HERE="$DEPLOY_SCRIPT_DIR"

cmd_up() {
    ensure_build_prereqs
    # ClickHouse first: it is quick, while tansu may still be building.
    "$HERE/clickhouse.sh" install
    "$HERE/clickhouse.sh" start
    "$HERE/kafka.sh" install
    "$HERE/kafka.sh" start
    "$HERE/clickhouse.sh" wait
    "$HERE/kafka.sh" wait
    log "services are up; data under $DEPLOY_DIR"
    echo "export RACEWAY_TEST_KAFKA=127.0.0.1:${RACEWAY_KAFKA_PORT:-9092}"
    echo "export RACEWAY_TEST_CLICKHOUSE=http://127.0.0.1:${RACEWAY_CLICKHOUSE_HTTP_PORT:-8123}"
}

cmd_down() {
    "$HERE/kafka.sh" stop
    "$HERE/clickhouse.sh" stop
}

cmd_status() {
    local rc=0
    "$HERE/clickhouse.sh" status || rc=$?
    "$HERE/kafka.sh" status || rc=$?
    return "$rc"
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
*)
    echo "usage: $0 up|down|status" >&2
    exit 2
    ;;
esac

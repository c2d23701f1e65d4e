#!/usr/bin/env bash
# The Kafka-protocol broker for Raceway (tansu 0.6.0, SQLite storage), without systemd:
# install | start | stop | wait | status
#
#   install  cargo install tansu 0.6.0 into $RACEWAY_TANSU_ROOT, unless that binary already says 0.6.0;
#            waits for a `cargo install tansu` already running instead of starting a second build
#   start    start the broker on 127.0.0.1:$PORT with sqlite storage under the data folder, wait until
#            it serves requests, then add the missing header index (INFRA.md); no-op when running
#   stop     stop the broker started by `start` (pid file)
#   wait     wait until the port accepts connections and `tansu topic list` succeeds
#   status   print whether it runs; exit 0 when it answers, 3 otherwise
#
# Environment:
#   RACEWAY_DEPLOY_DIR         data folder (default <repo>/.deploy-data); the broker uses ./kafka
#   RACEWAY_KAFKA_PORT         listener port (default 9092)
#   RACEWAY_TANSU_ROOT         install root (default /opt/tansu-0.6.0)
#   RACEWAY_WAIT_SECONDS       how long `wait` waits (default 60)
#   RACEWAY_TANSU_BUILD_WAIT   how long `install` waits for a build already running (default 3600)
set -euo pipefail

# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

TANSU_VERSION="0.6.0"
TANSU_ROOT="${RACEWAY_TANSU_ROOT:-/opt/tansu-$TANSU_VERSION}"
TANSU_BIN="$TANSU_ROOT/bin/tansu"
PORT="${RACEWAY_KAFKA_PORT:-9092}"
WAIT_SECONDS="${RACEWAY_WAIT_SECONDS:-60}"
BUILD_WAIT="${RACEWAY_TANSU_BUILD_WAIT:-3600}"
K_DIR="$DEPLOY_DIR/kafka"
PID_FILE="$K_DIR/tansu.pid"
LOG_FILE="$K_DIR/tansu.log"
DB_FILE="$K_DIR/tansu.db"
BROKER_URL="tcp://127.0.0.1:$PORT"

installed() {
    [[ -x "$TANSU_BIN" ]] && "$TANSU_BIN" --version 2>/dev/null | grep -q "\b$TANSU_VERSION\b"
}

# Pids of `cargo install tansu` builds running now (not this script).
running_builds() {
    pgrep -f "cargo install tansu" 2>/dev/null | grep -vx "$$" || true
}

cmd_install() {
    if installed; then
        log "tansu $TANSU_VERSION already installed at $TANSU_BIN"
        return 0
    fi
    local builds deadline
    builds="$(running_builds)"
    if [[ -n "$builds" ]]; then
        log "a 'cargo install tansu' build is already running (pid $(echo "$builds" | tr '\n' ' ')); waiting for it (up to ${BUILD_WAIT}s)"
        deadline=$((SECONDS + BUILD_WAIT))
        while [[ -n "$(running_builds)" ]]; do
            ((SECONDS < deadline)) || die "the running tansu build did not finish within ${BUILD_WAIT}s"
            sleep 10
        done
        if installed; then
            log "tansu $TANSU_VERSION installed at $TANSU_BIN by the build that was running"
            return 0
        fi
        log "the build that was running did not leave tansu $TANSU_VERSION at $TANSU_BIN; building it now"
    fi
    command -v cargo >/dev/null || die "cargo not found: install a Rust toolchain (rustup) first"
    mkdir -p "$(dirname "$TANSU_ROOT")"
    (
        # One build at a time, even when several scripts run install together.
        flock 9
        if installed; then
            log "tansu $TANSU_VERSION installed meanwhile"
            exit 0
        fi
        log "building tansu $TANSU_VERSION into $TANSU_ROOT (about 11 min on 2 cores)"
        cargo install tansu --locked --version "$TANSU_VERSION" --no-default-features \
            --features libsql,dynostore --root "$TANSU_ROOT"
    ) 9>"$TANSU_ROOT.install.lock"
    installed || die "tansu $TANSU_VERSION is not at $TANSU_BIN after cargo install"
    log "installed tansu $TANSU_VERSION at $TANSU_BIN"
}

# tansu 0.6.0's sqlite schema has no index on `header`: fetches slow down as the log grows.
add_header_index() {
    if ! command -v sqlite3 >/dev/null; then
        apt_install sqlite3
    fi
    local i
    for ((i = 0; i < 100; i++)); do
        if [[ -f "$DB_FILE" ]] && [[ "$(sqlite3 -cmd ".timeout 5000" "$DB_FILE" \
            "select count(*) from sqlite_master where type = 'table' and name = 'header';" 2>/dev/null || true)" == 1 ]]; then
            sqlite3 -cmd ".timeout 10000" "$DB_FILE" \
                "create index if not exists header_topition_offset on header(topition, offset_id);" >/dev/null ||
                die "could not create the header index in $DB_FILE"
            log "header index present in $DB_FILE"
            return 0
        fi
        sleep 0.2
    done
    die "the broker did not create the 'header' table in $DB_FILE within 20 s"
}

cmd_start() {
    ensure_deploy_dir
    mkdir -p "$K_DIR"
    local pid
    if pid="$(pid_alive "$PID_FILE" "tansu broker")"; then
        log "broker already running (pid $pid, $BROKER_URL)"
        return 0
    fi
    if port_open "$PORT"; then
        die "port $PORT is taken by a process not started by this script; set RACEWAY_KAFKA_PORT"
    fi
    installed || die "tansu $TANSU_VERSION is not installed at $TANSU_BIN: run '$0 install'"
    log "starting tansu broker on $BROKER_URL (storage $DB_FILE)"
    (
        # The sqlite path in the storage URL is relative to the broker's working directory.
        cd "$K_DIR"
        nohup "$TANSU_BIN" broker \
            --listener-url "$BROKER_URL" \
            --advertised-listener-url "$BROKER_URL" \
            --storage-engine "sqlite://tansu.db" \
            >>"$LOG_FILE" 2>&1 </dev/null &
        echo $! >"$PID_FILE"
    )
    cmd_wait
    add_header_index
}

cmd_wait() {
    local deadline=$((SECONDS + WAIT_SECONDS))
    check_alive() {
        if [[ -f "$PID_FILE" ]] && ! pid_alive "$PID_FILE" "tansu broker" >/dev/null; then
            log_tail "$LOG_FILE"
            die "the broker exited during start-up (see log above)"
        fi
        if ((SECONDS >= deadline)); then
            log_tail "$LOG_FILE"
            die "the broker at $BROKER_URL was not ready within ${WAIT_SECONDS}s ($1)"
        fi
    }
    until port_open "$PORT"; do
        check_alive "port $PORT never accepted connections"
        sleep 0.2
    done
    [[ -x "$TANSU_BIN" ]] || die "tansu is not installed at $TANSU_BIN (needed to check readiness)"
    until timeout 20 "$TANSU_BIN" topic list --broker "$BROKER_URL" >/dev/null 2>&1; do
        check_alive "'tansu topic list' kept failing"
        sleep 0.5
    done
    log "broker is ready at $BROKER_URL"
}

cmd_stop() {
    stop_pid "$PID_FILE" "tansu broker" "tansu broker"
}

cmd_status() {
    local pid
    if pid="$(pid_alive "$PID_FILE" "tansu broker")"; then
        if port_open "$PORT"; then
            echo "kafka: running (pid $pid), $BROKER_URL accepting connections"
            return 0
        fi
        echo "kafka: running (pid $pid), port $PORT not accepting connections yet"
        return 3
    fi
    if port_open "$PORT"; then
        echo "kafka: a process not started by this script listens on port $PORT"
        return 3
    fi
    echo "kafka: not running"
    return 3
}

service_command "$@"

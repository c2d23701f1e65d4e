# Shared helpers for the deploy scripts. Sourced, not executed.
#
# Everything a script starts lives under one data folder the scripts own:
#   RACEWAY_DEPLOY_DIR (default: <repo>/.deploy-data)
# with one sub-folder per service (pid file, log file, data files).

DEPLOY_SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$DEPLOY_SCRIPT_DIR/.." && pwd)"
DEPLOY_DIR="${RACEWAY_DEPLOY_DIR:-$REPO/.deploy-data}"
[[ "$DEPLOY_DIR" == /* ]] || DEPLOY_DIR="$PWD/$DEPLOY_DIR"

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# service_command ARGS...: runs the service script's cmd_install, cmd_start, cmd_stop, cmd_wait or
# cmd_status as named by the first argument; anything else is a usage error (exit 2).
service_command() {
    case "${1:-}" in
    install | start | stop | wait | status) "cmd_$1" ;;
    *)
        echo "usage: $0 install|start|stop|wait|status" >&2
        exit 2
        ;;
    esac
}

# Creates the data folder, and keeps it out of git.
ensure_deploy_dir() {
    mkdir -p "$DEPLOY_DIR"
    if [[ ! -e "$DEPLOY_DIR/.gitignore" ]]; then
        printf '*\n' >"$DEPLOY_DIR/.gitignore"
    fi
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# pid_alive PIDFILE PATTERN: prints the pid and succeeds when the pid file names a live process
# whose command line contains PATTERN (so a recycled pid is never mistaken for ours).
pid_alive() {
    local pidfile="$1" pattern="$2" pid
    [[ -f "$pidfile" ]] || return 1
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$pattern" || return 1
    printf '%s\n' "$pid"
}

# stop_pid PIDFILE PATTERN NAME: TERM, wait up to 20 s, then KILL; removes the pid file.
stop_pid() {
    local pidfile="$1" pattern="$2" name="$3" pid i
    if ! pid="$(pid_alive "$pidfile" "$pattern")"; then
        log "$name is not running (no live process in $pidfile)"
        rm -f "$pidfile"
        return 0
    fi
    log "stopping $name (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
        [[ -d "/proc/$pid" ]] || break
        sleep 0.1
    done
    if [[ -d "/proc/$pid" ]]; then
        log "$name did not exit within 20 s, sending KILL"
        kill -9 "$pid" 2>/dev/null || true
        sleep 0.5
    fi
    rm -f "$pidfile"
    log "$name stopped"
}

# Installs Debian packages (apt-get update first) when a command is missing.
apt_install() {
    command -v apt-get >/dev/null || die "apt-get not found: install $* by hand"
    local sudo=""
    if [[ "$(id -u)" != 0 ]]; then
        command -v sudo >/dev/null || die "need root (or sudo) to install $*"
        sudo="sudo"
    fi
    log "installing $* with apt-get"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# Build prerequisites of rdkafka's bundled librdkafka: cmake, and curl's headers (librdkafka
# 2.12's build includes curl/curl.h even with curl support turned off). Installs what is missing.
ensure_build_prereqs() {
    if ! command -v cmake >/dev/null ||
        [[ ! -e /usr/include/x86_64-linux-gnu/curl/curl.h && ! -e /usr/include/curl/curl.h ]]; then
        apt_install cmake libcurl4-openssl-dev
    fi
}

# Prints the last lines of a log file to stderr, for failure messages.
log_tail() {
    local file="$1"
    if [[ -f "$file" ]]; then
        log "last lines of $file:"
        tail -n 30 "$file" >&2 || true
    else
        log "(no log file at $file)"
    fi
}

#!/usr/bin/env bash
# Shared settings of the cluster scripts; sourced, not run.
#
#   SLUICE_HOME      the installation (default: this script's parent directory)
#   SLUICE_CONF_DIR  holds config.yaml and workers (default: $SLUICE_HOME/conf)
#   SLUICE_LOG_DIR   daemon and worker logs (default: $SLUICE_HOME/log)
#   SLUICE_PID_DIR   pid files (default: /tmp)
#   SLUICE_BIN       the sluice executable (default: target/release/sluice, then target/debug,
#                    then the one on PATH)

SLUICE_HOME="${SLUICE_HOME:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
SLUICE_CONF_DIR="${SLUICE_CONF_DIR:-$SLUICE_HOME/conf}"
SLUICE_LOG_DIR="${SLUICE_LOG_DIR:-$SLUICE_HOME/log}"
SLUICE_PID_DIR="${SLUICE_PID_DIR:-/tmp}"
SLUICE_IDENT="${SLUICE_IDENT:-${USER:-$(id -un)}}"
export SLUICE_HOME SLUICE_CONF_DIR SLUICE_LOG_DIR SLUICE_PID_DIR

if [ -z "${SLUICE_BIN:-}" ]; then
    for candidate in "$SLUICE_HOME/target/release/sluice" \
        "${CARGO_TARGET_DIR:+$CARGO_TARGET_DIR/release/sluice}" \
        "$SLUICE_HOME/target/debug/sluice" \
        "${CARGO_TARGET_DIR:+$CARGO_TARGET_DIR/debug/sluice}"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ]; then
            SLUICE_BIN="$candidate"
            break
        fi
    done
fi
SLUICE_BIN="${SLUICE_BIN:-$(command -v sluice || true)}"
if [ -z "$SLUICE_BIN" ]; then
    echo "cannot find the sluice executable: build it (cargo build --release) or set SLUICE_BIN" >&2
    exit 1
fi

# The secret start-cluster.sh makes when the configuration sets none.
SLUICE_SECRET_FILE="$SLUICE_PID_DIR/sluice-$SLUICE_IDENT-cluster.secret"
if [ -z "${SLUICE_CLUSTER_SECRET:-}" ] && [ -r "$SLUICE_SECRET_FILE" ]; then
    SLUICE_CLUSTER_SECRET="$(cat "$SLUICE_SECRET_FILE")"
    export SLUICE_CLUSTER_SECRET
fi

# The hosts of conf/workers, without comments and blank lines.
read_workers() {
    local file="$SLUICE_CONF_DIR/workers"
    if [ ! -r "$file" ]; then
        echo "localhost"
        return
    fi
    sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e 's/^[[:space:]]*//' "$file" | grep -v '^$'
}

# Whether host $1 is this machine.
is_local_host() {
    case "$1" in
        localhost | 127.0.0.1 | ::1 | "$(hostname)" | "$(hostname -f 2>/dev/null)") return 0 ;;
        *) return 1 ;;
    esac
}

# How many earlier logs of a daemon are kept (log.1 is the newest), as Flink keeps them.
SLUICE_MAX_LOG_FILES="${SLUICE_MAX_LOG_FILES:-10}"

# Moves log file $1 to $1.1, $1.1 to $1.2, ... (dropping the oldest), so a restart keeps the log
# of the run before it: the evidence of a crash.
rotate_log() {
    local log="$1" n="$SLUICE_MAX_LOG_FILES"
    [ -f "$log" ] || return 0
    while [ "$n" -gt 1 ]; do
        [ -f "$log.$((n - 1))" ] && mv -f "$log.$((n - 1))" "$log.$n"
        n=$((n - 1))
    done
    mv -f "$log" "$log.1"
}

# Starts `sluice $1` in the background, one more instance, recording its pid.
start_daemon() {
    local role="$1"
    shift
    local pid_file="$SLUICE_PID_DIR/sluice-$SLUICE_IDENT-$role.pid"
    mkdir -p "$SLUICE_LOG_DIR" "$SLUICE_PID_DIR"
    local instance=0
    if [ -f "$pid_file" ]; then
        instance=$(grep -c . "$pid_file" || true)
    fi
    local log="$SLUICE_LOG_DIR/sluice-$SLUICE_IDENT-$role-$instance-$(hostname).log"
    rotate_log "$log"
    nohup "$SLUICE_BIN" "$role" --conf-dir "$SLUICE_CONF_DIR" "$@" >"$log" 2>&1 </dev/null &
    echo $! >>"$pid_file"
    echo "Starting $role daemon on host $(hostname) (pid $!, log $log)."
}

# Stops the last started instance of `sluice $1` (all of them with "all"), waiting until gone.
stop_daemon() {
    local role="$1" which="${2:-last}"
    local pid_file="$SLUICE_PID_DIR/sluice-$SLUICE_IDENT-$role.pid"
    if [ ! -s "$pid_file" ]; then
        echo "No $role daemon to stop on host $(hostname)."
        return 0
    fi
    local pids
    if [ "$which" = all ]; then
        pids=$(cat "$pid_file")
        rm -f "$pid_file"
    else
        pids=$(tail -n 1 "$pid_file")
        sed -i '$d' "$pid_file"
        [ -s "$pid_file" ] || rm -f "$pid_file"
    fi
    local pid
    for pid in $pids; do
        if kill -0 "$pid" 2>/dev/null; then
            echo "Stopping $role daemon (pid: $pid) on host $(hostname)."
            kill "$pid" 2>/dev/null || true
        else
            echo "No $role daemon (pid: $pid) is running anymore on $(hostname)."
        fi
    done
    for pid in $pids; do
        local waited=0
        while kill -0 "$pid" 2>/dev/null && [ $waited -lt 150 ]; do
            sleep 0.1
            waited=$((waited + 1))
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "$role (pid: $pid) did not stop within 15 s; killing it."
            kill -9 "$pid" 2>/dev/null || true
        fi
    done
}

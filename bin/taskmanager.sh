#!/usr/bin/env bash
# Starts one more TaskManager on this machine, or stops the last one started (stop-all: every
# one): taskmanager.sh start|stop|stop-all [-D key=value ...]
set -euo pipefail
. "$(dirname "$0")/config.sh"

case "${1:-}" in
    start)
        shift
        start_daemon taskmanager --log-dir "$SLUICE_LOG_DIR" "$@"
        ;;
    stop)
        stop_daemon taskmanager last
        ;;
    stop-all)
        stop_daemon taskmanager all
        ;;
    *)
        echo "usage: $0 start|stop|stop-all [-D key=value ...]" >&2
        exit 1
        ;;
esac

#!/usr/bin/env bash
# Starts or stops the JobManager on this machine: jobmanager.sh start|stop [-D key=value ...]
set -euo pipefail
. "$(dirname "$0")/config.sh"

case "${1:-}" in
    start)
        shift
        start_daemon jobmanager "$@"
        ;;
    stop)
        stop_daemon jobmanager all
        ;;
    *)
        echo "usage: $0 start|stop [-D key=value ...]" >&2
        exit 1
        ;;
esac

#!/usr/bin/env bash
# Stops the standalone cluster: the TaskManagers of conf/workers (and their worker
# processes), then the JobManager. Waits until every process is gone.
set -euo pipefail
. "$(dirname "$0")/config.sh"

while read -r host; do
    if is_local_host "$host"; then
        "$SLUICE_HOME/bin/taskmanager.sh" stop
    else
        ssh -n "$host" "cd '$SLUICE_HOME' && bin/taskmanager.sh stop"
    fi
done < <(read_workers)

"$SLUICE_HOME/bin/jobmanager.sh" stop
rm -f "$SLUICE_SECRET_FILE"

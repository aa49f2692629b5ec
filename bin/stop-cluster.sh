#!/usr/bin/env bash
# Stops the standalone cluster: the TaskManagers of conf/workers (and their worker
# processes), then the JobManager. Waits until every process is gone.
set -euo pipefail
. "$(dirname "$0")/config.sh"

# Remote TaskManagers one per line, as they were started; this machine's all at once (they
# stop in parallel).
local_workers=0
while read -r host; do
    if is_local_host "$host"; then
        local_workers=$((local_workers + 1))
    else
        ssh -n "$host" "cd '$SLUICE_HOME' && bin/taskmanager.sh stop"
    fi
done < <(read_workers)
if [ "$local_workers" -gt 0 ]; then
    "$SLUICE_HOME/bin/taskmanager.sh" stop-all
fi

"$SLUICE_HOME/bin/jobmanager.sh" stop
rm -f "$SLUICE_SECRET_FILE"

#!/usr/bin/env bash
# Starts a standalone cluster: the JobManager here, and a TaskManager for every line of
# conf/workers (here for this machine's names, over ssh for other hosts). Returns once the
# REST API answers and every TaskManager registered.
set -euo pipefail
. "$(dirname "$0")/config.sh"

# Without a configured secret, make one for this cluster's processes on this machine.
if [ -z "${SLUICE_CLUSTER_SECRET:-}" ] &&
    ! grep -Eq '^[[:space:]]*(security\.cluster\.)?secret[[:space:]]*:' "$SLUICE_CONF_DIR/config.yaml" 2>/dev/null; then
    mkdir -p "$SLUICE_PID_DIR"
    (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$SLUICE_SECRET_FILE")
    SLUICE_CLUSTER_SECRET="$(cat "$SLUICE_SECRET_FILE")"
    export SLUICE_CLUSTER_SECRET
fi

"$SLUICE_HOME/bin/jobmanager.sh" start

count=0
while read -r host; do
    count=$((count + 1))
    if is_local_host "$host"; then
        "$SLUICE_HOME/bin/taskmanager.sh" start
    else
        ssh -n "$host" "cd '$SLUICE_HOME' && SLUICE_CLUSTER_SECRET='${SLUICE_CLUSTER_SECRET:-}' bin/taskmanager.sh start"
    fi
done < <(read_workers)

"$SLUICE_BIN" overview --conf-dir "$SLUICE_CONF_DIR" --wait-for-taskmanagers "$count" --timeout 60 >/dev/null
echo "Cluster ready: $count TaskManagers registered."

# Pieces the cluster benchmarks share (sourced): Sluice's and Flink's standalone clusters of
# one JobManager and two TaskManagers with one slot each on this machine, and the shuffle job.

# sluice_cluster_conf WORK [EXTRA_YAML]: WORK/conf for `bin/start-cluster.sh` (control port
# 16123, REST 18081, blobs in WORK, two TaskManagers on localhost), with EXTRA_YAML appended;
# exports what bin/ scripts read.
sluice_cluster_conf() {
    mkdir -p "$1/conf"
    cat >"$1/conf/config.yaml" <<YAML
jobmanager:
  rpc:
    address: localhost
    port: 16123
rest:
  port: 18081
taskmanager:
  numberOfTaskSlots: 1
blob:
  storage:
    directory: $1/blobs
${2:-}
YAML
    printf 'localhost\nlocalhost\n' >"$1/conf/workers"
    export SLUICE_CONF_DIR="$1/conf" SLUICE_PID_DIR="$1/pids" SLUICE_LOG_DIR="$1/log" SLUICE_BIN="$SLUICE"
}

# start_flink_shuffle_cluster WORK: compiles benches/flink/ShuffleBench.java into
# WORK/flink-build/shuffle.jar, starts Flink's cluster from a copy of its configuration with
# two TaskManagers and waits for both. Needs FLINK_HOME and ROOT.
start_flink_shuffle_cluster() {
    mkdir -p "$1/flink-build"
    javac -nowarn -d "$1/flink-build" -cp "$FLINK_HOME/lib/*" "$ROOT/benches/flink/ShuffleBench.java"
    (cd "$1/flink-build" && jar cf shuffle.jar ./*.class)
    cp -r "$FLINK_HOME/conf" "$1/flink-conf"
    printf 'localhost\nlocalhost\n' >"$1/flink-conf/workers"
    export FLINK_CONF_DIR="$1/flink-conf" FLINK_LOG_DIR="$1/flink-log"
    mkdir -p "$FLINK_LOG_DIR"
    "$FLINK_HOME/bin/start-cluster.sh" >&2
    for _ in $(seq 120); do
        curl -sf localhost:8081/overview | grep -q '"taskmanagers":2' && break
        sleep 0.5
    done
}

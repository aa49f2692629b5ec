#!/usr/bin/env bash
# The REST API and Prometheus endpoints under load while a job runs at full speed, Sluice's
# cluster beside Apache Flink's standalone cluster (when its peer is set up), in one run:
#   - `GET /overview` and `GET /jobs/<id>`, alternately, 200 requests/s in all for 15 s, while
#     the shuffle job (examples/bench_shuffle.rs, benches/flink/ShuffleBench.java) runs at p=2:
#     latency p50/p99 from each request's scheduled time (examples/bench_rest_load.rs);
#   - with Sluice, the Prometheus endpoints of the JobManager and both TaskManagers scraped
#     every second as well;
#   - the same load again over one kept-alive connection (as a browser's dashboard polls);
#   - the job's throughput with that load, against the same job without it; and with a
#     baseline load of the same requests to `/config` (no job data, no Prometheus): the cost
#     of the connections and of the load generator itself;
#   - the dashboard's first load in headless Chromium (examples/bench_dashboard_load.rs), when
#     chromedriver is installed (scripts/install-chromium.sh).
#
# The quiet and loaded runs alternate RUNS times (default 3); the throughputs are their medians,
# the latencies those of the last loaded run.
#
#   scripts/bench_rest.sh [SLUICE_RECORDS=300000000] [FLINK_RECORDS=100000000]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
NS="${1:-300000000}"
NF="${2:-100000000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
(cd "$ROOT" && cargo build --release --bin sluice --example bench_shuffle \
    --example bench_rest_load --example bench_dashboard_load >&2)
SLUICE="$CARGO_TARGET_DIR/release/sluice"
JOB="$CARGO_TARGET_DIR/release/examples/bench_shuffle"
LOAD="$CARGO_TARGET_DIR/release/examples/bench_rest_load"
RUNS="${RUNS:-3}"
WORK="$(mktemp -d /tmp/sluice-bench-rest.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
source "$ROOT/scripts/cluster_bench_lib.sh"

# records_per_s REPORT_DIR: the meters' records over their first to last record.
records_per_s() {
    cat "$1"/sink-*.txt | awk '
        { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
          records += v["records"]
          if (first == "" || v["first_ns"] < first) first = v["first_ns"]
          if (v["last_ns"] > last) last = v["last_ns"] }
        END { printf "%.0f", records / ((last - first) / 1e9) }'
}

# median VALUES...: the middle one.
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# compare ENGINE RUN_QUIET RUN_LOADED: RUNS alternating quiet and loaded runs (RUN_LOADED runs the
# job and the load); prints the medians and their ratio.
compare() {
    local quiet=() loaded=()
    for i in $(seq "$RUNS"); do
        "$2" "$WORK/$1-quiet-$i"
        quiet+=("$(records_per_s "$WORK/$1-quiet-$i")")
        "$3" "$WORK/$1-load-$i" >"$WORK/$1-load.txt"
        loaded+=("$(records_per_s "$WORK/$1-load-$i")")
    done
    sed "s/^/$1 /" "$WORK/$1-load.txt"
    local q l
    q=$(median "${quiet[@]}")
    l=$(median "${loaded[@]}")
    echo "$1 job records_per_s quiet=$q (${quiet[*]}) under_load=$l (${loaded[*]}) ratio=$(awk -v a="$l" -v b="$q" 'BEGIN { printf "%.3f", a / b }')"
}

echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $RUNS runs each"

# ---- Sluice: one JobManager, two TaskManagers with one slot each, Prometheus on
sluice_cluster_conf "$WORK" "metrics:
  reporter:
    prom:
      factory.class: org.apache.flink.metrics.prometheus.PrometheusReporterFactory
      port: 19249-19260"
"$ROOT/bin/start-cluster.sh" >&2
for _ in $(seq 100); do
    curl -sf localhost:18081/overview | grep -q '"taskmanagers":2' && break
    sleep 0.2
done
scrapes=$(grep -ho 'Prometheus metrics on http://[^/]*' "$WORK"/log/*.log | sed 's#.*http://##' | paste -sd, -)
sluice_quiet() { "$SLUICE" run -p 2 "$JOB" --report "$1" --records "$NS" --payload 0 >/dev/null; }
sluice_loaded() {
    "$SLUICE" run -p 2 "$JOB" --report "$1" --records "$NS" --payload 0 >/dev/null &
    local run=$!
    "$LOAD" --endpoint 127.0.0.1:18081 --rate 200 --seconds 15 --scrape "$scrapes"
    wait "$run"
}
sluice_baseline() {
    "$SLUICE" run -p 2 "$JOB" --report "$1" --records "$NS" --payload 0 >/dev/null &
    local run=$!
    "$LOAD" --endpoint 127.0.0.1:18081 --rate 200 --seconds 15 --paths /config
    wait "$run"
}
sluice_kept_alive() {
    "$SLUICE" run -p 2 "$JOB" --report "$1" --records "$NS" --payload 0 >/dev/null &
    local run=$!
    "$LOAD" --endpoint 127.0.0.1:18081 --rate 200 --seconds 15 --scrape "$scrapes" --keep-alive
    wait "$run"
}
compare sluice sluice_quiet sluice_loaded
compare sluice-keep-alive sluice_quiet sluice_kept_alive
compare sluice-baseline sluice_quiet sluice_baseline
if command -v chromedriver >/dev/null; then
    "$CARGO_TARGET_DIR/release/examples/bench_dashboard_load" --url http://127.0.0.1:18081/ \
        --chromedriver "$(command -v chromedriver)" | sed 's/^/sluice /'
fi
"$ROOT/bin/stop-cluster.sh" >&2

# ---- Flink standalone cluster, the same shape
FLINK_HOME="${FLINK_HOME:-$("$ROOT/scripts/install-flink.sh")}"
if [ -n "$FLINK_HOME" ] && [ -x "$FLINK_HOME/bin/start-cluster.sh" ]; then
    start_flink_shuffle_cluster "$WORK"
    flink_quiet() { # REPORT
        "$FLINK_HOME/bin/flink" run -p 2 -c ShuffleBench "$WORK/flink-build/shuffle.jar" "$NF" 0 0 100 "$1" >/dev/null
    }
    flink_loaded() {
        flink_quiet "$1" &
        local run=$!
        "$LOAD" --endpoint 127.0.0.1:8081 --rate 200 --seconds 15
        wait "$run"
    }
    flink_kept_alive() {
        flink_quiet "$1" &
        local run=$!
        "$LOAD" --endpoint 127.0.0.1:8081 --rate 200 --seconds 15 --keep-alive
        wait "$run"
    }
    compare flink flink_quiet flink_loaded
    compare flink-keep-alive flink_quiet flink_kept_alive
    if command -v chromedriver >/dev/null; then
        "$CARGO_TARGET_DIR/release/examples/bench_dashboard_load" --url http://127.0.0.1:8081/ \
            --chromedriver "$(command -v chromedriver)" --ready-text "Available Task Slots" | sed 's/^/flink /'
    fi
    "$FLINK_HOME/bin/stop-cluster.sh" >&2
fi

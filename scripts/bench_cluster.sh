#!/usr/bin/env bash
# Cluster benchmarks, side by side with Apache Flink's standalone cluster when its peer is set up
# (FLINK_HOME, or the PyPI install of ../shared-style peers under $SLUICE_PEERS_CACHE).
#
#   scripts/bench_cluster.sh [RECORDS_16B=20000000] [RECORDS_1K=2000000]
#
# Both clusters: one JobManager and two TaskManagers with one slot each on this machine. The
# job (examples/bench_shuffle.rs, benches/flink/ShuffleBench.java) generates records at p=2 and
# hash-partitions them to two meters, so half of all records cross between the TaskManagers.
#   - throughput, 16-byte and 1 KiB records, buffer timeout 100 ms;
#   - the same Sluice job in one process (the embedded mini-cluster) at p=2, and on the
#     cluster with mutual TLS (certificates made with openssl);
#   - latency p50/p99 from creation to the meter with a 1 ms buffer timeout, paced at half of
#     Flink's peak 16-byte rate (both systems at the same rate) and at half of Sluice's own;
#   - submission: from starting the `run` command to the first record at a meter.
# Prints one line per run; BENCHMARKS.md records them.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
N16="${1:-20000000}"
N1K="${2:-2000000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
(cd "$ROOT" && cargo build --release --bin sluice --example bench_shuffle >&2)
SLUICE="$CARGO_TARGET_DIR/release/sluice"
JOB="$CARGO_TARGET_DIR/release/examples/bench_shuffle"
WORK="$(mktemp -d /tmp/sluice-bench-cluster.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
source "$ROOT/scripts/cluster_bench_lib.sh"

now_ns() { date +%s%N; }

# summarize SYSTEM CASE REPORT_DIR START_NS: adds up the meters' lines.
summarize() {
    cat "$3"/sink-*.txt | awk -v sys="$1" -v case="$2" -v start="$4" '
        { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
          records += v["records"]; bytes += v["bytes"]
          if (first == "" || v["first_ns"] < first) first = v["first_ns"]
          if (v["last_ns"] > last) last = v["last_ns"]
          if (v["p50_us"] > p50) p50 = v["p50_us"]; if (v["p99_us"] > p99) p99 = v["p99_us"] }
        END { wall = (last - first) / 1e9
              line = sprintf("%s %s p=2 records=%d wall_s=%.3f records_per_s=%.0f mb_per_s=%.1f submit_to_first_record_s=%.3f",
                             sys, case, records, wall, records / wall, bytes / 1e6 / wall, (first - start) / 1e9)
              if (p99 > 0) line = line sprintf(" p50_ms=%.2f p99_ms=%.2f", p50 / 1000, p99 / 1000)
              print line }'
}

rate_of() { awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^records_per_s=/) { split($i, kv, "="); print int(kv[2]) } }' <<<"$1"; }

# ---- Sluice cluster
sluice_cluster_conf "$WORK"
"$ROOT/bin/start-cluster.sh" >&2
sluice_run() { # CASE ARGS... (SYSTEM names the cluster in the output, BINARY the job)
    local system="${SYSTEM:-sluice-cluster}" case="$1" start
    local report="$WORK/$system-$case"
    shift
    start=$(now_ns)
    "$SLUICE" run -p 2 "${BINARY:-$JOB}" --report "$report" "$@" >/dev/null
    summarize "$system" "$case" "$report" "$start"
}
echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores; job binary $(($(stat -c %s "$JOB") / 1000000)) MB"
# Submission: a binary new to the cluster (uploaded, fetched by both TaskManagers), the same
# stripped of debug info, and one the JobManager and TaskManagers hold already.
sluice_run submit-new-binary --records 1000 --payload 0
if command -v strip >/dev/null; then
    strip -o "$WORK/bench_shuffle_stripped" "$JOB"
    BINARY="$WORK/bench_shuffle_stripped" sluice_run "submit-new-stripped-$(($(stat -c %s "$WORK/bench_shuffle_stripped") / 1000000))mb" --records 1000 --payload 0
fi
sluice_run submit-known-binary --records 1000 --payload 0
S16=$(sluice_run shuffle-16b --records "$N16" --payload 0)
echo "$S16"
sluice_run shuffle-1kib --records "$N1K" --payload 1008
"$ROOT/bin/stop-cluster.sh" >&2

# ---- Sluice cluster with mutual TLS (certificates made with openssl)
if command -v openssl >/dev/null; then
    CERTS="$WORK/certs"
    mkdir -p "$CERTS"
    (
        cd "$CERTS"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key \
            -out ca.pem -days 2 -subj /CN=bench-ca -addext basicConstraints=critical,CA:TRUE \
            -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout node.key \
            -out node.csr -subj /CN=sluice-internal 2>/dev/null
        printf 'subjectAltName=DNS:sluice-internal\nextendedKeyUsage=serverAuth,clientAuth\n' >node.ext
        openssl x509 -req -in node.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out node.pem \
            -days 2 -extfile node.ext 2>/dev/null
    )
    cat >>"$WORK/conf/config.yaml" <<YAML
security:
  ssl:
    internal:
      enabled: true
      cert-file: $CERTS/node.pem
      key-file: $CERTS/node.key
      ca-file: $CERTS/ca.pem
YAML
    "$ROOT/bin/start-cluster.sh" >&2
    SYSTEM=sluice-cluster-mtls sluice_run shuffle-16b --records "$N16" --payload 0
    SYSTEM=sluice-cluster-mtls sluice_run shuffle-1kib --records "$N1K" --payload 1008
    "$ROOT/bin/stop-cluster.sh" >&2
    sed -i '/^security:/,$d' "$WORK/conf/config.yaml"
fi

# ---- Sluice in one process
one_process() { # CASE ARGS...
    local case="$1" report="$WORK/p-$1" start
    shift
    start=$(now_ns)
    SLUICE_PARALLELISM=2 "$JOB" --report "$report" "$@" >/dev/null
    summarize sluice-one-process "$case" "$report" "$start"
}
one_process shuffle-16b --records "$N16" --payload 0
one_process shuffle-1kib --records "$N1K" --payload 1008

# ---- Flink standalone cluster
FLINK_HOME="${FLINK_HOME:-$("$ROOT/scripts/install-flink.sh")}"
F16=""
if [ -n "$FLINK_HOME" ] && [ -x "$FLINK_HOME/bin/start-cluster.sh" ]; then
    start_flink_shuffle_cluster "$WORK"
    flink_run() { # CASE RECORDS PAYLOAD RATE BUFFER_TIMEOUT
        local case="$1" report="$WORK/f-$1" start
        start=$(now_ns)
        "$FLINK_HOME/bin/flink" run -p 2 -c ShuffleBench "$WORK/flink-build/shuffle.jar" "$2" "$3" "$4" "$5" "$report" >/dev/null
        summarize flink-cluster "$case" "$report" "$start"
    }
    flink_run submit-new-jar 1000 0 0 100
    F16=$(flink_run shuffle-16b "$N16" 0 0 100)
    echo "$F16"
    flink_run shuffle-1kib "$N1K" 1008 0 100
fi

# ---- Latency at half the peak rate, 1 ms buffer timeout
if [ -n "$F16" ]; then
    RATE=$(($(rate_of "$F16") / 2))
    flink_run "latency-at-${RATE}/s" $((RATE * 10)) 0 "$RATE" 1
    "$FLINK_HOME/bin/stop-cluster.sh" >&2
fi
"$ROOT/bin/start-cluster.sh" >&2
if [ -n "$F16" ]; then
    sluice_run "latency-at-${RATE}/s" --records $((RATE * 10)) --payload 0 --rate "$RATE" --buffer-timeout-ms 1
fi
OWN=$(($(rate_of "$S16") / 2))
sluice_run "latency-at-${OWN}/s" --records $((OWN * 10)) --payload 0 --rate "$OWN" --buffer-timeout-ms 1
"$ROOT/bin/stop-cluster.sh" >&2

#!/usr/bin/env bash
# Checkpoints under load, Sluice beside Apache Flink on the same DataStream job: keyed running
# sums over KEYS keys at p=1, RECORDS records on RocksDB and ten times as many on the heap
# (Sluice: `bench_throughput keyed-sum`, Flink: benches/flink/KeyedSum.java; the same records,
# keys and sums, the totals checked equal), a checkpoint every second into a local directory.
# Cases: RocksDB with incremental checkpoints, aligned and unaligned; heap state with aligned
# checkpoints. For each run: its throughput (whole process, start to exit) and its checkpoints'
# count, average and longest duration (Sluice: the job's own report; Flink: its
# CheckpointCoordinator's "Completed checkpoint" log lines, from trigger to acknowledgement of
# every task). Prints a Markdown table.
#
#   scripts/bench_checkpoints.sh [RECORDS=5000000] [KEYS=1000000]
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS="${1:-5000000}"
KEYS="${2:-1000000}"
source scripts/bench_lib.sh
prepare_bench_throughput
benches/flink/run.sh KeyedSum 1 1 1 >/dev/null 2>&1 # compiles it outside the measured runs
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# The total of every updated sum: for each key 1 + 2 + … up to its count.
expected_total() { # RECORDS KEYS
  python3 -c "
q, extra = divmod($1, $2)
print(sum(c * (c + 1) // 2 for c in [q + 1] * extra + [q] * ($2 - extra)))"
}

check_checksum() { # OUTPUT_FILE ENGINE
  local got expected
  expected=$(expected_total "$records" "$KEYS")
  got=$(sed -n 's/^checksum=//p' "$1")
  if [ "$got" != "$expected" ]; then
    echo "$2 printed checksum '$got', expected $expected" >&2
    exit 1
  fi
}

# Prints "seconds count average_ms longest_ms" for one Sluice run.
sluice_run() { # BACKEND MODE
  local flags=(--state-backend "$1" --checkpoint-dir "$WORK/sluice-$1-$2" --checkpoint-interval-ms 1000)
  [ "$1" = rocksdb ] && flags+=(--incremental)
  [ "$2" = unaligned ] && flags+=(--unaligned)
  local start end
  start=$(date +%s%N)
  "$SLUICE" keyed-sum --records "$records" --keys "$KEYS" -p 1 "${flags[@]}" >"$WORK/out" 2>"$WORK/err" || {
    cat "$WORK/err" >&2
    exit 1
  }
  end=$(date +%s%N)
  check_checksum "$WORK/out" Sluice
  awk -v ns=$((end - start)) '/^checkpoints=/ {
      for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      printf "%.2f %d %.0f %.0f\n", ns / 1e9, v["checkpoints"], v["avg_ms"], v["max_ms"] }' "$WORK/out"
}

# Prints "seconds count average_ms longest_ms" for one Flink run.
flink_run() { # BACKEND MODE
  local start end
  start=$(date +%s%N)
  FLINK_LOG_CHECKPOINTS=1 benches/flink/run.sh KeyedSum "$records" "$KEYS" 1 "$1" \
    "$WORK/flink-$1-$2" 1000 "$2" >"$WORK/out" 2>"$WORK/err" || {
    cat "$WORK/err" >&2
    exit 1
  }
  end=$(date +%s%N)
  check_checksum "$WORK/out" Flink
  sed -n 's/.*Completed checkpoint .*checkpointDuration=\([0-9]*\) ms.*/\1/p' "$WORK/err" |
    awk -v ns=$((end - start)) '{ n++; sum += $1; if ($1 > max) max = $1 }
      END { printf "%.2f %d %.0f %.0f\n", ns / 1e9, n, n ? sum / n : 0, max }'
}

echo "Keyed sums with a checkpoint every second, $KEYS keys, p=1 ($RECORDS records on RocksDB, $((RECORDS * 10)) on the heap); $(nproc) cores; $(date -u +%Y-%m-%d); one run each"
echo
echo "| state, checkpoints | Sluice: throughput | checkpoints: count, avg / max | Flink 2.3: throughput | checkpoints: count, avg / max | speed | checkpoint duration, Sluice / Flink |"
echo "|---|---|---|---|---|---|---|"
for case in "rocksdb aligned" "rocksdb unaligned" "hashmap aligned"; do
  read -r backend mode <<<"$case"
  records=$RECORDS
  [ "$backend" = hashmap ] && records=$((RECORDS * 10))
  read -r sw sn sa sm <<<"$(sluice_run "$backend" "$mode")"
  read -r fw fn fa fm <<<"$(flink_run "$backend" "$mode")"
  label="$backend, $mode"
  [ "$backend" = rocksdb ] && label="$label incremental"
  awk -v l="$label" -v r="$records" -v sw="$sw" -v sn="$sn" -v sa="$sa" -v sm="$sm" \
    -v fw="$fw" -v fn="$fn" -v fa="$fa" -v fm="$fm" 'BEGIN {
    printf "| %s | %.2f s (%.0f K records/s) | %d, %d / %d ms | %.2f s (%.0f K records/s) | %d, %d / %d ms | **%.1f×** | **%.2f** |\n",
      l, sw, r / sw / 1e3, sn, sa, sm, fw, r / fw / 1e3, fn, fa, fm, fw / sw, (fa > 0 ? sa / fa : 0) }'
done

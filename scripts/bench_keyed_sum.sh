#!/usr/bin/env bash
# Keyed running sums, Sluice beside Apache Flink at the same API level, as whole processes.
#
#   scripts/bench_keyed_sum.sh [RECORDS=50000000] [KEYS=10000]
#
# Both sides run the DataStream job `from_sequence(0, RECORDS-1) → map(n → (n % KEYS, 1)) →
# key_by → sum`, every updated sum into a sink that adds the sums up (Sluice:
# `bench_throughput keyed-sum`, Flink: benches/flink/KeyedSum.java, heap state, no
# checkpoints; then RocksDB with incremental checkpoints every second, records/5 records over
# records/50 keys). Both must print the same checksum, the one computed here. Every run is a fresh
# process timed from start to exit; each cell is the median of RUNS runs (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS="${1:-50000000}"
KEYS="${2:-10000}"
source scripts/bench_lib.sh
prepare_bench_throughput
# For each key, 1 + 2 + ... + its count: the sum of every updated sum.
expected=$(python3 -c "
r, k = $RECORDS, $KEYS
q, extra = divmod(r, k)
print(sum(c * (c + 1) // 2 for c in [q + 1] * extra + [q] * (k - extra)))")

BENCH_OUTPUT="$(mktemp)"
trap 'rm -f "$BENCH_OUTPUT"' EXIT
# Every run printed the expected checksum, and nothing else as one.
check_checksums() {
  if grep '^checksum=' "$BENCH_OUTPUT" | grep -vqx "checksum=$expected" ||
    ! grep -q '^checksum=' "$BENCH_OUTPUT"; then
    echo "wrong checksums: $(grep '^checksum=' "$BENCH_OUTPUT" | sort -u | tr '\n' ' ')want $expected" >&2
    exit 1
  fi
}

benches/flink/run.sh KeyedSum 1 1 1 >/dev/null 2>&1 # compiles it outside the measured runs
echo "Keyed sums, $RECORDS records, $KEYS keys, every update to a summing sink; $(nproc) cores; $(date -u +%Y-%m-%d); median of $RUNS whole-process runs"
echo
echo "| p | Sluice | Sluice peak RSS | Flink 2.3 | Flink peak RSS | speed | memory |"
echo "|---|---|---|---|---|---|---|"
for p in 1 2; do
  read -r sw sr <<<"$(median "$SLUICE" keyed-sum --records "$RECORDS" --keys "$KEYS" -p "$p")"
  read -r fw fr <<<"$(median benches/flink/run.sh KeyedSum "$RECORDS" "$KEYS" "$p")"
  check_checksums
  awk -v p="$p" -v n="$RECORDS" -v sw="$sw" -v sr="$sr" -v fw="$fw" -v fr="$fr" 'BEGIN {
    printf "| %s | %.2f s (%.1f M records/s) | %d MB | %.2f s (%.1f M records/s) | %d MB | **%.1f×** | **1/%.0f** |\n",
      p, sw, n / sw / 1e6, sr, fw, n / fw / 1e6, fr, fw / sw, fr / sr }'
done

# RocksDB with incremental checkpoints every second, 1 M keys: each key updated ten times.
rocks_records=$((RECORDS / 5))
rocks_keys=$((rocks_records / 10))
expected=$(python3 -c "
r, k = $rocks_records, $rocks_keys
q, extra = divmod(r, k)
print(sum(c * (c + 1) // 2 for c in [q + 1] * extra + [q] * (k - extra)))")
: >"$BENCH_OUTPUT"
CHECKPOINTS="$(mktemp -d)"
trap 'rm -rf "$BENCH_OUTPUT" "$CHECKPOINTS"' EXIT
echo
echo "RocksDB state, incremental checkpoints every 1 s, $rocks_records records, $rocks_keys keys, p=1; median of ${RUNS_ROCKSDB:-1}"
echo
echo "| | Sluice | Sluice peak RSS | Flink 2.3 | Flink peak RSS | speed | memory |"
echo "|---|---|---|---|---|---|---|"
read -r sw sr <<<"$(RUNS="${RUNS_ROCKSDB:-1}" median "$SLUICE" keyed-sum --records "$rocks_records" --keys "$rocks_keys" -p 1 \
  --state-backend rocksdb --incremental --checkpoint-dir "$CHECKPOINTS/sluice" --checkpoint-interval-ms 1000)"
read -r fw fr <<<"$(RUNS="${RUNS_ROCKSDB:-1}" median benches/flink/run.sh KeyedSum "$rocks_records" "$rocks_keys" 1 rocksdb "$CHECKPOINTS/flink" 1000)"
check_checksums
awk -v n="$rocks_records" -v sw="$sw" -v sr="$sr" -v fw="$fw" -v fr="$fr" 'BEGIN {
  printf "| rocksdb | %.2f s (%.0f K records/s) | %d MB | %.2f s (%.0f K records/s) | %d MB | **%.1f×** | **1/%.0f** |\n",
    sw, n / sw / 1e3, sr, fw, n / fw / 1e3, fr, fw / sw, fr / sr }'

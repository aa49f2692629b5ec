#!/usr/bin/env bash
# State backend benchmarks of Sluice's RocksDB backend on their own: checkpoint durations and
# sizes at 1 M and 10 M keys, full and incremental, and the time to restore ~1 GB of state. The
# comparison with Flink on the same job is scripts/bench_checkpoints.sh (the Flink side this
# script once ran was Flink SQL over random keys: different work).
#
#   scripts/bench_state.sh
#
# Sluice (bench_throughput keyed-sum, p=1, 1 s checkpoints):
#   - 1 M keys, 5 M records: no checkpoints, full, incremental and incremental unaligned
#     checkpoints (throughput cost, checkpoint duration under backpressure);
#   - 10 M keys, 10 M records: full and incremental checkpoints (duration and size);
#   - 10 M keys with 100-byte payloads (~1 GB of state), incremental, then a restore of its
#     latest checkpoint that runs to the end (recovery time).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice-target}"
scripts/install-build-deps.sh
cargo build --release --features rocksdb --example bench_throughput >&2
BENCH="$CARGO_TARGET_DIR/release/examples/bench_throughput"
WORK="${BENCH_DATA:-${TMPDIR:-/tmp}/sluice-bench-state}"
rm -rf "$WORK" && mkdir -p "$WORK"

measure() {
  local out
  out=$(/usr/bin/time -f "peak_rss_mb=%M" "$@" 2>&1)
  echo "$out" | awk '/^case=/ {line=$0} /^checkpoints=/ {ck=$0} /^peak_rss_mb=/ {split($0, a, "="); rss=int(a[2]/1024)} END {print line, "peak_rss_mb=" rss; if (ck != "") print "  " ck}'
}

# Size of the newest checkpoint: its own files plus the shared files it refers to.
checkpoint_mb() {
  du -sm "$1" | awk '{print "  checkpoint_dir_mb=" $1}'
}

echo "# sluice rocksdb, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
sum="$BENCH keyed-sum --state-backend rocksdb -p 1"
measure $sum --records 5000000 --keys 1000000
measure $sum --records 5000000 --keys 1000000 --checkpoint-dir "$WORK/1m-full" --checkpoint-interval-ms 1000
measure $sum --records 5000000 --keys 1000000 --checkpoint-dir "$WORK/1m-incr" --checkpoint-interval-ms 1000 --incremental
measure $sum --records 5000000 --keys 1000000 --checkpoint-dir "$WORK/1m-unal" --checkpoint-interval-ms 1000 --incremental --unaligned
measure $sum --records 10000000 --keys 10000000 --checkpoint-dir "$WORK/10m-full" --checkpoint-interval-ms 1000
checkpoint_mb "$WORK/10m-full"
measure $sum --records 10000000 --keys 10000000 --checkpoint-dir "$WORK/10m-incr" --checkpoint-interval-ms 1000 --incremental
checkpoint_mb "$WORK/10m-incr"
measure $sum --records 10000000 --keys 10000000 --payload-bytes 100 --checkpoint-dir "$WORK/1g" --checkpoint-interval-ms 1000 --incremental
checkpoint_mb "$WORK/1g"
measure $sum --records 10000000 --keys 10000000 --payload-bytes 100 --checkpoint-dir "$WORK/1g" --restore
rm -rf "$WORK"/1m-* "$WORK"/10m-*

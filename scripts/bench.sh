#!/usr/bin/env bash
# Throughput benchmarks of Sluice, side by side with Apache Flink when a Flink peer is given.
#
#   FLINK_PEER_DIR=<dir with run_wordcount.sh and gen_words.py> scripts/bench.sh [MB=100]
#
# Runs, each in a fresh process under /usr/bin/time (for peak RSS):
#   - WordCount over MB of generated text (10,000-word vocabulary, seeded) into a discarding
#     sink, streaming (every updated count) and batch (final counts), at parallelism 1 and 2;
#   - source -> map -> key_by -> sum over 50 M small records (10,000 keys), at p=1 and p=2;
#   - a trivial one-record job, from process start to finish;
#   - with FLINK_PEER_DIR: Flink's DataStream WordCount on the same file, streaming p=1 and p=2
#     and batch p=1.
# Prints one summary line per run; BENCHMARKS.md records them.
set -euo pipefail
cd "$(dirname "$0")/.."
MB="${1:-100}"
DATA="${BENCH_DATA:-${TMPDIR:-/tmp}/sluice-bench}"
mkdir -p "$DATA"
INPUT="$DATA/words_${MB}mb.txt"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice-target}"
cargo build --release --example bench_throughput >&2
BENCH="$CARGO_TARGET_DIR/release/examples/bench_throughput"

if [ ! -s "$INPUT" ]; then
  if [ -n "${FLINK_PEER_DIR:-}" ] && [ -f "$FLINK_PEER_DIR/gen_words.py" ]; then
    python3 "$FLINK_PEER_DIR/gen_words.py" "$INPUT" "$MB" 1
  else
    echo "no input at $INPUT and no FLINK_PEER_DIR/gen_words.py to generate it" >&2
    exit 1
  fi
fi

measure() {
  local out
  out=$(/usr/bin/time -f "peak_rss_mb=%M" "$@" 2>&1)
  echo "$out" | awk '/^case=/ {line=$0} /^peak_rss_mb=/ {split($0, a, "="); rss=int(a[2]/1024)} END {print line, "peak_rss_mb=" rss}'
}

echo "# sluice, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, input $INPUT"
for p in 1 2; do
  measure "$BENCH" word-count --input "$INPUT" -p "$p"
  measure "$BENCH" word-count --input "$INPUT" -p "$p" --batch
done
for p in 1 2; do
  measure "$BENCH" keyed-sum --records 50000000 -p "$p"
done
for _ in 1 2 3; do
  measure "$BENCH" trivial
done

if [ -n "${FLINK_PEER_DIR:-}" ]; then
  echo "# flink"
  "$FLINK_PEER_DIR/run_wordcount.sh" "$INPUT" 1 STREAMING | tail -2
  "$FLINK_PEER_DIR/run_wordcount.sh" "$INPUT" 2 STREAMING | tail -2
  "$FLINK_PEER_DIR/run_wordcount.sh" "$INPUT" 1 BATCH | tail -2
fi

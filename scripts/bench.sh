#!/usr/bin/env bash
# Throughput benchmarks of Sluice on its own (the comparisons with Flink on the same jobs are
# bench_wordcount.sh, bench_keyed_sum.sh and bench_windows.sh).
#
#   scripts/bench.sh [MB=100]
#
# Runs, each in a fresh process under /usr/bin/time (for peak RSS):
#   - WordCount over MB of generated text (10,000-word vocabulary, seeded) into a discarding
#     sink, streaming (every updated count) and batch (final counts), at parallelism 1 and 2;
#   - source -> map -> key_by -> sum over 50 M small records (10,000 keys), at p=1 and p=2;
#   - a trivial one-record job, from process start to finish.
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

[ -s "$INPUT" ] || python3 benches/gen_words.py "$INPUT" "$MB" 1

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

#!/usr/bin/env bash
# WordCount, Sluice beside Apache Flink, on the same generated text and as whole processes.
#
#   scripts/bench_wordcount.sh [MB=100] [SEED=7]
#
# The input is benches/gen_words.py's (10,000-word vocabulary, lines of ten words). Both sides
# run the same job — lowercase, split into runs of [a-z0-9], count per word — and write the
# final `word,count` lines to a file, which must be equal (sorted) or the script fails: Sluice's
# `word_count` example (release build), Flink's DataStream program benches/flink/WordCount.java
# in batch mode (Flink from scripts/install-flink.sh). Every run is a fresh process timed from
# start to exit by /usr/bin/time (wall time and peak RSS); each cell is the median of RUNS runs
# (default 3). Flink runs with the JVM's default heap and with a small one (SMALL_HEAP, default
# 192m: the smallest that keeps its speed on this job; 128m fails). A one-line input measures
# start-up: whole process, both sides. Last, the floor: the same work as one plain loop with no
# engine (examples/bench_word_count_floor.rs), with each word copied as the job's records are and
# without. Prints Markdown tables.
set -euo pipefail
cd "$(dirname "$0")/.."
MB="${1:-100}"
SEED="${2:-7}"
RUNS="${RUNS:-3}"
SMALL_HEAP="${SMALL_HEAP:-192m}"
DATA="${BENCH_DATA:-${TMPDIR:-/tmp}/sluice-bench}"
mkdir -p "$DATA"
INPUT="$DATA/words_${MB}mb_seed${SEED}.txt"
[ -s "$INPUT" ] || python3 benches/gen_words.py "$INPUT" "$MB" "$SEED"
printf 'Hello, hello world!\n' >"$DATA/one_line.txt"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice-target}"
cargo build --release --example word_count --example bench_word_count_floor >&2
SLUICE="$CARGO_TARGET_DIR/release/examples/word_count"
FLOOR="$CARGO_TARGET_DIR/release/examples/bench_word_count_floor"
FLINK_HOME="$(scripts/install-flink.sh)"
export FLINK_HOME

source scripts/bench_lib.sh

# The command lines of one run (/usr/bin/time runs them as they are).
sluice() { # INPUT OUTPUT P
  median "$SLUICE" --input "$1" --output "$2" -p "$3"
}
flink() { # INPUT OUTPUT P HEAP
  median env JAVA_HEAP="$4" benches/flink/run.sh WordCount --input "$1" --output "$2" --parallelism "$3"
}

same_counts() { # A B
  if ! cmp -s <(sort "$1") <(sort "$2"); then
    echo "the outputs differ: $1 $2" >&2
    exit 1
  fi
}

bytes=$(stat -c %s "$INPUT")
row() { # ENGINE P HEAP STATS [FLINK_STATS: the ratios to it]
  read -r wall rss <<<"$4"
  local ratios="| — | — |"
  if [ -n "${5:-}" ]; then
    read -r flink_wall flink_rss <<<"$5"
    ratios=$(awk -v w="$wall" -v r="$rss" -v fw="$flink_wall" -v fr="$flink_rss" \
      'BEGIN { printf "| **%.1f×** | **1/%.0f** |", fw / w, fr / r }')
  fi
  awk -v e="$1" -v p="$2" -v h="$3" -v w="$wall" -v r="$rss" -v b="$bytes" \
    'BEGIN { printf "| %s | %s | %s | %.2f s | %.0f MB/s | %d MB ", e, p, h, w, b / w / 1e6, r }'
  echo "$ratios"
}

echo "WordCount, ${MB} MB (seed $SEED), final counts to a file; $(nproc) cores; $(date -u +%Y-%m-%d); median of $RUNS whole-process runs"
echo
echo "| engine | p | heap | wall | throughput | peak RSS | speed vs Flink (default heap) | memory vs Flink (default heap) |"
echo "|---|---|---|---|---|---|---|---|"
# Compiles the Flink program outside the measured runs.
benches/flink/run.sh WordCount --input "$DATA/one_line.txt" --output "$DATA/warm-up.csv" >/dev/null 2>&1
for p in 1 2; do
  flink_default=$(flink "$INPUT" "$DATA/flink.csv" "$p" "")
  flink_small=$(flink "$INPUT" "$DATA/flink-small.csv" "$p" "$SMALL_HEAP")
  ours=$(sluice "$INPUT" "$DATA/sluice.csv" "$p")
  same_counts "$DATA/sluice.csv" "$DATA/flink.csv"
  same_counts "$DATA/sluice.csv" "$DATA/flink-small.csv"
  row Sluice "$p" "—" "$ours" "$flink_default"
  row "Flink 2.3" "$p" "JVM default" "$flink_default"
  row "Flink 2.3" "$p" "$SMALL_HEAP" "$flink_small"
done
echo
echo "Start-up: one line, whole process (median of $RUNS)"
echo
ours=$(sluice "$DATA/one_line.txt" "$DATA/sluice-one.csv" 1)
theirs=$(flink "$DATA/one_line.txt" "$DATA/flink-one.csv" 1 "")
same_counts "$DATA/sluice-one.csv" "$DATA/flink-one.csv"
echo "| engine | wall | peak RSS |"
echo "|---|---|---|"
read -r w r <<<"$ours"
echo "| Sluice | ${w} s | ${r} MB |"
read -r w r <<<"$theirs"
echo "| Flink 2.3 | ${w} s | ${r} MB |"
echo
echo "The floor: the job's work as one plain loop on one thread, no engine (median of $RUNS)"
echo
echo "| program | wall | throughput | peak RSS |"
echo "|---|---|---|---|"
floor_row() { # NAME STATS
  read -r wall rss <<<"$2"
  awk -v n="$1" -v w="$wall" -v r="$rss" -v b="$bytes" \
    'BEGIN { printf "| %s | %.2f s | %.0f MB/s | %d MB |\n", n, w, b / w / 1e6, r }'
}
for copies in --owned-words ""; do
  stats=$(median "$FLOOR" --input "$INPUT" --output "$DATA/floor.csv" $copies)
  same_counts "$DATA/sluice.csv" "$DATA/floor.csv"
  floor_row "bench_word_count_floor ${copies:-(a word copied only when new)}" "$stats"
done

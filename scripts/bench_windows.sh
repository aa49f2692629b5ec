#!/usr/bin/env bash
# Event-time windows, Sluice beside Apache Flink at the same API level, as whole processes.
#
#   scripts/bench_windows.sh [RECORDS=10000000]
#
# Both sides run the same DataStream job over the same bids (Sluice: `bench_throughput
# windows`, Flink: benches/flink/WindowsBench.java): bid number n has event time
# 2024-01-01 + n / 10 ms and an auction (10,000) and price drawn from SplitMix64 of n;
# watermarks 4 s behind; per auction COUNT(*) and MAX(price) in tumbling 10 s, sliding 10 s
# every 2 s, and 1 s-gap session windows; the panes go to a sink that adds them up, whose
# checksum line must be the same on both sides (and for Sluice at p=2). Parallelism 1 for the
# comparison (Flink's sequence source gives each reader a contiguous range, Sluice's readers
# interleave: the same events, but not the same work at p > 1). Every run is a fresh process
# timed from start to exit; each cell is the median of RUNS runs (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS="${1:-10000000}"
RUNS="${RUNS:-3}"
source scripts/bench_lib.sh
prepare_bench_throughput
BENCH_OUTPUT="$(mktemp)"
trap 'rm -f "$BENCH_OUTPUT"' EXIT


benches/flink/run.sh WindowsBench tumbling 10 >/dev/null 2>&1 # compiles it outside the measured runs
echo "Event-time windows, $RECORDS bids, 10,000 auctions; $(nproc) cores; $(date -u +%Y-%m-%d); median of $RUNS whole-process runs"
echo
echo "| window | Sluice p=1 | peak RSS | Flink 2.3 p=1 | peak RSS | speed | memory | Sluice p=2 | peak RSS |"
echo "|---|---|---|---|---|---|---|---|---|"
results=""
for kind in tumbling sliding session; do
  : >"$BENCH_OUTPUT"
  read -r sw sr <<<"$(median "$SLUICE" windows --kind "$kind" --records "$RECORDS" -p 1)"
  read -r fw fr <<<"$(median benches/flink/run.sh WindowsBench "$kind" "$RECORDS" 1)"
  read -r s2w s2r <<<"$(median "$SLUICE" windows --kind "$kind" --records "$RECORDS" -p 2)"
  checksums="$(grep '^checksum=' "$BENCH_OUTPUT" | sort -u)"
  if [ "$(wc -l <<<"$checksums")" != 1 ]; then
    echo "$kind: the runs' results differ:" >&2
    echo "$checksums" >&2
    exit 1
  fi
  awk -v k="$kind" -v n="$RECORDS" -v sw="$sw" -v sr="$sr" -v fw="$fw" -v fr="$fr" -v s2w="$s2w" -v s2r="$s2r" 'BEGIN {
    printf "| %s | %.2f s (%.2f M/s) | %d MB | %.2f s (%.0f K/s) | %d MB | **%.1f×** | **1/%.0f** | %.2f s (%.2f M/s) | %d MB |\n",
      k, sw, n / sw / 1e6, sr, fw, n / fw / 1e3, fr, fw / sw, fr / sr, s2w, n / s2w / 1e6, s2r }'
  results+="- $kind: $checksums"$'\n'
done
echo
echo "The same results on every run of both engines:"
printf '%s' "$results"

#!/usr/bin/env bash
# Event-time window benchmarks of Sluice, side by side with Apache Flink SQL when a Flink peer
# is given (same machine, same run, so the ratios are meaningful).
#
#   FLINK_PEER_DIR=<dir with run_flink_sql.sh and q5like.sql> scripts/bench_windows.sh [RECORDS=10000000]
#
# Shape (both sides): the q5-like bid stream (10,000 auctions, 10 events per event-time ms,
# watermarks 4 s behind), keyed by auction, COUNT(*) and MAX(price) per window:
#   tumbling 10 s (the peer's q5like.sql), sliding 10 s / 2 s (benches/flink/hop.sql),
#   session with a 1 s gap (benches/flink/session.sql); parallelism 1, discarding sink.
# Each Sluice run is a fresh process under /usr/bin/time (peak RSS). Prints one line per run.
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS="${1:-10000000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice-target}"
cargo build --release --example bench_throughput >&2
BENCH="$CARGO_TARGET_DIR/release/examples/bench_throughput"

measure() {
  local out
  out=$(/usr/bin/time -f "peak_rss_mb=%M" "$@" 2>&1)
  echo "$out" | awk '/^case=/ {line=$0} /^peak_rss_mb=/ {split($0, a, "="); rss=int(a[2]/1024)} END {print line, "peak_rss_mb=" rss}'
}

echo "# sluice, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $RECORDS records"
for kind in tumbling sliding session; do
  measure "$BENCH" windows --kind "$kind" --records "$RECORDS" -p 1
done

if [ -n "${FLINK_PEER_DIR:-}" ]; then
  echo "# flink"
  "$FLINK_PEER_DIR/run_flink_sql.sh" "$FLINK_PEER_DIR/q5like.sql" 1 "$RECORDS" | tail -2
  "$FLINK_PEER_DIR/run_flink_sql.sh" benches/flink/hop.sql 1 "$RECORDS" | tail -2
  "$FLINK_PEER_DIR/run_flink_sql.sh" benches/flink/session.sql 1 "$RECORDS" | tail -2
fi

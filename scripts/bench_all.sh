#!/usr/bin/env bash
# Runs the benchmarks whose Flink side is this repository's own program and prints their tables
# (Markdown, dated) for BENCHMARKS.md: WordCount and start-up, keyed sums, event-time windows,
# Flink SQL and Nexmark queries, checkpoints under load, and the cluster's network shuffle (each
# checks that both engines produced the same result), and the Nexmark queries on Sluice's own
# nexmark connector. Takes about
# forty-five minutes on 2 cores; run it on an otherwise idle machine.
#
#   scripts/bench_all.sh > /tmp/benchmarks.md
set -euo pipefail
cd "$(dirname "$0")/.."
for bench in bench_wordcount bench_keyed_sum bench_windows bench_sql bench_nexmark bench_nexmark_flink bench_checkpoints bench_cluster; do
  echo "## scripts/$bench.sh"
  echo
  "scripts/$bench.sh"
  echo
done

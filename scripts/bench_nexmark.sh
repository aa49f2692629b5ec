#!/usr/bin/env bash
# The Nexmark queries Sluice runs (tests/sql/nexmark/queries, the published texts with their
# blackhole sinks) on Sluice's nexmark connector, as whole processes (`sluice sql -f`): events/s
# per core and peak RSS at parallelism 1 and 2. The Flink nexmark connector is not part of
# Flink's distribution, so this table has no Flink column; the same queries over CSV files are
# compared with Flink by scripts/bench_sql.sh's method and checked equal by tests/sql_nexmark.rs.
#
#   scripts/bench_nexmark.sh [EVENTS=5000000]
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS="${1:-5000000}"
source scripts/bench_lib.sh
prepare_sluice
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
echo "Nexmark on Sluice's nexmark connector, $EVENTS events; $(nproc) cores; $(date -u +%Y-%m-%d); median of $RUNS whole-process runs"
echo
echo "| query | p=1 events/s | p=1 peak RSS | p=2 events/s per core | p=2 peak RSS |"
echo "|---|---|---|---|---|"
for file in tests/sql/nexmark/queries/*.sql; do
  query="$(basename "$file" .sql)"
  row="| $query"
  for parallelism in 1 2; do
    { echo "SET 'parallelism.default' = '$parallelism';"
      sed -e "s/'events.num' = '[0-9]*'/'events.num' = '$EVENTS'/" \
        -e "s/'first-event.rate' = '[0-9]*'/'first-event.rate' = '10000'/" tests/sql/nexmark/nexmark.sql
      cat "$file"
    } >"$WORK/$query-$parallelism.sql"
    read -r seconds rss < <(median "$SLUICE" sql -f "$WORK/$query-$parallelism.sql")
    rate=$(awk -v e="$EVENTS" -v s="$seconds" -v p="$parallelism" 'BEGIN { printf "%.0f", e / s / p }')
    row="$row | $rate | $rss MB"
  done
  echo "$row |"
done

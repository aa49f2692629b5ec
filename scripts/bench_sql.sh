#!/usr/bin/env bash
# Flink SQL, Sluice beside Apache Flink 2.3 on the same statements and input, as whole
# processes (`sluice sql -f` and benches/flink/SqlScript.java, JVM start-up included).
#
#   scripts/bench_sql.sh [ROWS=2000000]
#
# benches/sql/gen_bids.py writes ROWS bids as CSV; each query of benches/sql/ reads them
# (`filesystem` connector, the same DDL on both engines: benches/sql/tables.sql) and writes
# CSV part files, which must hold the same rows on both engines (compared sorted).
# Parallelism 1 and 2 on both; each cell is the median of RUNS runs (default 3); rows/s per
# core = ROWS / wall time / parallelism.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${1:-2000000}"
RUNS="${RUNS:-3}"
source scripts/bench_lib.sh
prepare_sluice
FLINK_HOME="$(scripts/install-flink.sh)"
export FLINK_HOME
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
python3 benches/sql/gen_bids.py "$ROWS" "$WORK/bids.csv"

# script QUERY ENGINE PARALLELISM: the runnable script, its output in $WORK/out-ENGINE-P.
script() {
  local out="$WORK/out-$2-$3"
  rm -rf "$out"
  { echo "SET 'parallelism.default' = '$3';"
    cat benches/sql/tables.sql "benches/sql/$1.sql" |
      sed -e "s#\${DATA}#$WORK/bids.csv#g" -e "s#\${OUT}#$out#g"
  } >"$WORK/$2-$3.sql"
  echo "$WORK/$2-$3.sql"
}
rows_of() { find "$1" -type f ! -name '.*' -exec cat {} + | LC_ALL=C sort | sha256sum | cut -c1-16; }

benches/flink/run.sh SqlScript "$(script filter flink 1)" >/dev/null # compiles it outside the measured runs
echo "Flink SQL over $ROWS CSV bids; $(nproc) cores; $(date -u +%Y-%m-%d); median of $RUNS whole-process runs"
echo
echo "| query | Sluice p=1 | rows/s/core | peak RSS | Flink p=1 | rows/s/core | peak RSS | speed p=1 | memory | Sluice p=2 | rows/s/core | Flink p=2 | rows/s/core | speed p=2 |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for query in filter tumble hop session; do
  read -r s1w s1r <<<"$(median "$SLUICE" sql -f "$(script "$query" sluice 1)")"
  read -r f1w f1r <<<"$(median benches/flink/run.sh SqlScript "$(script "$query" flink 1)")"
  read -r s2w _ <<<"$(median "$SLUICE" sql -f "$(script "$query" sluice 2)")"
  read -r f2w _ <<<"$(median benches/flink/run.sh SqlScript "$(script "$query" flink 2)")"
  sums="$(for run in sluice-1 flink-1 sluice-2 flink-2; do rows_of "$WORK/out-$run"; done | sort -u)"
  if [ "$(wc -l <<<"$sums")" != 1 ]; then
    echo "$query: the engines' rows differ" >&2
    exit 1
  fi
  awk -v q="$query" -v n="$ROWS" -v s1w="$s1w" -v s1r="$s1r" -v f1w="$f1w" -v f1r="$f1r" -v s2w="$s2w" -v f2w="$f2w" 'BEGIN {
    printf "| %s | %.2f s | %.2f M | %d MB | %.2f s | %.0f K | %d MB | **%.1f×** | **1/%.0f** | %.2f s | %.2f M | %.2f s | %.0f K | **%.1f×** |\n",
      q, s1w, n / s1w / 1e6, s1r, f1w, n / f1w / 1e3, f1r, f1w / s1w, f1r / s1r, s2w, n / s2w / 2e6, f2w, n / f2w / 2e3, f2w / s2w }'
done
echo
echo "Each query's committed rows were the same on both engines at both parallelisms."

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
# core = ROWS / wall time / parallelism. QUERIES (default: all) picks some, e.g.
# QUERIES="tumble session". Last, start-up: one bid through `filter` at p=1 on both engines,
# whole processes (the time a SQL job takes to plan, start, run and commit).
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${1:-2000000}"
source scripts/bench_lib.sh
prepare_sluice_and_flink
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

benches/flink/run.sh SqlScript "$(script filter flink 1)" >/dev/null # compiles it outside the measured runs
echo "Flink SQL over $ROWS CSV bids; $(nproc) cores; $(date -u +%Y-%m-%d); median of $RUNS whole-process runs"
echo
echo "| query | Sluice p=1 | rows/s/core | peak RSS | Flink p=1 | rows/s/core | peak RSS | speed p=1 | memory | Sluice p=2 | rows/s/core | Flink p=2 | rows/s/core | speed p=2 |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for query in ${QUERIES:-filter tumble hop session window_outer_join session_table}; do
  sluice_beside_flink "$query" "$ROWS"
done
echo
echo "Each query's committed rows were the same on both engines at both parallelisms."

python3 benches/sql/gen_bids.py 1 "$WORK/one-bid.csv"
for engine in sluice flink; do
  { echo "SET 'parallelism.default' = '1';"
    cat benches/sql/tables.sql benches/sql/filter.sql |
      sed -e "s#\${DATA}#$WORK/one-bid.csv#g" -e "s#\${OUT}#$WORK/start-$engine#g"
  } >"$WORK/start-$engine.sql"
done
read -r sw sr <<<"$(median "$SLUICE" sql -f "$WORK/start-sluice.sql")"
read -r fw fr <<<"$(median benches/flink/run.sh SqlScript "$WORK/start-flink.sql")"
if [ "$(rows_of "$WORK/start-sluice")" != "$(rows_of "$WORK/start-flink")" ]; then
  echo "start-up: the engines' rows differ" >&2
  exit 1
fi
echo
echo "Start-up, one bid through \`filter\` at p=1, whole process: Sluice $sw s and $sr MB; Flink $fw s and $fr MB."

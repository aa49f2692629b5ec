#!/usr/bin/env bash
# The Nexmark queries of issue 16, Sluice beside Apache Flink 2.3 on the same statements: the
# published query texts (tests/sql/nexmark/queries, their blackhole sinks made CSV directories,
# q10's partitioned log a directory of the run) over benches/sql/nexmark/bid-datagen.sql, a
# `bid` table of ROWS bids from Flink's `datagen` connector (every column computed from a
# sequence, so both engines read the same bids), and for q8 over
# benches/sql/nexmark/person-auction-datagen.sql (ROWS events: a fifth persons, the rest
# auctions), as whole processes (`sluice sql -f`, benches/flink/SqlScript.java; JVM start-up
# included). Each query's output must be the same on both engines (compared sorted; q12, whose
# processing-time windows Flink drops at the end of a bounded input, on Sluice's two runs).
# Parallelism 1 and 2; each cell the median of RUNS runs (default 3); events/s per core.
# QUERIES (default: all twelve) picks some, e.g. QUERIES="q5 q7". SETUP holds statements both
# engines run first, e.g. SETUP="SET 'pipeline.auto-watermark-interval' = '10 ms';".
#
#   scripts/bench_nexmark_flink.sh [ROWS=2000000]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${1:-2000000}"
source scripts/bench_lib.sh
prepare_sluice_and_flink
BUILD="${SLUICE_PEERS_CACHE:-$HOME/.cache/sluice-peers}/flink-programs"
mkdir -p "$BUILD"
javac -nowarn -d "$BUILD" -cp "$FLINK_HOME/lib/*" benches/flink/com/github/nexmark/flink/udf/CountChar.java

# tables QUERY: the DDL of the tables the query reads (q8: persons and auctions, ROWS events in
# all; the others: ROWS bids).
tables() {
  case "$1" in
    q8) echo benches/sql/nexmark/person-auction-datagen.sql ;;
    *) echo benches/sql/nexmark/bid-datagen.sql ;;
  esac
}

# bidder_totals DIR: q12's rows as each bidder's count over all its windows, which do not depend
# on when processing time cut the windows, fingerprinted as rows_of does; fails unless they
# count all ROWS bids in each of the RUNS runs (whose rows all stay in the directory).
bidder_totals() {
  mkdir -p "$1"
  local rows
  rows="$(find "$1" -type f ! -name '.*' ! -name '_*' -exec cat {} + |
    awk -F, '{ total[$1] += $2 } END { for (b in total) print b "," total[b] }' | LC_ALL=C sort)"
  if [ "$(awk -F, '{ n += $2 } END { print n + 0 }' <<<"$rows")" != "$((ROWS * RUNS))" ]; then
    echo "q12: $1 does not count all $ROWS bids in each of $RUNS runs" >&2
    exit 1
  fi
  sha256sum <<<"$rows" | cut -c1-16
}

# script QUERY ENGINE PARALLELISM: the runnable script, its output in $WORK/out-ENGINE-P.
script() {
  local out="$WORK/out-$2-$3"
  # Flink 2.3 reserves DATETIME: its side quotes the column the texts name unquoted.
  local quote=''
  [ "$2" = flink ] && quote='s/\bdateTime\b/`dateTime`/g'
  rm -rf "$out"
  { echo "SET 'parallelism.default' = '$3';"
    echo "${SETUP:-}"
    cat "$(tables "$1")" "tests/sql/nexmark/queries/$1.sql" |
      sed -e "s#'connector' = 'blackhole'#'connector' = 'filesystem', 'path' = '\${OUT}', 'format' = 'csv'#" \
        -e "s#\${NEXMARK_DIR}/data/output/\${SUBMIT_TIME}/bid/#\${OUT}/#" \
        -e "s#\${ROWS}#$ROWS#g" -e "s#\${LAST}#$((ROWS - 1))#g" \
        -e "s#\${PERSONS}#$((ROWS / 5))#g" -e "s#\${LAST_PERSON}#$((ROWS / 5 - 1))#g" \
        -e "s#\${AUCTIONS}#$((ROWS - ROWS / 5))#g" -e "s#\${LAST_AUCTION}#$((ROWS - ROWS / 5 - 1))#g" \
        -e "s#\${OUT}#$out#g" -e "$quote"
  } >"$WORK/$2-$3.sql"
  echo "$WORK/$2-$3.sql"
}

benches/flink/run.sh SqlScript "$(script q0 flink 1)" >/dev/null # compiles it outside the measured runs
echo "Nexmark queries over $ROWS datagen events (bids; for q8 persons and auctions); $(nproc) cores; $(date -u +%Y-%m-%d); median of $RUNS whole-process runs${SETUP:+; both after $SETUP}"
echo
echo "| query | Sluice p=1 | events/s | RSS | Flink p=1 | events/s | RSS | speed | memory | Sluice p=2 | events/s/core | Flink p=2 | events/s/core | speed p=2 |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for query in ${QUERIES:-q0 q1 q2 q5 q7 q8 q10 q11 q12 q14 q21 q22}; do
  case "$query" in
    # Flink drops the processing-time windows still open when a bounded input ends: over
    # these bids, which take less than a window, it writes no row. Sluice fires them; its two
    # runs must count every bid the same way.
    q12) COMPARE=bidder_totals COMPARED="sluice-1 sluice-2" sluice_beside_flink "$query" "$ROWS" ;;
    *) sluice_beside_flink "$query" "$ROWS" ;;
  esac
done
echo
echo "Each query's committed rows were the same on both engines at both parallelisms$(
  [[ " ${QUERIES:-q12} " == *" q12 "* ]] && echo " (q12: Sluice's counts at both, each bid counted once; Flink 2.3 drops the processing-time windows still open when a bounded input ends and wrote none)")."

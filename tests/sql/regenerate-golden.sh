#!/usr/bin/env bash
# Regenerates the SQL tests' expected results with Apache Flink 2.3: runs each case of cases/
# after tables.sql (${DATA} the committed tables of data/, written by gen_data.py; ${OUT} a
# fresh directory), and each Nexmark query of nexmark/queries/ (case nexmark-QUERY, its
# blackhole sink made a CSV directory, q10's output directory ${OUT}) after nexmark/flink-tables.sql, with
# benches/flink/SqlScript.java at parallelism 1 and 2, checks that both give the same rows, and
# writes them, sorted, to golden/CASE.csv (or to $SQL_GOLDEN_DIR/CASE.csv). A case with a
# `print` sink is compared on the rows it prints.
# Usage: tests/sql/regenerate-golden.sh [CASE...]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$HERE/../.."
FLINK_HOME="${FLINK_HOME:-$("$ROOT/scripts/install-flink.sh")}"
export FLINK_HOME
GOLDEN="${SQL_GOLDEN_DIR:-$HERE/golden}"
mkdir -p "$GOLDEN"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then
  for file in "$HERE"/cases/*.sql; do cases+=("$(basename "$file" .sql)"); done
  for file in "$HERE"/nexmark/queries/*.sql; do
    # Processing-time windows depend on the wall clock: no golden result (tests/sql_nexmark.rs
    # checks their totals instead).
    grep -q 'PROCTIME()' "$file" && continue
    cases+=("nexmark-$(basename "$file" .sql)")
  done
fi
# Nexmark's q14 calls this Java UDF by its class name.
BUILD="${SLUICE_PEERS_CACHE:-$HOME/.cache/sluice-peers}/flink-programs"
mkdir -p "$BUILD"
javac -nowarn -d "$BUILD" -cp "$FLINK_HOME/lib/*" \
  "$ROOT/benches/flink/com/github/nexmark/flink/udf/CountChar.java"
for name in "${cases[@]}"; do
  case "$name" in
    nexmark-*) tables="$HERE/nexmark/flink-tables.sql"; query="$HERE/nexmark/queries/${name#nexmark-}.sql"
      # Flink 2.3's parser reserves DATETIME: the published Nexmark texts name the column
      # unquoted (Sluice takes them as written); Flink needs it quoted.
      quote='s/\bdateTime\b/`dateTime`/g' ;;
    *) tables="$HERE/tables.sql"; query="$HERE/cases/$name.sql"; quote='' ;;
  esac
  for parallelism in 1 2; do
    out="$WORK/$name-$parallelism"
    { echo "SET 'parallelism.default' = '$parallelism';"
      cat "$tables" "$query" |
        sed -e "s#'connector' = 'blackhole'#'connector' = 'filesystem', 'path' = '\${OUT}', 'format' = 'csv'#" \
          -e "s#\${NEXMARK_DIR}/data/output/\${SUBMIT_TIME}/bid/#\${OUT}/#" \
          -e "s#\${DATA}#$HERE/data#g" -e "s#\${OUT}#$out#g" -e "$quote"
    } >"$WORK/$name.sql"
    "$ROOT/benches/flink/run.sh" SqlScript "$WORK/$name.sql" >"$WORK/$name.stdout"
    if grep -q "'connector' = 'print'" "$query"; then
      # The print connector's rows, without the "N> " prefix of parallel subtasks.
      grep -E '^([0-9]+> )?[-+][IUD]\[' "$WORK/$name.stdout" | sed -E 's/^[0-9]+> //' | LC_ALL=C sort >"$WORK/$name-$parallelism.csv"
    else
      find "$out" -type f ! -name '.*' ! -name '_*' -exec cat {} + | LC_ALL=C sort >"$WORK/$name-$parallelism.csv"
    fi
  done
  if ! cmp -s "$WORK/$name-1.csv" "$WORK/$name-2.csv"; then
    echo "$name: Flink's results at parallelism 1 and 2 differ" >&2
    exit 1
  fi
  cp "$WORK/$name-1.csv" "$GOLDEN/$name.csv"
  echo "$name: $(wc -l <"$GOLDEN/$name.csv") rows"
done

#!/usr/bin/env bash
# Writes the events of nexmark.sql (Sluice's nexmark connector) to ../data/nexmark/{bid,person,
# auction}.csv in event-time order (one writer): the input the Flink side of the Nexmark tests
# reads. The test suite checks that the connector still makes exactly these events.
# Usage: tests/sql/nexmark/export-events.sh
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$HERE/../../.."
DATA="$HERE/../data/nexmark"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
{ echo "SET 'parallelism.default' = '1';"; cat "$HERE/nexmark.sql"; sed -e "s#\${OUT}#$WORK/out#g" "$HERE/export.sql"; } >"$WORK/export.sql"
(cd "$ROOT" && cargo run --quiet --release --bin sluice -- sql -f "$WORK/export.sql" >/dev/null)
mkdir -p "$DATA"
for table in bid person auction; do
  find "$WORK/out/$table" -type f ! -name '.*' ! -name '_*' -exec cat {} + >"$DATA/$table.csv"
  echo "$table: $(wc -l <"$DATA/$table.csv") rows"
done

# Shared by the benchmark scripts (sourced): whole-process timing.
#
# timed CMD...   runs CMD once; prints "wall_seconds peak_rss_mb" (wall time from the clock's
#                nanoseconds, peak RSS from /usr/bin/time); CMD's standard output is appended to
#                the file $BENCH_OUTPUT when that is set. A failing CMD fails the script.
# median CMD...  the median of $RUNS (default 3, set here when unset) such runs.

RUNS="${RUNS:-3}"
# A run that fails inside `$(median ..)` (a subshell) stops the whole script: it signals the
# script's own shell ($$ is that shell's in subshells too).
trap 'echo "a benchmark run failed" >&2; exit 1' USR1

timed() {
  local stats start end
  stats="$(mktemp)"
  start=$(date +%s%N)
  /usr/bin/time -f '%M' -o "$stats" "$@" >>"${BENCH_OUTPUT:-/dev/null}" 2>"$stats.err" || {
    cat "$stats.err" >&2
    kill -USR1 $$
    exit 1
  }
  end=$(date +%s%N)
  awk -v ns=$((end - start)) '{ printf "%.3f %d\n", ns / 1e9, $1 / 1024 }' "$stats"
  rm -f "$stats" "$stats.err"
}

median() {
  for _ in $(seq "$RUNS"); do timed "$@"; done |
    sort -n | awk '{ a[NR] = $0 } END { print a[int((NR + 1) / 2)] }'
}

# Builds `bench_throughput` (release, with RocksDB) and installs Flink: sets SLUICE (the binary)
# and FLINK_HOME.
prepare_bench_throughput() {
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice-target}"
  cargo build --release --features rocksdb --example bench_throughput >&2
  SLUICE="$CARGO_TARGET_DIR/release/examples/bench_throughput"
  FLINK_HOME="$(scripts/install-flink.sh)"
  export FLINK_HOME
}

# Builds the `sluice` binary (release): sets SLUICE.
prepare_sluice() {
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice-target}"
  cargo build --release --bin sluice >&2
  SLUICE="$CARGO_TARGET_DIR/release/sluice"
}

# Builds `sluice`, installs Flink and makes a work directory removed on exit: sets SLUICE,
# FLINK_HOME and WORK.
prepare_sluice_and_flink() {
  prepare_sluice
  FLINK_HOME="$(scripts/install-flink.sh)"
  export FLINK_HOME
  WORK="$(mktemp -d)"
  trap 'rm -rf "$WORK"' EXIT
}

# The rows of the part files under directory $1 (made if missing), sorted, as a short hash.
rows_of() {
  mkdir -p "$1"
  find "$1" -type f ! -name '.*' ! -name '_*' -exec cat {} + | LC_ALL=C sort | sha256sum | cut -c1-16
}

# sluice_beside_flink QUERY N: runs the caller's `script QUERY ENGINE PARALLELISM` (which prints
# a script path and writes output to $WORK/out-ENGINE-PARALLELISM) on Sluice ($SLUICE) and Flink
# (benches/flink/run.sh SqlScript) at parallelism 1 and 2, the median of $RUNS each; fails unless
# all four outputs (or those COMPARED names, as `sluice-1 flink-2`) hold the same rows (as
# fingerprinted by the function COMPARE names, rows_of by default); prints the Markdown row: wall times, N per second (per
# core at p=2), peak RSS, and the speed and memory ratios.
sluice_beside_flink() {
  local query="$1" n="$2" s1w s1r f1w f1r s2w f2w sums
  read -r s1w s1r <<<"$(median "$SLUICE" sql -f "$(script "$query" sluice 1)")"
  read -r f1w f1r <<<"$(median benches/flink/run.sh SqlScript "$(script "$query" flink 1)")"
  read -r s2w _ <<<"$(median "$SLUICE" sql -f "$(script "$query" sluice 2)")"
  read -r f2w _ <<<"$(median benches/flink/run.sh SqlScript "$(script "$query" flink 2)")"
  sums="$(for run in ${COMPARED:-sluice-1 flink-1 sluice-2 flink-2}; do "${COMPARE:-rows_of}" "$WORK/out-$run"; done | sort -u)"
  if [ "$(wc -l <<<"$sums")" != 1 ]; then
    echo "$query: the engines' rows differ" >&2
    exit 1
  fi
  awk -v q="$query" -v n="$n" -v s1w="$s1w" -v s1r="$s1r" -v f1w="$f1w" -v f1r="$f1r" -v s2w="$s2w" -v f2w="$f2w" 'BEGIN {
    printf "| %s | %.2f s | %.2f M | %d MB | %.2f s | %.0f K | %d MB | **%.1f×** | **1/%.0f** | %.2f s | %.2f M | %.2f s | %.0f K | **%.1f×** |\n",
      q, s1w, n / s1w / 1e6, s1r, f1w, n / f1w / 1e3, f1r, f1w / s1w, f1r / s1r, s2w, n / s2w / 2e6, f2w, n / f2w / 2e3, f2w / s2w }'
}

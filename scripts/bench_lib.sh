# Shared by the benchmark scripts (sourced): whole-process timing.
#
# timed CMD...   runs CMD once; prints "wall_seconds peak_rss_mb" (wall time from the clock's
#                nanoseconds, peak RSS from /usr/bin/time); CMD's standard output is appended to
#                the file $BENCH_OUTPUT when that is set. A failing CMD fails the script.
# median CMD...  the median of $RUNS (default 3) such runs.

timed() {
  local stats start end
  stats="$(mktemp)"
  start=$(date +%s%N)
  /usr/bin/time -f '%M' -o "$stats" "$@" >>"${BENCH_OUTPUT:-/dev/null}" 2>"$stats.err" || {
    cat "$stats.err" >&2
    exit 1
  }
  end=$(date +%s%N)
  awk -v ns=$((end - start)) '{ printf "%.3f %d\n", ns / 1e9, $1 / 1024 }' "$stats"
  rm -f "$stats" "$stats.err"
}

median() {
  for _ in $(seq "${RUNS:-3}"); do timed "$@"; done |
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

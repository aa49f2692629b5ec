#!/usr/bin/env bash
# State backend benchmarks of Sluice's RocksDB backend, side by side with Apache Flink's when a
# Flink peer is given.
#
#   FLINK_PEER_DIR=<dir with run_flink_sql.sh> scripts/bench_state.sh   (SLUICE=0: Flink only)
#
# Sluice (bench_throughput keyed-sum, p=1, 1 s checkpoints):
#   - 1 M keys, 5 M records: no checkpoints, full, incremental and incremental unaligned
#     checkpoints (throughput cost, checkpoint duration under backpressure);
#   - 10 M keys, 10 M records: full and incremental checkpoints (duration and size);
#   - 10 M keys with 100-byte payloads (~1 GB of state), incremental, then a restore of its
#     latest checkpoint that runs to the end (recovery time).
# Flink (benches/flink/checkpointed_sum.sql, rocksdb, 1 s checkpoints): the same shapes;
# checkpoint durations and sizes come from the CheckpointCoordinator log.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice-target}"
scripts/install-build-deps.sh
cargo build --release --features rocksdb --example bench_throughput >&2
BENCH="$CARGO_TARGET_DIR/release/examples/bench_throughput"
WORK="${BENCH_DATA:-${TMPDIR:-/tmp}/sluice-bench-state}"
rm -rf "$WORK" && mkdir -p "$WORK"

measure() {
  local out
  out=$(/usr/bin/time -f "peak_rss_mb=%M" "$@" 2>&1)
  echo "$out" | awk '/^case=/ {line=$0} /^checkpoints=/ {ck=$0} /^peak_rss_mb=/ {split($0, a, "="); rss=int(a[2]/1024)} END {print line, "peak_rss_mb=" rss; if (ck != "") print "  " ck}'
}

# Size of the newest checkpoint: its own files plus the shared files it refers to.
checkpoint_mb() {
  du -sm "$1" | awk '{print "  checkpoint_dir_mb=" $1}'
}

if [ "${SLUICE:-1}" = 1 ]; then
echo "# sluice rocksdb, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
sum="$BENCH keyed-sum --state-backend rocksdb -p 1"
measure $sum --records 5000000 --keys 1000000
measure $sum --records 5000000 --keys 1000000 --checkpoint-dir "$WORK/1m-full" --checkpoint-interval-ms 1000
measure $sum --records 5000000 --keys 1000000 --checkpoint-dir "$WORK/1m-incr" --checkpoint-interval-ms 1000 --incremental
measure $sum --records 5000000 --keys 1000000 --checkpoint-dir "$WORK/1m-unal" --checkpoint-interval-ms 1000 --incremental --unaligned
measure $sum --records 10000000 --keys 10000000 --checkpoint-dir "$WORK/10m-full" --checkpoint-interval-ms 1000
checkpoint_mb "$WORK/10m-full"
measure $sum --records 10000000 --keys 10000000 --checkpoint-dir "$WORK/10m-incr" --checkpoint-interval-ms 1000 --incremental
checkpoint_mb "$WORK/10m-incr"
measure $sum --records 10000000 --keys 10000000 --payload-bytes 100 --checkpoint-dir "$WORK/1g" --checkpoint-interval-ms 1000 --incremental
checkpoint_mb "$WORK/1g"
measure $sum --records 10000000 --keys 10000000 --payload-bytes 100 --checkpoint-dir "$WORK/1g" --restore
rm -rf "$WORK"/1m-* "$WORK"/10m-*
fi

if [ -n "${FLINK_PEER_DIR:-}" ]; then
  echo "# flink rocksdb"
  LOGCONF="$WORK/log4j-ckpt.properties"
  cat > "$LOGCONF" <<'PROPS'
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = FileAppender
logger.ckpt.name = org.apache.flink.runtime.checkpoint.CheckpointCoordinator
logger.ckpt.level = INFO
appender.file.name = FileAppender
appender.file.type = File
appender.file.fileName = ${env:CKPT_LOG}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{HH:mm:ss,SSS} %-5p %c - %m%n
PROPS
  flink() { # name keys rows incremental(true|false|none) [extra config]
    local name=$1 keys=$2 rows=$3 incr=$4 conf="state.backend.type=rocksdb"
    export KEYS_MINUS_1=$((keys - 1))
    export CKPT_LOG="$WORK/flink-$name.log"
    rm -f "$CKPT_LOG"
    if [ "$incr" != none ]; then
      conf="$conf;execution.checkpointing.interval=1s;execution.checkpointing.incremental=$incr"
      conf="$conf;execution.checkpointing.dir=file://$WORK/flink-$name${5:+;$5}"
    fi
    JAVA_EXTRA="-Dlog4j2.configurationFile=file:$LOGCONF" FLINK_CONF="$conf" NAME="$name" \
      "$FLINK_PEER_DIR/run_flink_sql.sh" benches/flink/checkpointed_sum.sql 1 "$rows" | tail -1
    if [ -s "$CKPT_LOG" ]; then
      { grep -o 'checkpointDuration=[0-9]*' "$CKPT_LOG" || true; } | cut -d= -f2 |
        awk '{s+=$1; n++; if ($1>m) m=$1} END {if (n) printf "  checkpoints=%d avg_ms=%.0f max_ms=%d\n", n, s/n, m}'
      { grep -o 'Completed checkpoint [0-9]* for job [0-9a-f]* ([0-9]* bytes' "$CKPT_LOG" || true; } |
        tail -1 | awk '{gsub(/\(/, "", $7); printf "  last_checkpoint_bytes=%s\n", $7}'
    fi
  }
  flink sum-1m-none 1000000 5000000 none
  flink sum-1m-incr 1000000 5000000 true
  flink sum-1m-unal 1000000 5000000 true execution.checkpointing.unaligned.enabled=true
  flink sum-10m-full 10000000 10000000 false
  flink sum-10m-incr 10000000 10000000 true
fi

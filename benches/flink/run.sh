#!/usr/bin/env bash
# Runs one of this directory's Flink programs in a local Flink (one JVM, an in-process
# mini-cluster): compiles CLASS.java against $FLINK_HOME/lib, with the classes of this directory
# it uses (such as CountAndFold), when its class file is missing or older than a source here,
# then runs it with ARGS. FLINK_HOME defaults to what scripts/install-flink.sh prints.
# usage: benches/flink/run.sh CLASS ARGS...
# Environment: JAVA_HEAP, the JVM's maximum heap (-Xmx; the JVM's default when unset);
# FLINK_LOG_CHECKPOINTS=1 logs each completed checkpoint (Flink's CheckpointCoordinator, with
# its size and duration) to standard error.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CLASS="$1"
shift
FLINK_HOME="${FLINK_HOME:-$("$HERE/../../scripts/install-flink.sh")}"
BUILD="${SLUICE_PEERS_CACHE:-$HOME/.cache/sluice-peers}/flink-programs"
mkdir -p "$BUILD"
for source in "$HERE"/*.java; do
  if [ ! "$BUILD/$CLASS.class" -nt "$source" ]; then
    javac -nowarn -d "$BUILD" -cp "$FLINK_HOME/lib/*" -sourcepath "$HERE" "$HERE/$CLASS.java"
    break
  fi
done
# The JVM options Flink's own scripts pass (module openings Flink needs on Java 17).
JVM_OPTS=$(sed -n 's/^[[:space:]]*all:[[:space:]]*//p' "$FLINK_HOME/conf/config.yaml" | head -n 1)
LOGS=$(mktemp -d)
trap 'rm -rf "$LOGS"' EXIT
cat >"$LOGS/log4j2.properties" <<'LOG4J'
rootLogger.level = ERROR
rootLogger.appenderRef.stderr.ref = stderr
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = %d %-5p %c - %m%n
LOG4J
if [ "${FLINK_LOG_CHECKPOINTS:-0}" = 1 ]; then
  cat >>"$LOGS/log4j2.properties" <<'LOG4J'
logger.checkpoints.name = org.apache.flink.runtime.checkpoint.CheckpointCoordinator
logger.checkpoints.level = INFO
LOG4J
fi
# shellcheck disable=SC2086
java ${JAVA_HEAP:+-Xmx$JAVA_HEAP} $JVM_OPTS -Djava.io.tmpdir="$LOGS" \
  -Dlog4j.configurationFile="file:$LOGS/log4j2.properties" \
  -cp "$FLINK_HOME/lib/*:$BUILD" "$CLASS" "$@"

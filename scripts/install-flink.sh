#!/usr/bin/env bash
# Installs Apache Flink 2.3.0 from PyPI (apache-flink and apache-flink-libraries, which carry
# Flink's jars and bin/ scripts) into a virtualenv, for the tests that compare Sluice's results
# with Flink's and for the benchmarks that run both. Needs python3 with venv and a JDK 17
# (java, javac); installs openjdk-17-jdk-headless with apt-get when javac is missing. Prints
# FLINK_HOME. Quick when Flink is installed already; about 850 MB and a minute when not.
set -euo pipefail
CACHE="${SLUICE_PEERS_CACHE:-$HOME/.cache/sluice-peers}"
VENV="${FLINK_VENV:-$CACHE/flink-venv}"
VERSION=2.3.0

if ! command -v javac >/dev/null; then
  "$(dirname "$0")/apt-install.sh" "Flink runs on Java 17" openjdk-17-jdk-headless
fi
if [ ! -x "$VENV/bin/python" ]; then
  mkdir -p "$CACHE"
  python3 -m venv "$VENV" >&2
fi
installed() {
  "$VENV/bin/python" -c "import pyflink.version as v, sys; sys.exit(v.__version__ != '$VERSION')" 2>/dev/null
}
if ! installed; then
  echo "installing Apache Flink $VERSION from PyPI into $VENV" >&2
  "$VENV/bin/pip" install -q "apache-flink==$VERSION" "apache-flink-libraries==$VERSION" >&2
fi
installed
"$VENV/bin/python" -c "import os, pyflink; print(os.path.dirname(pyflink.__file__))"

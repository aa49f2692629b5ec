#!/usr/bin/env bash
# The whole test suite, in one command: installs what the tests need when it is missing
# (libclang for the RocksDB state backend, moto's S3 server, the Flink peer when one is given),
# runs every test of every crate with every feature (RocksDB included), then the default build's
# own test that a job asking for RocksDB without the feature is refused. Arguments go to the
# first `cargo test` (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice-target}"

scripts/install-build-deps.sh
# The s3:// checkpoint test runs against moto's S3 server (installed from PyPI once).
if SLUICE_S3_SERVER="$(scripts/install-test-deps.sh)"; then
  export SLUICE_S3_SERVER
else
  echo "moto could not be installed: the s3:// checkpoint test is skipped" >&2
fi
# Tests that compare results with the real Apache Flink run when a Flink peer (a directory
# with setup.sh and run_event_time_windows.sh) is given in FLINK_PEER_DIR or sits beside the
# repository; setup.sh installs Flink from PyPI once and is quick afterwards.
if [ -z "${FLINK_PEER_DIR:-}" ] && [ -x ../shared/peers/flink/setup.sh ]; then
  FLINK_PEER_DIR="$(cd ../shared/peers/flink && pwd)"
fi
if [ -n "${FLINK_PEER_DIR:-}" ]; then
  if command -v javac >/dev/null && "$FLINK_PEER_DIR/setup.sh" >/dev/null 2>&1; then
    export FLINK_PEER_DIR
  else
    echo "Flink peer at $FLINK_PEER_DIR could not be set up: comparisons with Flink are skipped" >&2
    unset FLINK_PEER_DIR
  fi
fi

cargo test --workspace --all-features "$@"
if [ $# -eq 0 ]; then
  cargo test -p sluice --test state_backend_options
fi

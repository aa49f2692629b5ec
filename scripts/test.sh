#!/usr/bin/env bash
# The whole test suite, in one command: installs what the tests need when it is missing
# (libclang for the RocksDB state backend, moto's S3 server, Apache Flink 2.3 from PyPI for the
# comparisons with Flink, python3's venv for a Flink REST client from PyPI, Chromium for the
# dashboard), runs every test of every crate with every feature (RocksDB included), then the
# default build's own test that a job asking for RocksDB without the feature is refused.
# Arguments go to the first `cargo test` (e.g. a test name filter).
#
# A test whose requirement could not be installed is skipped and listed at the end; with
# SLUICE_REQUIRE_ALL=1 (as .ci/run sets) a requirement that cannot be installed fails instead.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice-target}"

missing() { # WHAT
  if [ -n "${SLUICE_REQUIRE_ALL:-}" ]; then
    echo "$1 could not be installed, and SLUICE_REQUIRE_ALL is set" >&2
    exit 1
  fi
  echo "$1 could not be installed: the tests that need it will be skipped" >&2
}

scripts/install-build-deps.sh
# The s3:// checkpoint test runs against moto's S3 server (installed from PyPI once).
if SLUICE_S3_SERVER="$(scripts/install-test-deps.sh)"; then
  export SLUICE_S3_SERVER
else
  missing "moto's S3 server"
fi
# A Flink REST client from PyPI reads Sluice's REST API from a throwaway virtualenv.
if python3 -m venv --help >/dev/null 2>&1; then
  SLUICE_PYTHON="$(command -v python3)"
  export SLUICE_PYTHON
else
  missing "python3 with venv"
fi
# The web dashboard's browser test drives headless Chromium through chromedriver.
if SLUICE_CHROMEDRIVER="$(scripts/install-chromium.sh)"; then
  export SLUICE_CHROMEDRIVER
else
  missing "Chromium and chromedriver"
fi
# The comparisons with Apache Flink run its DataStream API (benches/flink/*.java).
if FLINK_HOME="$(scripts/install-flink.sh)"; then
  export FLINK_HOME
else
  missing "Apache Flink"
fi

SLUICE_SKIPPED="$(mktemp)"
export SLUICE_SKIPPED
trap 'rm -f "$SLUICE_SKIPPED"' EXIT
report_skips() {
  if [ -s "$SLUICE_SKIPPED" ]; then
    echo "SKIPPED tests (their requirement is missing):" >&2
    sort -u "$SLUICE_SKIPPED" | sed 's/^/  /' >&2
  fi
}
status=0
cargo test --workspace --all-features "$@" || status=$?
if [ "$status" = 0 ] && [ $# -eq 0 ]; then
  cargo test -p sluice --test state_backend_options || status=$?
fi
report_skips
exit "$status"

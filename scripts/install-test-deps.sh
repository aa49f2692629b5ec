#!/usr/bin/env bash
# Installs what integration tests need besides the Rust toolchain: moto's S3-compatible server
# (from PyPI, in a virtualenv) for the s3:// checkpoint storage test. Prints the server's path.
# Quick when it is installed already.
set -euo pipefail
CACHE="${SLUICE_PEERS_CACHE:-$HOME/.cache/sluice-peers}"
VENV="$CACHE/moto-venv"
if [ ! -x "$VENV/bin/moto_server" ]; then
  mkdir -p "$CACHE"
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install -q 'moto[server]' >&2
fi
echo "$VENV/bin/moto_server"

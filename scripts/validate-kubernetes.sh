#!/usr/bin/env bash
# Checks deploy/kubernetes/*.yaml against the Kubernetes API schemas, strictly, without a
# cluster (kubernetes-validate from PyPI, in a virtualenv; quick when installed already).
# `kubectl apply --dry-run=client` needs an API server for discovery, which CI does not have.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${SLUICE_PEERS_CACHE:-$HOME/.cache/sluice-peers}"
VENV="$CACHE/kubernetes-validate-venv"
if [ ! -x "$VENV/bin/kubernetes-validate" ]; then
  mkdir -p "$CACHE"
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install -q kubernetes-validate >&2
fi
manifests=()
for file in deploy/kubernetes/*.yaml; do
  [ "$(basename "$file")" = kustomization.yaml ] || manifests+=("$file")
done
"$VENV/bin/kubernetes-validate" --strict --quiet "${manifests[@]}"
echo "deploy/kubernetes: ${#manifests[@]} manifests valid"

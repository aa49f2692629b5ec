#!/usr/bin/env bash
# Fails when the default build (every crate but sluice-rocksdb, default features, with normal,
# build and dev dependencies) depends on a crate that needs more than a Rust toolchain and a C
# compiler: bindgen and clang-sys need libclang, librocksdb-sys builds RocksDB's C++.
set -euo pipefail
cd "$(dirname "$0")/.."

tree="$(cargo tree --workspace --exclude sluice-rocksdb -e normal,build,dev \
  --prefix none --format '{p}')"
if ! grep -q '^sluice v' <<<"$tree"; then
  echo "cargo tree listed no sluice crate: the check did not run" >&2
  exit 1
fi
native="$(grep -E '^(bindgen|clang-sys|librocksdb-sys|rocksdb) v' <<<"$tree" | sort -u || true)"
if [ -n "$native" ]; then
  echo "the default build depends on native build tooling it must not need:" >&2
  echo "$native" >&2
  for crate in $(awk '{ print $1 }' <<<"$native"); do
    cargo tree --workspace --exclude sluice-rocksdb -e normal,build,dev -i "$crate" >&2
  done
  exit 1
fi
echo "default build: no bindgen, clang-sys or librocksdb-sys"

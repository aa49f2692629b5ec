#!/usr/bin/env bash
# Installs the system packages the build needs and a fresh machine may lack: libclang, which
# bindgen uses to build the embedded RocksDB state backend. Quick when they are present.
set -euo pipefail

have_libclang() {
  [ -n "${LIBCLANG_PATH:-}" ] && return 0
  ldconfig -p 2>/dev/null | grep -q 'libclang\(-[0-9.]*\)\?\.so' && return 0
  compgen -G '/usr/lib/llvm-*/lib/libclang*.so*' >/dev/null
}

if have_libclang; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "libclang is missing: install your system's libclang development package" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  sudo="sudo"
fi
echo "installing libclang-dev (needed to build RocksDB)" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libclang-dev >/dev/null

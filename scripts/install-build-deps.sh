#!/usr/bin/env bash
# Installs what building with the `rocksdb` feature needs beyond a Rust toolchain and a C
# compiler: libclang (the C library, with clang's own headers), which bindgen uses to generate
# RocksDB's bindings. The default build needs none of it. Quick when it is present.
set -euo pipefail

# The libclang C library: libclang.so, libclang.so.14, libclang-14.so.1, ... (not libclang-cpp,
# the C++ library some images ship on its own, which bindgen cannot use).
libclang_library() {
  { ldconfig -p 2>/dev/null | awk '{ print $NF }'
    compgen -G '/usr/lib/llvm-*/lib/libclang*.so*' || true
  } | grep -E '/libclang(-[0-9][0-9.]*)?\.so(\.[0-9][0-9.]*)?$' | head -n 1
}

# Clang's builtin headers (stddef.h, ...), which bindgen parses with beside the library.
clang_headers() {
  compgen -G '/usr/lib/llvm-*/lib/clang/*/include/stddef.h' \
    || compgen -G '/usr/lib/clang/*/include/stddef.h' \
    || compgen -G '/usr/lib64/clang/*/include/stddef.h'
}

have_libclang() {
  [ -n "${LIBCLANG_PATH:-}" ] && return 0
  [ -n "$(libclang_library)" ] && clang_headers >/dev/null
}

if have_libclang; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "libclang is missing: install your system's libclang development package" \
    "(or set LIBCLANG_PATH) to build with the rocksdb feature" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  sudo="sudo"
fi
echo "installing libclang-dev (bindgen needs it to build RocksDB)" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libclang-dev >/dev/null
if ! have_libclang; then
  echo "libclang-dev was installed, but no libclang C library or clang headers were found" >&2
  exit 1
fi
echo "libclang: $(libclang_library)" >&2

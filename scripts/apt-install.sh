#!/usr/bin/env bash
# Installs Debian packages with apt-get (as root, or through sudo), saying why:
#   scripts/apt-install.sh "WHY" PACKAGE...
# Fails, naming the packages, on a system without apt-get.
set -euo pipefail
why="$1"
shift
if ! command -v apt-get >/dev/null; then
  echo "$* missing ($why): install them with your system's package manager" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
echo "installing $* ($why)" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null

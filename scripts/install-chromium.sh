#!/usr/bin/env bash
# Installs Chromium and its WebDriver server (Debian's chromium and chromium-driver) for the
# web dashboard's browser test, with apt-get when chromedriver is missing. Prints the path of
# chromedriver. Quick when they are installed already.
set -euo pipefail
if ! command -v chromedriver >/dev/null; then
  if ! command -v apt-get >/dev/null; then
    echo "chromedriver is missing: install Chromium and its chromedriver" >&2
    exit 1
  fi
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "installing chromium and chromium-driver (the dashboard's browser test)" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
fi
command -v chromedriver

#!/usr/bin/env bash
# Installs Chromium and its WebDriver server (Debian's chromium and chromium-driver) for the
# web dashboard's browser test, with apt-get when chromedriver is missing. Prints the path of
# chromedriver. Quick when they are installed already.
set -euo pipefail
if ! command -v chromedriver >/dev/null; then
  "$(dirname "$0")/apt-install.sh" "the dashboard's browser test" chromium chromium-driver
fi
command -v chromedriver

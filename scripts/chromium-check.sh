#!/usr/bin/env bash
# Installs Debian's `chromium` when it is missing (as root, else with sudo), so
# the headless-browser test of report.html (engine/tests/report_browser.rs) can
# open the page. Prints the browser's path; fails loudly when it cannot.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi
command -v chromium || { echo "chromium-check: chromium could not be installed" >&2; exit 1; }

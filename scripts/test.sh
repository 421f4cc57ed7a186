#!/usr/bin/env bash
# The test command of the README: installs what the tests need that cargo cannot
# (tmux, for the pseudo-terminal test of the human-feedback mode; Debian's chromium,
# for the headless-browser test of report.html), then runs every test of the
# workspace in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v tmux >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    apt-get install -y -qq tmux >/dev/null
  else
    sudo apt-get update -qq
    sudo apt-get install -y -qq tmux >/dev/null
  fi
fi
bash scripts/chromium-check.sh >/dev/null
cargo test --workspace --release "$@"

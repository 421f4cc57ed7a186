#!/usr/bin/env bash
# The test command of the README: installs what the tests need that cargo cannot
# (tmux, for the pseudo-terminal test of the human-feedback mode; Debian's chromium,
# for the headless-browser test of report.html; Debian's slurm-wlm and munge, a
# one-node Slurm for the Slurm driver's tests), then runs every test of the
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
# A one-node Slurm on this machine (Debian's slurm-wlm and munge) for the tests
# of the Slurm driver: they run against the real daemons and fail, not skip, when
# the daemons are missing. Stopped again when the tests end.
started_slurm=0
if ! scripts/slurm-local.sh status >/dev/null 2>&1; then
  bash scripts/slurm-local.sh start
  started_slurm=1
fi
trap '[ "$started_slurm" = 1 ] && bash scripts/slurm-local.sh stop >/dev/null || true' EXIT
cargo test --workspace --release "$@"
# The tests that need the real daemons are marked #[ignore] (plain `cargo test`
# reports them as ignored); here they run.
cargo test --release -p rewardsmith --lib slurm -- --ignored
cargo test --release -p rewardsmith --test slurm -- --ignored

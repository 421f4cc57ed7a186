#!/usr/bin/env bash
# Wall time of the README quickstart search and where it goes: training vs LLM
# vs checks, and what the loop adds over the trainings it runs (goal < 5 %).
#
# Usage: scripts/bench_run.sh [extra `rewardsmith run` flags]   (from the repository root)
# Prints one JSON object (the run summary's `timing`, plus shares in percent).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p rewardsmith
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
summary=$(target/release/rewardsmith run --task cartpole-balance --samples 4 --generations 3 \
  --budget 30000 --final-budget 100000 --out "$out/run" --json "$@")
python3 - "$summary" <<'PY'
import json, sys
s = json.loads(sys.argv[1])
t = s["timing"]
total = t["total_s"]
pct = lambda x: round(100.0 * x / total, 1)
checks = t["candidates_s"] + t["final_s"] - t["training_s"]
print(json.dumps({
    "wall_s": round(total, 1),
    "training_pct": pct(t["training_s"]),
    "llm_pct": pct(t["llm_s"]),
    "checks_analysis_pictures_pct": pct(checks),
    "rest_pct": pct(total - t["candidates_s"] - t["final_s"] - t["llm_s"]),
    "loop_overhead_pct": round(100.0 * t["loop_overhead"], 1),
    "timing": t,
}, indent=1))
PY

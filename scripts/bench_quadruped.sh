#!/usr/bin/env bash
# Quadruped env steps/s against MuJoCo Ant-v5 (gymnasium), measured in one run.
#
# Usage: scripts/bench_quadruped.sh            (from the repository root)
# Needs the peer's venv once:
#   python3 -m venv .venv-peer && .venv-peer/bin/pip install mujoco gymnasium
# Prints one JSON object: rapier figures on 1 and 2 threads, the peer's figures,
# and the ratios (per core) rapier / peer.
set -euo pipefail
cd "$(dirname "$0")/.."
peer=${PEER_SCRIPT:-../shared/bench/mujoco_ant.py}
py=${PEER_PYTHON:-.venv-peer/bin/python}
cargo build --release -q -p rewardsmith
bin=target/release/rewardsmith
one=$($bin rollout --task quadruped-run --policy random --episodes 20 --threads 1 --json)
two=$($bin rollout --task quadruped-run --policy random --episodes 40 --threads 2 --json)
mj=$($py "$peer" --json)
python3 - "$one" "$two" "$mj" <<'PY'
import json, sys
one, two, mj = (json.loads(a) for a in sys.argv[1:4])
r1 = one["env_steps_per_sec"]
r2 = two["env_steps_per_sec"]
gym = mj.get("gym_env_steps_per_sec")
raw = mj.get("raw_env_steps_per_sec")
print(json.dumps({
    "rapier_quadruped_1_thread": round(r1),
    "rapier_quadruped_2_threads": round(r2),
    "mujoco_ant_gym_env_step": round(gym) if gym else None,
    "mujoco_ant_raw": round(raw) if raw else None,
    "ratio_vs_gym_per_core": round(r1 / gym, 3) if gym else None,
    "ratio_vs_raw_per_core": round(r1 / raw, 3) if raw else None,
    "scaling_2_threads": round(r2 / r1, 3),
}, indent=2))
PY

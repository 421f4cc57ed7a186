#!/usr/bin/env bash
# Successive halving against uniform allocation, on the same candidates.
#
# Usage: scripts/bench_search.sh TASK [extra `rewardsmith run` flags]   (from the repository root)
#
# Runs the search twice: first `--allocation uniform` with the offline designer
# (its answers recorded in the run's llm/ folder), then `--allocation halving`
# on those recorded answers (`--llm replay`), so both train identical
# candidates. One generation by default (GENERATIONS=N for more: the second
# generation's request carries the first's reflection, which differs between
# the two runs, so beyond one generation both runs use the offline designer
# and their later candidates may differ). Both include the final evaluation.
# Prints each run's env steps, wall time, the best candidate's final fitness
# and normalised score, and halving's ratios to uniform, as one JSON object.
set -euo pipefail
cd "$(dirname "$0")/.."
task=${1:?usage: scripts/bench_search.sh TASK [extra run flags]}
shift
generations=${GENERATIONS:-1}
cargo build --release -q -p rewardsmith
out=${BENCH_OUT:-$(mktemp -d)}
mkdir -p "$out"
bin=target/release/rewardsmith
common=(run --task "$task" --generations "$generations" --json --progress plain)

"$bin" "${common[@]}" --allocation uniform --out "$out/uniform" "$@" >"$out/uniform.json" 2>"$out/uniform.log"
if [ "$generations" = 1 ]; then
  designer=(--llm replay --replay "$out/uniform/llm")
else
  designer=()
fi
"$bin" "${common[@]}" --allocation halving "${designer[@]}" --out "$out/halving" "$@" \
  >"$out/halving.json" 2>"$out/halving.log"

python3 - "$out" "$task" "$generations" <<'PY'
import json, sys
out, task, generations = sys.argv[1], sys.argv[2], int(sys.argv[3])
def figures(name):
    s = json.load(open(f"{out}/{name}.json"))
    t = s["timing"]
    final = s.get("final") or {}
    return {
        "search_env_steps": t["search_env_steps"],
        "final_env_steps": t["final_env_steps"],
        "wall_s": round(t["total_s"], 1),
        "search_wall_s": round(t["candidates_s"] + t["llm_s"], 1),
        "best_search_fitness": (s.get("best") or {}).get("fitness"),
        "best_final_fitness": (final.get("best") or {}).get("mean"),
        "normalized_score": final.get("normalized_score"),
    }
u, h = figures("uniform"), figures("halving")
ratio = lambda k: (h[k] / u[k]) if u.get(k) not in (None, 0) and h.get(k) is not None else None
print(json.dumps({
    "task": task,
    "generations": generations,
    "same_candidates": generations == 1,
    "uniform": u,
    "halving": h,
    "halving_over_uniform": {
        "search_env_steps": ratio("search_env_steps"),
        "search_wall_s": ratio("search_wall_s"),
        "best_final_fitness": ratio("best_final_fitness"),
    },
    "runs": out,
}, indent=1))
PY

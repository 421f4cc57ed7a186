#!/usr/bin/env python3
"""What Slurm adds to each training of a run made with `--executor slurm`.

Usage: scripts/slurm_overhead.py RUN_DIR

For every array task of the run (`slurm-array-*.tasks` in each generation's
folder and in best/final/), it reads:
  - submitted: the time of the run's note "...: Slurm job J submitted" (events.jsonl);
  - started:   the first line of the task's slurm.log ("task started at EPOCH");
  - ended:     when the task wrote its result.json (the file's modification time);
  - read:      the first "... on Slurm: ... N done" note after that time, i.e. when
               the search saw the result;
and prints, per batch and over the run, the mean and max of submit->start and
end->read, beside the mean training time (result.json's wall_s).
"""

import json
import os
import re
import sys
from datetime import datetime
from glob import glob


def ts(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def main(run):
    events = [json.loads(l) for l in open(os.path.join(run, "events.jsonl")) if l.strip()]
    notes = [(ts(e["ts"]), e["text"]) for e in events if e.get("event") == "note"]
    submitted = {}
    for t, text in notes:
        m = re.search(r"(.*): Slurm job (\d+) submitted", text)
        if m:
            submitted[int(m.group(2))] = (t, m.group(1))
    # Which array (job id) each task list belongs to: the jobs files name the
    # arrays in submission order, and each batch folder numbers its lists.
    rows = []
    for jobs_file in glob(os.path.join(run, "**", "slurm-jobs*.json"), recursive=True):
        folder = os.path.dirname(jobs_file)
        arrays = json.load(open(jobs_file))["arrays"]
        for job, _keys in arrays:
            if job not in submitted:
                continue
            t_sub, label = submitted[job]
            lists = sorted(glob(os.path.join(folder, "slurm-array-*.tasks")), key=os.path.getmtime)
            # The list submitted closest before the note is this array's.
            lst = min(lists, key=lambda p: abs(os.path.getmtime(p) - t_sub))
            for line in open(lst):
                spec, out = line.rstrip("\n").split("\t")
                log, result = os.path.join(out, "slurm.log"), os.path.join(out, "result.json")
                if not (os.path.exists(log) and os.path.exists(result)):
                    continue
                first = open(log).readline()
                m = re.search(r"task started at ([0-9.]+)", first)
                if not m:
                    continue
                started, ended = float(m.group(1)), os.path.getmtime(result)
                read = next(
                    (t for t, text in notes if t >= ended and label + " on Slurm:" in text),
                    None,
                )
                wall = json.load(open(result)).get("report", {}).get("wall_s")
                rows.append((label, started - t_sub, None if read is None else read - ended, wall))
    if not rows:
        sys.exit(f"no Slurm tasks with logs and results under {run}")
    by = {}
    for r in rows:
        by.setdefault(r[0], []).append(r)
    print(f"{'batch':<34} {'tasks':>5} {'submit->start s':>16} {'end->read s':>12} {'training s':>11}")

    def line(name, rs):
        starts = [r[1] for r in rs]
        reads = [r[2] for r in rs if r[2] is not None]
        walls = [r[3] for r in rs if r[3] is not None]
        mean = lambda xs: sum(xs) / len(xs) if xs else float("nan")
        print(
            f"{name:<34} {len(rs):>5} {mean(starts):>8.2f} (max {max(starts):.1f}) "
            f"{mean(reads):>6.2f} (max {max(reads) if reads else float('nan'):.1f}) {mean(walls):>8.2f}"
        )

    for name in sorted(by):
        line(name, by[name])
    line("all", rows)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])

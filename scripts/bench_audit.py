"""Measure what task audits and generation cost (run by hand: python scripts/bench_audit.py).

Reports the median and total time to audit the 456 shared synthetic tasks against v1's wiki
(the cost `--task-filter` adds to each pytest process when no `--audit` file is given, and
the per-episode cost of labelling episodes with their audit), and the time to generate the
built-in 300-task set.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("TAUGEPA_SHARED_DATA", REPO.parent / "shared" / "data"))


def main() -> int:
    from taugepa.generate.generator import BUILTIN_RECIPE, generate_tasks
    from taugepa.rules.audit import audit_task
    from taugepa.tasks.loading import load_tasks
    from taugepa.world.engine import get_world
    from taugepa.world.policy import load_policy

    started = time.perf_counter()
    world = get_world()
    print(f"engine load: {time.perf_counter() - started:.2f} s")
    policy = load_policy(DATA / "tau-bench-v1" / "wiki.md")
    tasks = load_tasks(
        [
            str(DATA / "synthetic" / "validated_tasks_easy_with_instructions.json"),
            str(DATA / "synthetic" / "validated_tasks_medium_with_instructions.json"),
        ]
    ).tasks
    for task in tasks[:20]:  # warm up caches (base rows, regexes)
        audit_task(task, policy, world)
    for round_number in range(3):
        times = []
        total = time.perf_counter()
        for task in tasks:
            began = time.perf_counter()
            audit_task(task, policy, world)
            times.append(time.perf_counter() - began)
        total = time.perf_counter() - total
        print(
            f"audit round {round_number + 1}: {len(tasks)} tasks in {total:.2f} s, "
            f"median {statistics.median(times) * 1000:.2f} ms/task, max {max(times) * 1000:.1f} ms"
        )
    began = time.perf_counter()
    generated = generate_tasks(BUILTIN_RECIPE["n"], BUILTIN_RECIPE["seed"], load_policy(), world)
    print(f"generate {len(generated.tasks)} tasks (with self-check): {time.perf_counter() - began:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A user's agent chosen by each of the three routes gives the verdicts `--agent oracle` gives.

Run by hand: `python scripts/custom_agent_routes.py [--tasks tau2-airline]`. Lays out, in a
temporary folder outside the package, `GoldReplayer` (an agent written only against
`taugepa.agents` that replays each task's gold actions, as `oracle` does), an installed
distribution whose `taugepa.agents` entry point names it, and a benchmark suite whose
conftest.py's `pytest_taugepa_make_agent` hook returns it (`taugepa.testing.custom_agent_routes`).
Then runs `pytest` four times on the tasks: `--agent oracle`, `--agent gold_replayer:GoldReplayer`,
`--agent gold-replayer` (the entry point) and the hook suite, and prints, per route, the
verdict counts, how many tasks have the same verdict as oracle, and the run header's agent.
Exit status 1 if any verdict differs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    from taugepa.benchmarks import SUITE_DIR
    from taugepa.testing.custom_agent_routes import ROUTES, lay_out, route_commands

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="tau2-airline")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="taugepa-routes-") as temporary:
        folder = lay_out(Path(temporary) / "agent")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), str(REPO)])}
        verdicts: dict[str, dict[str, str]] = {}
        headers: dict[str, object] = {}
        commands = route_commands(folder, SUITE_DIR, "--tasks", args.tasks, "-q", "--task-filter", "all")
        for route in ROUTES:
            scores = Path(temporary) / f"{route.replace(' ', '_').replace(':', '_')}.json"
            command = [*commands[route], "--scores-out", str(scores)]
            done = subprocess.run(command, cwd=temporary, env=env, capture_output=True, text=True)
            if not scores.exists():
                print(f"{route}: pytest exited {done.returncode} without a scores file", file=sys.stderr)
                print((done.stdout + done.stderr)[-2000:], file=sys.stderr)
                return 2
            document = json.loads(scores.read_text())
            verdicts[route] = {e["task_id"]: e["outcome"] for e in document["episodes"]}
            headers[route] = document["run"].get("custom_agent") or document["run"]["agent"]
    oracle = verdicts["oracle"]
    print(f"tasks: {args.tasks} ({len(oracle)} episodes per route)")
    print(f"{'route':<24} {'verdicts':<40} {'same as oracle':<16} run header")
    differing = 0
    for route in ROUTES:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(Counter(verdicts[route].values()).items()))
        same = sum(1 for task, outcome in oracle.items() if verdicts[route].get(task) == outcome)
        differing += len(oracle) - same
        print(f"{route:<24} {counts:<40} {same}/{len(oracle):<14} {json.dumps(headers[route])}")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())

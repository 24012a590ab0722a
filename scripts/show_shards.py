"""The sharding must-show: one run in one process against the same run as 4 shards, merged and gated.

    python scripts/show_shards.py [--tasks SPEC] [--agent null] [--trials 2] [--shards 4]

Runs `pytest benchmarks` once in one process and once per shard (`--shard K/N`, shard 2 with
`-n 2`), merges the shards with `taugepa merge`, gates both files with `taugepa gate
--min-pass-rate 30%` and with `--min-pass-rate 50%`, and prints episodes, pass rate, pass^k,
the gate's last line and exit status side by side, and whether the two scores files are equal
apart from timing. The built-in null agent fails some tasks, so the gates have something to decide.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("TAUGEPA_SHARED_DATA") or REPO.parent / "shared" / "data")


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


def comparable(path: Path) -> dict:
    document = json.loads(path.read_text())
    document.pop("timing")
    document.pop("merged_from", None)
    for entry in document["episodes"]:
        entry.pop("duration_s")
    return document


def figures(path: Path) -> str:
    summary = json.loads(path.read_text())["summary"]
    counts = summary["counts"]
    pass_k = " · ".join(f"pass^{k} {v:.1%}" for k, v in summary["pass_k"]["values"].items())
    return (
        f"{summary['episodes']} episodes on {summary['tasks']} tasks, pass rate {summary['pass_rate']:.1%} "
        f"({counts['passed']} passed, {counts['failed']} failed, {counts['invalid']} invalid, "
        f"{counts['error']} errors), {pass_k}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default=str(DATA / "tau-bench-v1" / "airline_test_tasks.json"))
    parser.add_argument("--agent", default="null")
    parser.add_argument("--trials", default="2")
    parser.add_argument("--shards", type=int, default=4)
    args = parser.parse_args()
    pytest = [sys.executable, "-m", "pytest", str(REPO / "benchmarks"), "-p", "no:cacheprovider", "-q"]
    pytest += ["--tasks", args.tasks, "--agent", args.agent, "--trials", args.trials]
    taugepa = [sys.executable, "-m", "taugepa.cli"]
    with tempfile.TemporaryDirectory(prefix="taugepa-shards-") as folder:
        work = Path(folder)
        started = time.monotonic()
        run([*pytest, "--scores-out", "one.json"], work)
        one_wall = time.monotonic() - started
        walls = []
        for index in range(1, args.shards + 1):
            workers = ["-n", "2"] if index == 2 else []
            started = time.monotonic()
            shard = f"{index}/{args.shards}"
            done = run([*pytest, *workers, "--shard", shard, "--scores-out", f"s{index}.json"], work)
            walls.append(time.monotonic() - started)
            print(f"shard {shard}{' (-n 2)' if workers else ''}: {done.stdout.strip().splitlines()[-1]}")
        shards = [f"s{index}.json" for index in range(1, args.shards + 1)]
        merged = run([*taugepa, "merge", *shards, "--out", "all.json"], work)
        if merged.returncode:
            sys.exit(merged.stderr)
        print(merged.stdout.strip())
        print(f"one process: {figures(work / 'one.json')} (wall {one_wall:.1f} s)")
        print(f"4 shards   : {figures(work / 'all.json')} (walls {', '.join(f'{w:.1f}' for w in walls)} s)")
        equal = comparable(work / "one.json") == comparable(work / "all.json")
        print(f"scores files equal apart from timing: {equal}")
        for gate in ("30%", "50%"):
            for name in ("one.json", "all.json"):
                gated = run([*taugepa, "gate", name, "--min-pass-rate", gate], work)
                last = gated.stdout.strip().splitlines()[-1]
                print(f"taugepa gate {name} --min-pass-rate {gate}: exit {gated.returncode}: {last}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

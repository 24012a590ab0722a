"""Measure the LLM path's concurrency and cache against the scripted server (run by hand).

    python scripts/bench_llm.py [--n 120] [--latency 0.3] [--concurrency 16] [--via-pytest]

Runs N valid synthetic medium tasks through the real LLM path (openai client over HTTP,
retries, cache, episode loop, verdicts) against `taugepa.testing.scripted_server`, started
in its own process with a fixed latency per answer, as a remote model would be. Reports:

- wall time, requests, and concurrency efficiency = (requests x latency / concurrency) / wall,
  the share of the ideal speed-up the run reached (1.0: every slot always waiting on a model);
- the same run again with the response cache warm: requests (should be 0) and wall time;
- that both runs gave the same verdicts.

By default episodes run through `taugepa.episode.runner.run_episodes` (what the GEPA adapter uses),
timed after the one-time import of the openai SDK; gold digests are computed beforehand.
With --via-pytest they run as `pytest benchmarks --concurrency N` (add `--workers W` for
`-n W`: then W x N are in flight), timed from the scores file's wall time (the pytest
session, without interpreter start-up) and end to end.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = Path(os.environ.get("TAUGEPA_SHARED_DATA") or REPO.parent / "shared" / "data")
KEY_ENV = "TAUGEPA_BENCH_KEY"


def start_server(task_file: Path, latency: float) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "taugepa.testing.scripted_server", "--tasks", str(task_file)]
    process = subprocess.Popen([*command, "--latency", str(latency)], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def server_stats(base_url: str) -> dict:
    with urllib.request.urlopen(f"{base_url}/_stats") as response:
        return json.load(response)


def run_with_runner(tasks, wiki: str, base_url: str, cache_dir: Path, concurrency: int) -> tuple[float, list]:
    from taugepa.episode.runner import EpisodeJob, run_episodes
    from taugepa.episode.settings import HarnessSettings
    from taugepa.llm.client import prepare_clients
    from taugepa.llm.config import LLMConfig

    llm = LLMConfig(
        agent_model="scripted-agent",
        user_model="scripted-user",
        base_url=base_url,
        api_key_env=KEY_ENV,
        cache_dir=str(cache_dir),
    )
    jobs = [EpisodeJob(task, wiki, HarnessSettings(agent="llm", llm=llm)) for task in tasks]
    prepare_clients(llm)  # the one-time import of the openai SDK is not what we measure
    started = time.perf_counter()
    results = run_episodes(jobs, concurrency=concurrency)
    wall = time.perf_counter() - started
    return wall, [(r.task_id, r.outcome, _requests(r.usage)) for r in results]


def _requests(usage: dict) -> int:
    return sum((usage.get(side) or {}).get("requests", 0) for side in ("agent", "user"))


def in_order_bound(requests_per_episode: list[int], slots: int) -> float:
    """The best efficiency possible when episodes start in order on `slots` slots and every
    request takes exactly the latency: the tail, where fewer episodes than slots are left,
    cannot be filled."""
    finish = [0] * slots
    for requests in requests_per_episode:
        heapq.heapreplace(finish, finish[0] + requests)
    return sum(requests_per_episode) / slots / max(finish)


def run_with_pytest(
    task_file: Path, wiki: Path, base_url: str, cache_dir: Path, concurrency: int, out: Path, workers: int
):
    command = [
        sys.executable, "-m", "pytest", str(REPO / "benchmarks"), "-q", "-p", "no:cacheprovider",
        "--tasks", str(task_file), "--wiki", str(wiki), "--agent", "llm",
        "--agent-model", "scripted-agent", "--user-model", "scripted-user", "--base-url", base_url,
        "--api-key-env", KEY_ENV, "--llm-cache", str(cache_dir), "--concurrency", str(concurrency),
        "--scores-out", str(out), *(["-n", str(workers)] if workers else []),
    ]  # fmt: skip
    started = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    end_to_end = time.perf_counter() - started
    if run.returncode != 0:
        sys.exit(f"pytest failed ({run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-2000:]}")
    scores = json.loads(out.read_text())
    verdicts = [(e["task_id"], e["outcome"], _requests(e["usage"])) for e in scores["episodes"]]
    return scores["timing"]["wall_s"], end_to_end, verdicts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=120, help="number of valid medium tasks")
    parser.add_argument("--latency", type=float, default=0.3, help="seconds per model answer")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--via-pytest", action="store_true", help="run through pytest benchmarks")
    parser.add_argument("--workers", type=int, default=0, help="with --via-pytest: pytest-xdist -n WORKERS")
    args = parser.parse_args()
    os.environ[KEY_ENV] = "sk-bench-not-a-real-key"

    from taugepa.tasks.gold import default_gold_cache
    from taugepa.tasks.loading import load_tasks
    from taugepa.world.engine import get_world

    source = args.data / "synthetic" / "validated_tasks_medium_with_instructions.json"
    wiki_path = args.data / "tau-bench-v1" / "wiki.md"
    world, gold = get_world(), default_gold_cache()
    valid = [t for t in load_tasks([str(source)]).tasks if gold.get(t, world).valid][: args.n]
    work = Path(tempfile.mkdtemp(prefix="taugepa-bench-llm-"))
    task_file = work / "medium_tasks.json"
    task_file.write_text(json.dumps([t.to_v1_dict() for t in valid]))
    tasks = load_tasks([str(task_file)]).tasks
    for task in tasks:
        gold.get(task, world)  # warm the gold cache: we measure the LLM path, not gold replays
    wiki = wiki_path.read_text()
    process, base_url = start_server(task_file, args.latency)
    mode = "run_episodes"
    if args.via_pytest:
        mode = "pytest benchmarks" + (f" -n {args.workers}" if args.workers else "")
    print(f"{len(tasks)} valid medium tasks, latency {args.latency * 1000:.0f} ms per answer, "
          f"concurrency {args.concurrency}{' per worker' if args.workers else ''}, {mode}, "
          f"server {base_url} (own process), {os.cpu_count()} CPUs")  # fmt: skip
    try:
        runs = []
        for label in ("first run (empty cache)", "rerun (warm cache)"):
            before = server_stats(base_url)["requests"]
            if args.via_pytest:
                scores_out = work / f"scores-{len(runs)}.json"
                wall, end_to_end, verdicts = run_with_pytest(
                    task_file, wiki_path, base_url, work / "cache", args.concurrency, scores_out, args.workers
                )
            else:
                wall, verdicts = run_with_runner(tasks, wiki, base_url, work / "cache", args.concurrency)
                end_to_end = None
            stats = server_stats(base_url)
            requests = stats["requests"] - before
            runs.append((wall, requests, verdicts))
            ideal = requests * args.latency / (args.concurrency * max(1, args.workers))
            line = f"{label}: wall {wall:.2f} s, {requests} requests"
            if end_to_end is not None:
                line += f" (end to end with interpreter start-up {end_to_end:.2f} s)"
            if requests:
                line += f", ideal {ideal:.2f} s, concurrency efficiency {ideal / wall:.3f}"
                line += f", max in flight {stats['max_in_flight']}"
            print(line)
        (wall1, _, run1), (wall2, requests2, run2) = runs
        verdicts1, verdicts2 = [v[:2] for v in run1], [v[:2] for v in run2]
        counts = dict(Counter(outcome for _, outcome in verdicts1))
        print(f"verdicts: {counts}; rerun identical: {verdicts1 == verdicts2}")
        slots = args.concurrency * max(1, args.workers)
        bound = in_order_bound([requests for *_, requests in run1], slots)
        print(f"best possible efficiency for these episodes started in order on {slots} slots: {bound:.3f}")
        print(f"cached rerun: {requests2} requests, {wall2 / wall1:.1%} of the first run's wall time")
    finally:
        process.terminate()
        process.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Measure what an oracle episode costs, including its verdict (run by hand, not in CI).

    python scripts/bench_oracle.py [--data ../shared/data] [--tau2-sample 20]

Reports the median milliseconds per task over the 456 synthetic tasks for:
- cold: empty gold cache (every task's gold is replayed and written to disk),
- warm: the same process again (gold digests in memory),
- warm from disk: a fresh cache object on the same folder (as a new process would see it),
and, for comparison, the straightforward tau2 path on a sample of tasks: two fresh tau2
environments (gold and agent), the actions replayed in both, and tau2's full database hash
of each, which is what tau2's EnvironmentEvaluator.calculate_reward does.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from taugepa.episode.run import run_episode
from taugepa.episode.settings import HarnessSettings
from taugepa.tasks.gold import GoldCache
from taugepa.tasks.loading import load_tasks
from taugepa.world.engine import get_world


def per_task_ms(tasks, wiki, cache) -> list[float]:
    config = HarnessSettings(agent="oracle")
    times = []
    for task in tasks:
        started = time.perf_counter()
        run_episode(task, wiki, config, gold_cache=cache)
        times.append((time.perf_counter() - started) * 1000)
    return times


def straightforward_tau2_ms(tasks) -> list[float]:
    from tau2.domains.airline.environment import get_environment

    times = []
    for task in tasks:
        started = time.perf_counter()
        gold, agent = get_environment(), get_environment()
        for environment in (gold, agent):
            for action in task.actions:
                if action.name == "think":
                    continue
                try:
                    environment.make_tool_call(action.name, **action.kwargs)
                except Exception:
                    pass
        assert gold.get_db_hash() == agent.get_db_hash()
        times.append((time.perf_counter() - started) * 1000)
    return times


def describe(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return (
        f"{name:<34} median {statistics.median(times):7.2f} ms   p90 {p90:7.2f} ms   "
        f"mean {statistics.fmean(times):7.2f} ms   (n={len(times)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--tau2-sample", type=int, default=20)
    args = parser.parse_args()
    data = Path(args.data)
    tasks = load_tasks(
        [
            str(data / "synthetic" / "validated_tasks_easy_with_instructions.json"),
            str(data / "synthetic" / "validated_tasks_medium_with_instructions.json"),
        ]
    ).tasks
    wiki = (data / "tau-bench-v1" / "wiki.md").read_text()

    started = time.perf_counter()
    get_world()
    print(f"one-off per process: load the airline world in {(time.perf_counter() - started) * 1000:.0f} ms")
    with tempfile.TemporaryDirectory() as folder:
        cache = GoldCache(Path(folder))
        print(describe("cold (no gold cache)", per_task_ms(tasks, wiki, cache)))
        print(describe("warm (gold in memory)", per_task_ms(tasks, wiki, cache)))
        print(describe("warm (gold from disk, new cache)", per_task_ms(tasks, wiki, GoldCache(Path(folder)))))
    if args.tau2_sample:
        sample = tasks[:: max(1, len(tasks) // args.tau2_sample)][: args.tau2_sample]
        print(describe("straightforward tau2 path (sample)", straightforward_tau2_ms(sample)))


if __name__ == "__main__":
    main()

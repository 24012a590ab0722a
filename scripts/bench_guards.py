"""What the input guards cost: loading task and scores files, and a request through the deadline.

Run by hand (not a test): `python scripts/bench_guards.py [--requests 300]`. It prints the
best of several runs of:

- `load_tasks` of the built-in set and the shared synthetic file (safe JSON reader, typed
  entries) and `json.loads` of the same bytes, for scale;
- `load_scores` of a scores file of every synthetic task played by the oracle (reader,
  typed episodes, duplicate check) and `json.loads` of it;
- sequential chat completions against the scripted server on 127.0.0.1, through the
  deadline transport taugepa uses and through the `openai` SDK's default transport.

Timings on a shared or busy machine are noisy: compare runs made on a quiet one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO))


def best_ms(function, repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return round(min(times) * 1000, 2)


def bench_loading() -> None:
    from taugepa.episode.run import run_episode
    from taugepa.episode.settings import HarnessSettings
    from taugepa.files import write_json_atomically
    from taugepa.results.scores import build_scores, episode_entry, load_scores
    from taugepa.tasks.loading import load_tasks

    medium = DATA / "synthetic" / "validated_tasks_medium_with_instructions.json"
    load_tasks(["taugepa-airline"])  # the engine and tool names, loaded once
    print(f"load_tasks taugepa-airline: {best_ms(lambda: load_tasks(['taugepa-airline']))} ms")
    guarded, plain = (
        best_ms(lambda: load_tasks([str(medium)])),
        best_ms(lambda: json.loads(medium.read_bytes())),
    )
    print(
        f"load_tasks {medium.name} ({medium.stat().st_size:,} bytes): {guarded} ms (json.loads: {plain} ms)"
    )
    tasks = load_tasks([str(medium)]).tasks
    entries = [
        episode_entry(t, run_episode(t, "policy", HarnessSettings(agent="oracle")).to_dict()) for t in tasks
    ]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scores.json"
        write_json_atomically(path, build_scores({"agent": "oracle"}, entries))
        guarded, plain = best_ms(lambda: load_scores(path)), best_ms(lambda: json.loads(path.read_bytes()))
        size = path.stat().st_size
        print(
            f"load_scores of {len(entries)} episodes ({size:,} bytes): {guarded} ms (json.loads: {plain} ms)"
        )


def bench_requests(count: int) -> None:
    import openai

    from taugepa.episode.user_sim import user_system_prompt
    from taugepa.llm.client import ChatClient
    from taugepa.llm.config import Endpoint
    from taugepa.tasks.loading import load_tasks
    from taugepa.testing.scripted_models import USER_MODEL
    from taugepa.testing.scripted_server import ScriptedServer

    tasks = load_tasks(["taugepa-airline"]).tasks[:20]
    with ScriptedServer(tasks) as server:
        for label in ("deadline transport", "SDK default transport"):
            client = ChatClient(Endpoint(server.base_url, "UNUSED", 120.0, 0, 0.0, None), "sk-bench")
            if label != "deadline transport":
                client._client = openai.OpenAI(api_key="sk-bench", base_url=server.base_url, max_retries=0)
            durations = []
            for number in range(count):
                task = tasks[number % len(tasks)]
                messages = [{"role": "system", "content": user_system_prompt(task.instruction)}]
                started = time.perf_counter()
                client.complete(side="user", model=USER_MODEL, messages=messages, seed=number)
                durations.append(time.perf_counter() - started)
            durations.sort()
            print(
                f"{label}: {count} requests, median {statistics.median(durations) * 1000:.2f} ms, "
                f"p90 {durations[int(0.9 * len(durations))] * 1000:.2f} ms"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="chat completions per transport")
    args = parser.parse_args()
    bench_loading()
    bench_requests(args.requests)


if __name__ == "__main__":
    main()

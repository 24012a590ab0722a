"""Show the failure analysis on a scripted run with deviating simulated users (run by hand).

Starts the scripted server with `taugepa.testing.scripted_deviations.mixed_scenario` (three
agent mistakes, a user that invents a reservation, a user that stops early, three fine
tasks), runs `pytest benchmarks` against it, then `taugepa report`, and prints the verdict
block, the cause table of the scores file and the reflection records' causes.

    python scripts/show_failure_causes.py OUT_DIR
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from taugepa.cli import main
from taugepa.optimize.reflection_records import reflective_records
from taugepa.results.scores import load_scores
from taugepa.tasks.loading import load_tasks
from taugepa.testing.scripted_deviations import (
    DEVIANT_USER_MODEL,
    TRUSTING_AGENT_MODEL,
    deviation_models,
    mixed_scenario,
)
from taugepa.testing.scripted_models import Conduct
from taugepa.testing.scripted_server import ScriptedServer

REPO = Path(__file__).resolve().parent.parent


def run(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    scenario = mixed_scenario(load_tasks(["taugepa-airline"]).tasks)
    server = ScriptedServer(
        scenario.tasks,
        conduct=Conduct(confirm_writes=True),
        plays=scenario.plays,
        extra_models=deviation_models(scenario.deviations),
    )
    scores_path = out / "scores.json"
    command = [sys.executable, "-m", "pytest", str(REPO / "benchmarks"), "-p", "no:cacheprovider", "-q"]
    command += ["--tasks", "taugepa-airline", "-k", " or ".join(t.id for t in scenario.tasks)]
    command += ["--agent-model", TRUSTING_AGENT_MODEL, "--user-model", DEVIANT_USER_MODEL, "--no-llm-cache"]
    command += ["--scores-out", str(scores_path), "--api-key-env", "SHOW_CAUSES_KEY"]
    with server:
        command += ["--base-url", server.base_url]
        print("$ pytest benchmarks ...  (scripted: trusting agent, deviant user)")
        done = subprocess.run(
            command, env={**os.environ, "SHOW_CAUSES_KEY": "any"}, capture_output=True, text=True, check=False
        )
    print("\n".join(done.stdout.strip().splitlines()[-16:]))
    scores = load_scores(scores_path)
    print("\ncause table (scores file):")
    print(f"  {'task':<9} {'outcome':<7} {'blame':<15} {'cause':<22} (injected)")
    for entry in scores.episodes:
        failure = entry.get("failure") or {}
        injected = scenario.expected.get(entry["task_id"], "-")
        print(
            f"  {entry['task_id']:<9} {entry['outcome']:<7} {failure.get('blame', '-'):<15} "
            f"{failure.get('cause', '-'):<22} ({injected})"
        )
    print("summary.failures:", json.dumps(scores.summary["failures"]))
    print("\n$ taugepa report scores.json --out report.html")
    main(["report", str(scores_path), "--out", str(out / "report.html")])
    print("\nreflection records (Failure cause):")
    for record in reflective_records(scores.episodes):
        if "Failure cause" in record:
            print(f"  {record['Inputs']['task_id']}: {record['Failure cause']}")


if __name__ == "__main__":
    run(Path(sys.argv[1] if len(sys.argv) > 1 else "failure-causes"))

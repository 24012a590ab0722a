"""Export real pytest runs to tau2 and let tau2's own tools read them (run by hand).

For each task set and agent (the oracle, the null agent, the scripted models over HTTP, with
and without calls taugepa refuses) it runs `pytest benchmarks`, then `taugepa export tau2
--check` (tau2's own re-grading, compared reward by reward), and prints the figures as a
Markdown table. Then it builds a submission folder from the oracle's run of tau2's 50 airline
tasks and shows `tau2 submit validate` and `tau2 view` (driven through a pipe) reading it.

    python scripts/show_tau2_export.py OUT_DIR [--only tau2]

tau2's re-grading takes about a second per episode: all sets take a while.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from taugepa.tasks.loading import load_tasks
from taugepa.testing.scripted_models import AGENT_MODEL, USER_MODEL, Faults
from taugepa.testing.scripted_server import ScriptedServer

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("TAUGEPA_SHARED_DATA", REPO.parent / "shared" / "data"))
KEY_ENV = "TAUGEPA_EXPORT_SCRIPT_KEY"
FAULTS = Faults(parallel_calls=0.3, malformed_arguments=0.1, unknown_tool=0.1)
TAU2_BIN = str(Path(sys.executable).parent / "tau2")
ENV = {**os.environ, KEY_ENV: "sk-export-script", "LITELLM_LOCAL_MODEL_COST_MAP": "True", "COLUMNS": "160"}

SETS = {
    "tau2": "tau2-airline",
    "gen": "taugepa-airline",
    "v1-test": str(DATA / "tau-bench-v1" / "airline_test_tasks.json"),
    "easy": str(DATA / "synthetic" / "validated_tasks_easy_with_instructions.json"),
    "medium": str(DATA / "synthetic" / "validated_tasks_medium_with_instructions.json"),
}
RUNS = [
    ("tau2", "oracle"),
    ("tau2", "null"),
    ("tau2", "scripted"),
    ("tau2", "scripted+refused calls"),
    ("gen", "oracle"),
    ("v1-test", "oracle"),
    ("easy", "oracle"),
    ("medium", "oracle"),
]


def benchmark(out: Path, name: str, spec: str, agent: str) -> Path:
    scores = out / f"{name}.json"
    command = [sys.executable, "-m", "pytest", str(REPO / "benchmarks"), "-q", "-p", "no:cacheprovider"]
    command += ["--tasks", spec, "--scores-out", str(scores)]
    if agent in ("oracle", "null"):
        subprocess.run([*command, "--agent", agent], env=ENV, capture_output=True, check=False)
        return scores
    faults = FAULTS if "refused" in agent else Faults()
    with ScriptedServer(load_tasks([spec]).tasks, faults=faults, api_key=ENV[KEY_ENV]) as server:
        command += ["--agent-model", AGENT_MODEL, "--user-model", USER_MODEL, "--base-url", server.base_url]
        subprocess.run([*command, "--api-key-env", KEY_ENV], env=ENV, capture_output=True, check=False)
    return scores


def export(scores: Path, folder: Path, *extra: str) -> str:
    command = [
        sys.executable,
        "-m",
        "taugepa.cli",
        "export",
        "tau2",
        str(scores),
        "--out",
        str(folder),
        *extra,
    ]
    done = subprocess.run(command, env=ENV, capture_output=True, text=True, check=False)
    return done.stdout + done.stderr


def figures(text: str) -> tuple[str, str, str]:
    exported = re.search(r"^(\d+) episodes as tau2 simulations", text, re.M)
    left = re.search(r"^left out \((\d+)\)", text, re.M)
    equal = re.search(
        r"(\d+/\d+) rewards equal to taugepa's \((\w+)\); passed: taugepa (\d+), tau2 (\d+)", text
    )
    aside = re.search(r"kept in raw_data: (.*)$", text, re.M)
    grade = (
        f"{equal.group(1)} ({equal.group(2)}; passed {equal.group(3)} vs {equal.group(4)})" if equal else "?"
    )
    counts = f"{exported.group(1) if exported else '?'} ({left.group(1) if left else 0} invalid left out)"
    return counts, grade, aside.group(1) if aside else "none"


def main(out: Path, only: str | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rows = [
        "| tasks | agent | episodes exported | tau2's re-grade vs taugepa | calls kept aside |",
        "|---|---|---|---|---|",
    ]
    for set_name, agent in RUNS:
        if only and set_name != only:
            continue
        name = f"{set_name}-{agent.split('+')[0]}" + ("-refused" if "refused" in agent else "")
        scores = benchmark(out, name, SETS[set_name], agent)
        text = export(scores, out / f"export-{name}", "--check")
        (out / f"export-{name}.log").write_text(text)
        rows.append(f"| {set_name} | {agent} | " + " | ".join(figures(text)) + " |")
        print(rows[-1], flush=True)
    print("\n".join(rows))
    submission = out / "submission"
    print(
        export(
            out / "tau2-oracle.json",
            submission,
            "--submission",
            "--organization",
            "Example",
            "--email",
            "a@b.c",
        )
    )
    validate = subprocess.run(
        [TAU2_BIN, "submit", "validate", str(submission)], env=ENV, capture_output=True, text=True
    )
    print("$ tau2 submit validate", submission)
    print(validate.stdout[validate.stdout.find("🔍 Validating") :])
    trajectories = next((submission / "trajectories").glob("*.json"))
    view = subprocess.run(
        [TAU2_BIN, "view", "--file", str(trajectories)],
        input="1\n\n2\n5\n",
        env=ENV,
        capture_output=True,
        text=True,
    )
    print(f"$ printf '1\\n\\n2\\n5\\n' | tau2 view --file {trajectories}")
    print(view.stdout[view.stdout.find("Loaded") :])


if __name__ == "__main__":
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    main(Path(sys.argv[1]), only)

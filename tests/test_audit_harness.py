"""The benchmark with audits: selecting tasks by audit status, audit flags in the scores file and summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from taugepa.rules.audit import audit_tasks
from taugepa.tasks.loading import load_tasks
from taugepa.world.policy import load_policy

REPO = Path(__file__).resolve().parent.parent


def run_benchmark(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict | None]:
    scores = tmp_path / "scores.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "benchmarks",
            "-q",
            "-p",
            "no:cacheprovider",
            "--scores-out",
            str(scores),
            *args,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return done, json.loads(scores.read_text()) if scores.exists() else None


def test_null_agent_passes_exactly_the_refusal_tasks_of_the_builtin_set(tmp_path: Path):
    done, scores = run_benchmark(tmp_path, "--tasks", "taugepa-airline", "--agent", "null", "-n", "2")
    assert done.returncode == 1, done.stdout[-2000:]
    tasks = {t.id: t for t in load_tasks(["taugepa-airline"]).tasks}
    passed = {e["task_id"] for e in scores["episodes"] if e["outcome"] == "passed"}
    refusals = {task_id for task_id, task in tasks.items() if task.metadata["refusal"]}
    assert passed == refusals
    assert all(e["audit"]["status"] == "clean" for e in scores["episodes"])
    assert scores["summary"]["audit"]["free_pass"]["passed"] == len(refusals)
    assert (
        f"the null agent passed {len(refusals)} episode(s) on {len(refusals)} task(s), "
        f"{len(refusals)} of the episodes free passes" in done.stdout
    )


def test_null_agent_line_names_each_task_once_whatever_the_trials(tmp_path: Path, v1_tasks_file: Path):
    done, scores = run_benchmark(tmp_path, "--tasks", str(v1_tasks_file), "--agent", "null", "--trials", "2")
    passed = list(dict.fromkeys(e["task_id"] for e in scores["episodes"] if e["outcome"] == "passed"))
    assert len(passed) > 8  # the tasks that ask for nothing
    line = next(line for line in done.stdout.splitlines() if line.startswith("the null agent passed"))
    assert line.startswith(f"the null agent passed {2 * len(passed)} episode(s) on {len(passed)} task(s)")
    assert line.endswith(": " + ", ".join(passed[:8]) + " …")
    audit_line = next(line for line in done.stdout.splitlines() if line.startswith("audit (audited"))
    assert sum(int(part.split()[0]) for part in audit_line.split(": ", 1)[1].split(" · ")) == 50  # tasks


def test_task_filter_with_an_audit_file(tmp_path: Path, v1_tasks_file: Path, v1_wiki: Path):
    tasks = load_tasks([str(v1_tasks_file)])
    report = audit_tasks(tasks.tasks, load_policy(v1_wiki), sources=tasks.sources)
    audit_file = tmp_path / "audit.json"
    report.write(audit_file)
    clean = sorted(a.task_id for a in report.tasks if a.status == "clean")
    common = ["--tasks", str(v1_tasks_file), "--wiki", str(v1_wiki), "--agent", "oracle"]
    done, scores = run_benchmark(tmp_path, *common, "--audit", str(audit_file), "--task-filter", "clean")
    assert done.returncode == 0, done.stdout[-2000:]
    assert sorted(e["task_id"] for e in scores["episodes"]) == clean
    assert scores["run"]["audit"] == {
        "source": str(audit_file),
        "policy_sha256": report.policy["sha256"],
        "task_filter": "clean",
        "tasks_loaded": 50,
        "tasks_run": len(clean),
    }
    assert f"task filter clean: ran {len(clean)} of 50 tasks loaded" in done.stdout

    # the same selection computed on the fly against --wiki
    done, computed = run_benchmark(tmp_path, *common, "--task-filter", "violates")
    assert done.returncode == 0
    assert sorted(e["task_id"] for e in computed["episodes"]) == sorted(
        a.task_id for a in report.tasks if a.status == "violates"
    )
    flags = {e["task_id"]: e["audit"]["flags"] for e in computed["episodes"]}
    assert "cancel.flown:definite" in flags["test-26"]


def test_bad_audit_options_stop_the_run(tmp_path: Path, v1_tasks_file: Path):
    done, _ = run_benchmark(
        tmp_path, "--tasks", str(v1_tasks_file), "--agent", "oracle", "--task-filter", "nice"
    )
    assert done.returncode == 4 and "unknown --task-filter 'nice'" in done.stderr
    stale = tmp_path / "other-audit.json"
    report = audit_tasks(load_tasks(["tau2-airline"]).tasks, load_policy())
    report.write(stale)
    done, _ = run_benchmark(
        tmp_path, "--tasks", str(v1_tasks_file), "--agent", "oracle", "--audit", str(stale)
    )
    assert done.returncode == 4 and "has no entry for task test-00" in done.stderr

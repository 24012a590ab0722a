"""The pytest plugin end to end: real pytest runs of the benchmark suite in subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_taugepa.workers import available_cpus
from taugepa.tasks.loading import load_tasks

REPO = Path(__file__).resolve().parent.parent
USAGE_ERROR = 4


def benchmark(tmp_path: Path, *args: str, scores: str = "scores.json") -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(REPO / "benchmarks"),
        "-p",
        "no:cacheprovider",
        "--scores-out",
        str(tmp_path / scores),
        *args,
    ]
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)


def load(tmp_path: Path, name: str = "scores.json") -> dict:
    return json.loads((tmp_path / name).read_text())


def without_timing(document: dict) -> dict:
    document = {k: v for k, v in document.items() if k != "timing"}
    document["episodes"] = [{k: v for k, v in e.items() if k != "duration_s"} for e in document["episodes"]]
    return document


def test_oracle_passes_v1_test_tasks_and_writes_scores(tmp_path, v1_tasks_file, v1_wiki):
    run = benchmark(
        tmp_path, "--tasks", str(v1_tasks_file), "--wiki", str(v1_wiki), "--agent", "oracle", "-q"
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "50 passed" in run.stdout
    assert "pass rate 100.0% (50 passed, 0 failed) · 0 invalid · 0 errors" in run.stdout
    assert f"scores file: {tmp_path / 'scores.json'}" in run.stdout
    scores = load(tmp_path)
    assert scores["format"] == "taugepa-scores" and scores["version"] == 1
    assert scores["run"]["agent"] == "oracle" and scores["run"]["wiki"]["path"] == str(v1_wiki)
    assert scores["run"]["task_sources"][0]["count"] == 50
    assert [e["task_id"] for e in scores["episodes"]] == [f"test-{i:02d}" for i in range(50)]


def test_outputs_default_to_the_directory_pytest_ran_from(tmp_path, v1_tasks_file):
    """Not the rootdir (the repository): the scores file lands next to --html, where the user is."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    command = [sys.executable, "-m", "pytest", str(REPO / "benchmarks"), "-p", "no:cacheprovider", "-q"]
    command += ["--tasks", str(v1_tasks_file), "--agent", "oracle", "-k", "test-00", "--html", "page.html"]
    run = subprocess.run(command, cwd=elsewhere, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr
    assert (elsewhere / "page.html").is_file() and (elsewhere / "taugepa-scores.json").is_file()
    assert f"scores file: {elsewhere / 'taugepa-scores.json'}" in run.stdout


def test_serial_and_xdist_runs_write_identical_scores(tmp_path, synthetic_files, v1_wiki):
    args = [f"--tasks={p}" for p in synthetic_files] + ["--wiki", str(v1_wiki), "--agent", "oracle", "-q"]
    serial = benchmark(tmp_path, *args, scores="serial.json")
    parallel = benchmark(tmp_path, *args, "-n", "2", scores="parallel.json")
    for run in (serial, parallel):
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr
        assert "449 passed, 7 skipped" in run.stdout
    assert without_timing(load(tmp_path, "serial.json")) == without_timing(load(tmp_path, "parallel.json"))
    counts = load(tmp_path, "parallel.json")["summary"]["counts"]
    assert counts == {"passed": 449, "failed": 0, "invalid": 7, "error": 0}


def test_more_xdist_workers_than_cpus_run_one_per_cpu_unless_kept(tmp_path, v1_tasks_file):
    cpus = available_cpus()
    asked = cpus + 1
    args = ["--tasks", str(v1_tasks_file), "--agent", "oracle", "-n", str(asked)]
    folded = benchmark(tmp_path, *args, scores="folded.json")
    kept = benchmark(tmp_path, *args, "--keep-workers", scores="kept.json")
    for run in (folded, kept):
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr
    assert f"-n {asked} on {cpus} CPUs: running {cpus} worker processes" in folded.stdout
    assert f"created: {cpus}/{cpus} workers" in folded.stdout
    assert f"created: {asked}/{asked} workers" in kept.stdout and "worker processes" not in kept.stdout
    assert without_timing(load(tmp_path, "folded.json")) == without_timing(load(tmp_path, "kept.json"))


def test_failures_carry_feedback_without_traceback(tmp_path, v1_tasks_file):
    args = ["--tasks", str(v1_tasks_file), "--agent", "null", "-q", "-k", "test-01"]
    short, full = benchmark(tmp_path, *args), benchmark(tmp_path, *args, "--tb=long")
    for run in (short, full):
        assert run.returncode == 1
        assert "First divergence at write 1: the agent never called cancel_reservation(" in run.stdout
        assert "Traceback" not in run.stdout and "def test_task" not in run.stdout
    # by default one line per failure (the action listings are in the scores file and --html)
    assert "Expected writes (" not in short.stdout
    assert "-v or --tb=long shows the full feedback" in short.stdout
    assert "The final database does not match the gold outcome.\nExpected writes (1): " in full.stdout


def test_invalid_tasks_are_skipped_with_the_reason(tmp_path, synthetic_files):
    run = benchmark(
        tmp_path, "--tasks", str(synthetic_files[1]), "--agent", "oracle", "-q", "-rs", "-k", "medium-039"
    )
    assert run.returncode == 0
    assert (
        "SKIPPED" in run.stdout
        and "Invalid task: gold action 3 (book_reservation) fails in the engine" in run.stdout
    )
    assert load(tmp_path)["summary"]["invalid_tasks"] == ["medium-039"]


def test_cases_are_marked_by_difficulty_and_gold_action(tmp_path, synthetic_files, v1_tasks_file):
    by_mark = benchmark(
        tmp_path, *[f"--tasks={p}" for p in synthetic_files], "--agent", "oracle", "-q", "-m", "easy"
    )
    assert "100 passed" in by_mark.stdout and "356 deselected" in by_mark.stdout
    expected = sum("cancel_reservation" in t.action_names for t in load_tasks([str(v1_tasks_file)]).tasks)
    by_keyword = benchmark(
        tmp_path, "--tasks", str(v1_tasks_file), "--agent", "oracle", "-q", "-k", "cancel_reservation"
    )
    assert f"{expected} passed" in by_keyword.stdout


def test_trials_give_one_case_per_trial(tmp_path, v1_tasks_file):
    run = benchmark(
        tmp_path, "--tasks", str(v1_tasks_file), "--agent", "oracle", "--trials", "2", "-k", "test-03", "-v"
    )
    assert "test_task[test-03-t0] PASSED" in run.stdout and "test_task[test-03-t1] PASSED" in run.stdout
    assert [(e["task_id"], e["trial"]) for e in load(tmp_path)["episodes"]] == [
        ("test-03", 0),
        ("test-03", 1),
    ]


def test_ini_options_are_read_relative_to_the_ini_file(tmp_path, v1_tasks_file):
    (tmp_path / "tasks.json").write_text(v1_tasks_file.read_text())
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\ntaugepa_tasks = tasks.json\ntaugepa_agent = oracle\ntaugepa_trials = 1\n"
    )
    run = benchmark(
        tmp_path, "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path), "-q", "-k", "tasks-0"
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "10 passed" in run.stdout
    assert load(tmp_path)["run"]["task_sources"][0]["path"] == str(tmp_path / "tasks.json")


def test_min_pass_rate_gate_decides_the_exit_status(tmp_path, v1_tasks_file):
    met = benchmark(
        tmp_path, "--tasks", str(v1_tasks_file), "--agent", "null", "-q", "--min-pass-rate", "30%"
    )
    assert met.returncode == 0, met.stdout[-1500:]
    assert "31 failed, 19 passed" in met.stdout and "gate passed: --min-pass-rate 30.0%" in met.stdout
    last_lines = met.stdout.strip().splitlines()[-7:]  # the verdict comes after pytest's own last line
    assert last_lines[0].startswith("pass rate 38.0% (19 passed, 31 failed) · 0 invalid · 0 errors")
    assert last_lines[1].startswith("compliance 100.0% (50 of 50 scored episodes")  # it writes nothing
    # the null agent writes nothing: its failures are its own, or the audit's suspects
    assert last_lines[2].startswith("failure causes: agent gave up in text 22 · task suspect")
    assert last_lines[-1] == (
        "PASS (exit status 0): every gate holds; with a gate set, failed episodes alone do not fail the run "
        "(31 episodes failed)"
    )
    missed = benchmark(
        tmp_path, "--tasks", str(v1_tasks_file), "--agent", "null", "-q", "--min-pass-rate", "0.5"
    )
    assert missed.returncode == 1
    assert "\ngate failed: pass rate 38.0% (19/50) is below --min-pass-rate 50.0%\n" in missed.stdout
    last = missed.stdout.strip().splitlines()[-1]
    assert last == "FAIL (exit status 1): the gate --min-pass-rate 50.0% failed"
    nothing = benchmark(
        tmp_path,
        "--tasks",
        str(v1_tasks_file),
        "--agent",
        "oracle",
        "-k",
        "test-00",
        "--min-pass-rate",
        "1.0",
    )
    assert nothing.returncode == 0  # 100% >= 100%


def test_baseline_regression_gate(tmp_path, v1_tasks_file):
    benchmark(tmp_path, "--tasks", str(v1_tasks_file), "--agent", "oracle", "-q", scores="baseline.json")
    base = [
        "--tasks",
        str(v1_tasks_file),
        "--agent",
        "null",
        "-q",
        "--baseline",
        str(tmp_path / "baseline.json"),
    ]
    regressed = benchmark(tmp_path, *base, "--max-regression", "0.1")
    assert regressed.returncode == 1
    assert (
        "gate failed: pass rate 38.0% on the 50 shared tasks is 62.0% below the baseline's 100.0%"
        in regressed.stdout
    )
    assert regressed.stdout.strip().splitlines()[-1].startswith("FAIL (exit status 1): the gate --baseline ")
    tolerated = benchmark(tmp_path, *base, "--max-regression", "70%")
    assert tolerated.returncode == 0, tolerated.stdout[-1500:]


def test_a_run_that_passes_every_task_fails_on_compliance_alone(tmp_path):
    # the oracle replays tau2's gold: every task passes, but 4 golds break a rule (the audit's "violates")
    run = benchmark(
        tmp_path,
        "--tasks",
        "tau2-airline",
        "--agent",
        "oracle",
        "-q",
        "--min-pass-rate",
        "90%",
        "--min-compliance",
        "95%",
    )
    assert run.returncode == 1, run.stdout[-1500:]
    verdict = run.stdout[run.stdout.index("taugepa verdict") :].splitlines()[1:]
    assert verdict[0].startswith("pass rate 100.0% (50 passed, 0 failed)")
    assert verdict[1] == (
        "compliance 92.0% (46 of 50 scored episodes with no definite policy violation; 4 broke a rule)"
    )
    assert verdict[2:4] == [
        "gate passed: --min-pass-rate 90.0%",
        "gate failed: compliance 92.0% (46/50 episodes with no definite violation) is below "
        "--min-compliance 95.0%",
    ]
    assert verdict[-1] == "FAIL (exit status 1): the gate --min-compliance 95.0% failed"
    benchmark(tmp_path, "--tasks", "tau2-airline", "--agent", "oracle", "-q", scores="base.json")
    same = benchmark(
        tmp_path,
        "--tasks",
        "tau2-airline",
        "--agent",
        "oracle",
        "-q",
        "--baseline",
        str(tmp_path / "base.json"),
        "--max-compliance-regression",
        "0",
    )
    assert same.returncode == 0, same.stdout[-1500:]
    assert "gate passed: --baseline " in same.stdout and "--max-compliance-regression 0.0%" in same.stdout


def test_html_report_carries_escaped_transcripts(tmp_path):
    tasks = [
        {
            "user_id": "mia_li_3668",
            "instruction": "I am <script>alert('pwned')</script> and want my details.",
            "actions": [{"name": "get_user_details", "kwargs": {"user_id": "mia_li_3668"}}],
        }
    ]
    (tmp_path / "tasks.json").write_text(json.dumps(tasks))
    run = benchmark(
        tmp_path,
        "--tasks",
        str(tmp_path / "tasks.json"),
        "--agent",
        "oracle",
        "--html",
        str(tmp_path / "r.html"),
    )
    assert run.returncode == 0, run.stdout + run.stderr
    page = (tmp_path / "r.html").read_text()
    assert "alert(&amp;#x27;pwned&amp;#x27;)" in page or "alert(&#x27;pwned&#x27;)" in page
    assert "<script>alert(" not in page
    assert "get_user_details" in page and "expected (gold)" in page


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (None, ["--wiki", "missing.md"], "wiki file not found: missing.md"),
        ({"empty.md": "  \n"}, ["--wiki", "empty.md"], "wiki file empty.md is empty"),
        (None, ["--tasks", "missing.json"], "task file not found: missing.json"),
        ({"bad.json": "[{"}, ["--tasks", "bad.json"], "bad.json: not valid JSON"),
        (
            {
                "tool.json": json.dumps(
                    [{"user_id": "u", "instruction": "i", "actions": [{"name": "fly", "kwargs": {}}]}]
                )
            },
            ["--tasks", "tool.json"],
            "tool.json: entry 0: action 0 names unknown tool 'fly'",
        ),
        (None, ["--trials", "0"], "--trials must be at least 1, got 0"),
        (
            {"other.json": '{"results": []}'},
            ["--baseline", "other.json"],
            "other.json is not a taugepa scores file",
        ),
        (None, ["--min-pass-rate", "2"], "--min-pass-rate must be between 0 and 1"),
    ],
)
def test_bad_input_stops_the_run_with_one_line(tmp_path, setup, args, message):
    for name, content in (setup or {}).items():
        (tmp_path / name).write_text(content)
    run = benchmark(tmp_path, "--agent", "oracle", *args)
    assert run.returncode == USAGE_ERROR
    error_lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(error_lines) == 1 and error_lines[0].startswith("ERROR: ") and message in error_lines[0], (
        run.stderr
    )
    assert "Traceback" not in run.stdout + run.stderr
    assert not (tmp_path / "scores.json").exists()


def test_llm_agent_without_endpoint_is_one_clear_line(tmp_path):
    run = benchmark(tmp_path)
    assert run.returncode == USAGE_ERROR
    assert run.stderr.strip().startswith("ERROR: --agent llm") and "\n" not in run.stderr.strip()

"""Hostile options and task files through the real pytest plugin and the `taugepa` command line.

Bad options stop the run before any episode with one line (pytest: `ERROR: ...`, exit 4;
taugepa: `taugepa: error: ...`, exit 2), saying what is wrong and why. Group names from
task files never become marks pytest acts on. The benchmark runs in-process (pytester), so
these cases cost no interpreter start-up each.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taugepa.cli import main

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent
USAGE_ERROR = 4


@pytest.fixture(scope="module", autouse=True)
def _modules_loaded_once():
    """In-process runs unload the modules they import; extension modules cannot be loaded twice."""
    import numpy.fft  # noqa: F401
    import pytest_html.plugin  # noqa: F401
    import scipy.stats  # noqa: F401

    import pytest_taugepa.plugin  # noqa: F401
    import taugepa.results.report  # noqa: F401
    from taugepa.world.engine import get_world

    get_world()


@pytest.fixture(scope="module")
def task_entries(v1_tasks_file):
    return json.loads(v1_tasks_file.read_text())


def write_tasks(path: Path, entries: list[dict]) -> Path:
    path.write_text(json.dumps(entries))
    return path


def benchmark(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess(
        str(REPO / "benchmarks"), "-p", "no:cacheprovider", "-q", "--scores-out", "scores.json", *args
    )


def one_error_line(result: pytest.RunResult) -> str:
    lines = [line for line in result.errlines if line.strip()]
    assert result.ret == USAGE_ERROR and len(lines) == 1 and lines[0].startswith("ERROR: "), result.errlines
    assert not Path("scores.json").exists()
    return lines[0].removeprefix("ERROR: ")


def tampered_scores(pytester: pytest.Pytester, damage) -> str:
    """A scores file of a real (tiny) run, damaged by `damage(first_episode)`."""
    path = pytester.path / "baseline.json"
    document = {
        "format": "taugepa-scores",
        "version": 1,
        "run": {},
        "summary": {},
        "episodes": [
            {
                "task_id": "test-00",
                "trial": 0,
                "outcome": "passed",
                "score": 1.0,
                "group": "test",
                "gold_action_names": [],
            }
        ],
    }
    damage(document["episodes"][0])
    path.write_text(json.dumps(document))
    return str(path)


CASES = [
    (
        ["--trials", "100000000"],
        "--trials must be at most 1,000 (each trial of each task is a test case held in memory; "
        "pass^k needs a handful), got 100000000",
    ),
    (
        ["--max-steps", "5000"],
        "--max-steps must be at most 1,000 (each step is a model call; tau-bench stops at 30)",
    ),
    (["--concurrency", "100000"], "--concurrency must be at most 256 (each episode in flight is a thread"),
    (["--max-retries", "1000"], "--max-retries must be at most 50 (with backoff capped at 30 s"),
    (["--request-timeout", "1e9"], "--request-timeout must be at most 3,600 (an hour for one answer"),
    (
        ["--trials", "1" * 5001],
        "--trials expects a whole number, got '1111111111111111111111111111111111111111'",
    ),
    (["--wiki", "/dev/zero"], "wiki file /dev/zero is a device, not a file: pass a wiki file"),
    (["--scores-out", "."], "--scores-out . is a folder: give a file path"),
    (["--scores-out", "blocker/scores.json"], "--scores-out blocker/scores.json cannot be written: "),
    (["--scores-out", "/dev/null"], "--scores-out /dev/null is not a regular file (a device or a pipe)"),
    (["--html", "."], "--html . is a folder: give a file path"),
]


@pytest.mark.parametrize(("args", "message"), CASES, ids=[" ".join(c[0])[:30] for c in CASES])
def test_bad_options_stop_the_run_with_one_line(pytester, v1_tasks_file, args, message):
    (pytester.path / "blocker").write_text("a file, not a folder")
    result = benchmark(pytester, "--tasks", str(v1_tasks_file), "--agent", "oracle", *args)
    assert one_error_line(result).startswith(message)


BASELINES = [
    (lambda e: e.update(score=7.5), "'score' should be less than or equal to 1, got 7.5"),
    (lambda e: e.pop("outcome"), "'outcome' is missing"),
    (lambda e: e.update(score="1.0"), "'score' should be a valid number, got '1.0'"),
]


@pytest.mark.parametrize(("damage", "problem"), BASELINES, ids=["7.5", "no outcome", "string"])
def test_a_tampered_baseline_is_refused_before_any_episode(pytester, v1_tasks_file, damage, problem):
    baseline = tampered_scores(pytester, damage)
    result = benchmark(pytester, "--tasks", str(v1_tasks_file), "--agent", "oracle", "--baseline", baseline)
    assert one_error_line(result) == (
        f"{baseline}: episode 0 (test-00#0): {problem}: was it edited by hand? Rerun the benchmark to write "
        "a new one"
    )


def test_more_cases_than_a_machine_holds_are_refused_before_they_are_built(pytester, task_entries):
    tasks = write_tasks(pytester.path / "many.json", [task_entries[0]] * 1001)
    result = benchmark(pytester, "--tasks", str(tasks), "--agent", "oracle", "--trials", "1000")
    assert one_error_line(result) == (
        "1,001 tasks x 1,000 trials would make 1,001,000 test cases, more than 1,000,000 (every case "
        "(task x trial) is held in memory before the first one runs): "
        "run fewer trials or split the task files"
    )


def test_credentials_in_the_base_url_are_refused_without_printing_them(pytester, v1_tasks_file, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-unused")
    secret = "sk-secret-in-url-0123456789"
    result = benchmark(
        pytester, "--tasks", str(v1_tasks_file), "--agent-model", "m", "--base-url", f"http://u:{secret}@h/v1"
    )
    line = one_error_line(result)
    assert line.startswith("--base-url must not contain credentials (user:password@ in http://h/v1)")
    assert secret not in "\n".join(result.outlines + result.errlines)


@pytest.mark.parametrize("group", ["skip", "skipif", "xfail", "usefixtures", "filterwarnings", "a.b"])
def test_a_group_named_like_a_pytest_mark_never_acts_as_one(pytester, task_entries, group):
    tasks = write_tasks(
        pytester.path / "g.json", [dict(entry, difficulty=group) for entry in task_entries[:2]]
    )
    easy = write_tasks(
        pytester.path / "e.json", [dict(entry, difficulty="easy") for entry in task_entries[2:3]]
    )
    result = benchmark(pytester, "--tasks", str(tasks), "--tasks", str(easy), "--agent", "oracle")
    mark = "taugepa_group_" + group.replace(".", "_")
    assert result.ret == 0 and result.parseoutcomes() == {"passed": 3}, result.outlines
    assert (
        f"taugepa: warning: task groups that would be pytest marks with a meaning (or are not plain names) "
        f"are marked apart: select '{group}' as -m {mark}" in result.outlines
    )
    assert len(json.loads((pytester.path / "scores.json").read_text())["episodes"]) == 3
    selected = benchmark(
        pytester, "--tasks", str(tasks), "--tasks", str(easy), "--agent", "oracle", "-m", mark
    )
    assert selected.parseoutcomes() == {"passed": 2, "deselected": 1}
    easy_only = benchmark(
        pytester, "--tasks", str(tasks), "--tasks", str(easy), "--agent", "oracle", "-m", "easy"
    )
    assert easy_only.parseoutcomes() == {"passed": 1, "deselected": 2}


def test_an_unwritable_cache_is_announced_once_at_the_start(pytester, v1_tasks_file, monkeypatch):
    (pytester.path / "blocker").write_text("a file, not a folder")
    monkeypatch.setenv("TAUGEPA_CACHE_DIR", str(pytester.path / "blocker" / "cache"))
    monkeypatch.setattr("taugepa.tasks.gold._default_cache", None)  # this process's gold cache, made anew
    result = benchmark(pytester, "--tasks", str(v1_tasks_file), "--agent", "oracle", "-k", "test-0")
    notices = [line for line in result.outlines if line.startswith("taugepa: warning:")]
    blocker = pytester.path / "blocker"
    assert result.ret == 0 and notices == [
        f"taugepa: warning: the gold cache at {blocker / 'cache' / 'gold'} cannot be written "
        f"({blocker} is a file, not a folder): each process replays the gold of every task"
    ]


OPTIMIZE_ORACLE = ["optimize", "--agent", "oracle", "--reflection-model", "r", "--budget", "50"]


COMMANDS = [
    (["report", "{scores}", "--out", "."], "taugepa: error: --out . is a folder: give a file path"),
    (["audit", "--tasks", "{tasks}", "--out", "."], "taugepa: error: --out . is a folder: give a file path"),
    (
        ["generate", "--n", "100000000", "--seed", "1", "--out", "t.json"],
        "taugepa: error: --n must be at most 10,000 (the generator holds every task and its audit in memory",
    ),
    (["generate", "--n", "3", "--seed", "1", "--out", "."], "taugepa: error: --out . is a folder"),
    (["compare", "{scores}", "{scores}", "--json", "."], "taugepa: error: --json . is a folder"),
    (
        ["rescore", "{results}", "--tasks", "{tasks}", "--scores-out", "blocker/s.json"],
        "taugepa: error: --scores-out blocker/s.json cannot be written: ",
    ),
    (
        [
            "optimize",
            "--agent",
            "oracle",
            "--reflection-model",
            "r",
            "--budget",
            "100",
            "--run-dir",
            "blocker",
        ],
        "taugepa: error: --run-dir blocker cannot be used: blocker is a file, not a folder",
    ),
    (
        ["optimize", "--agent", "oracle", "--reflection-model", "r", "--budget", "10000000"],
        "taugepa: error: --budget must be at most 1,000,000",
    ),
    (["audit", "--list-rules", "--wiki", "/dev/zero"], "taugepa: error: policy file /dev/zero is a device"),
    (
        [*OPTIMIZE_ORACLE, "--reflection-base-url", "http://u:k@h/v1"],
        "taugepa: error: --reflection-base-url must not contain credentials (user:password@ in http://h/v1)",
    ),
    (
        [*OPTIMIZE_ORACLE, "--reflection-base-url", "sk-pasted"],
        "taugepa: error: --reflection-base-url is not an http(s) URL: give one such as http://localhost:8000/v1",
    ),
]


@pytest.mark.parametrize(("argv", "message"), COMMANDS, ids=[" ".join(c[0][:3]) for c in COMMANDS])
def test_bad_command_line_input_is_one_line(
    tmp_path, monkeypatch, capsys, v1_tasks_file, shared_data, argv, message
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "blocker").write_text("a file, not a folder")
    scores = tmp_path / "ok-scores.json"
    scores.write_text(json.dumps({"format": "taugepa-scores", "version": 1, "run": {}, "episodes": []}))
    results = shared_data / "tau-bench-v1" / "gpt-4o-airline-sample.json"
    names = {"scores": str(scores), "tasks": str(v1_tasks_file), "results": str(results)}
    code = main([part.format(**names) for part in argv])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(message) and err.count("\n") == 1, err

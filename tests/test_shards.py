"""A run split over machines: `pytest --shard K/N`, `taugepa merge` and `taugepa gate`.

The end-to-end runs use the null agent on tau-bench v1's 50 test tasks with 2 trials: it
fails 31 of them, so the pass rate and the gates have something to decide.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from taugepa.errors import ConfigError
from taugepa.tasks.shard import Shard, assign, parse_shard

REPO = Path(__file__).resolve().parent.parent
SHARDS = 4


def pytest_run(folder: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pytest", str(REPO / "benchmarks"), "-p", "no:cacheprovider", *args]
    env = {**os.environ, "COLUMNS": "100"}
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False, env=env)


def taugepa(folder: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "100"}
    command = [sys.executable, "-m", "taugepa.cli", *args]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False, env=env)


def verdict_block(stdout: str) -> list[str]:
    """The verdict block: its title line and every line after it."""
    lines = stdout.rstrip("\n").splitlines()
    start = max(i for i, line in enumerate(lines) if " taugepa verdict " in line)
    return lines[start:]


def comparable(path: Path) -> dict:
    """A scores file without what differs between identical runs or marks a merge."""
    document = json.loads(path.read_text())
    document.pop("timing")
    document.pop("merged_from", None)
    for entry in document["episodes"]:
        entry.pop("duration_s")
    return document


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, v1_tasks_file: Path) -> Path:
    """One run in one process, and the same run as 4 shards (shard 2 with -n 2), merged."""
    folder = tmp_path_factory.mktemp("shards")
    common = ["--tasks", str(v1_tasks_file), "--agent", "null", "--trials", "2", "-q"]
    whole = pytest_run(folder, *common, "--tb=short", "--scores-out", str(folder / "one.json"))
    assert "62 failed, 38 passed" in whole.stdout, whole.stdout[-2000:] + whole.stderr
    for index in range(1, SHARDS + 1):
        workers = ["-n", "2"] if index == 2 else []
        shard = pytest_run(
            folder,
            *common,
            *workers,
            "--shard",
            f"{index}/{SHARDS}",
            "--scores-out",
            str(folder / f"s{index}.json"),
        )
        assert shard.returncode == 1, shard.stdout[-2000:] + shard.stderr  # failed episodes, no gate
    merged = taugepa(
        folder, "merge", *(str(folder / f"s{i}.json") for i in range(1, SHARDS + 1)), "--out", "all.json"
    )
    assert merged.returncode == 0, merged.stderr
    assert merged.stdout.startswith("merged 4 shards: 100 episodes on 50 tasks, pass rate 38.0% (38 passed")
    return folder


def test_every_task_is_in_exactly_one_shard_and_the_shards_are_even():
    ids = [f"task-{i}" for i in range(457)]
    for count in (1, 2, 3, 4, 10, 457):
        shards = assign(ids, count)
        assert set(shards) == set(ids) and set(shards.values()) == set(range(1, count + 1))
        sizes = Counter(shards.values())
        assert max(sizes.values()) - min(sizes.values()) <= 1
        selected = [Shard(index, count).select(ids) for index in range(1, count + 1)]
        assert sum(len(part) for part in selected) == len(ids) and set().union(*selected) == set(ids)
    assert assign(reversed(ids), 4) == assign(ids, 4)  # by id, not by place in the task files


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2", "--shard expects K/N, the shard to run and how many there are (such as 2/4), got '2'"),
        ("a/b", "--shard expects K/N"),
        ("0/4", "--shard 0/4: the shard must be between 1 and 4 (shards count from 1)"),
        ("5/4", "--shard 5/4: the shard must be between 1 and 4"),
        ("1/0", "--shard 1/0: the number of shards must be between 1 and 1000"),
    ],
)
def test_a_bad_shard_is_one_line(text, message):
    with pytest.raises(ConfigError) as raised:
        parse_shard(text)
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)
    assert parse_shard(" 3/4 ") == Shard(3, 4)


def test_four_shards_merged_equal_the_one_process_run(runs):
    one, merged = comparable(runs / "one.json"), comparable(runs / "all.json")
    assert merged == one  # run header, summary (pass rate, pass^k, causes) and every episode
    assert merged["summary"]["episodes"] == 100 and merged["summary"]["pass_rate"] == 0.38
    document = json.loads((runs / "all.json").read_text())
    assert [source["shard"] for source in document["merged_from"]] == ["1/4", "2/4", "3/4", "4/4"]
    assert sum(source["episodes"] for source in document["merged_from"]) == 100
    seen: dict[str, int] = {}
    for index in range(1, SHARDS + 1):
        shard = json.loads((runs / f"s{index}.json").read_text())
        assert shard["run"]["shard"]["index"] == index and shard["run"]["shard"]["tasks"] in (12, 13)
        tasks = Counter(entry["task_id"] for entry in shard["episodes"])
        assert set(tasks.values()) == {2}  # both trials of a task in the task's shard
        for task_id in tasks:
            assert task_id not in seen, f"{task_id} in shards {seen.get(task_id)} and {index}"
            seen[task_id] = index
    assert len(seen) == 50


@pytest.mark.parametrize(
    "gates",
    [
        [],
        ["--min-pass-rate", "30%"],
        ["--min-pass-rate", "0.5"],
        ["--baseline", "{one}", "--max-regression", "0"],
        ["--min-compliance", "0.5"],  # the compliance gates are gates like the others
    ],
)
def test_gate_prints_pytests_verdict_block_and_exits_as_pytest_does(runs, v1_tasks_file, gates):
    gates = [value.format(one=runs / "one.json") for value in gates]
    scores = runs / "gated.json"
    common = ["--tasks", str(v1_tasks_file), "--agent", "null", "--trials", "2", "--scores-out", str(scores)]
    # -q: the failures above are one line, which pytest's block says (the scores file has no "above")
    style = ["-q"] if len(gates) % 4 == 0 else ["--tb=short"]
    ran = pytest_run(runs, *common, *style, *gates)
    gated = taugepa(runs, "gate", str(scores), *gates)
    assert gated.returncode == ran.returncode, gated.stdout + gated.stderr
    expected = verdict_block(ran.stdout)
    if style == ["-q"]:
        expected = [line for line in expected if not line.startswith("each failure above is one line")]
    assert gated.stdout.splitlines() == expected
    merged = taugepa(runs, "gate", str(runs / "all.json"), *gates)
    assert merged.returncode == ran.returncode
    assert merged.stdout.replace(str(runs / "all.json"), "X") == gated.stdout.replace(str(scores), "X")


def _edited(runs: Path, name: str, change) -> str:
    document = json.loads((runs / "s1.json").read_text())
    change(document)
    (runs / name).write_text(json.dumps(document))
    return str(runs / name)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["run"]["wiki"].update(sha256="0" * 64),
            "were made with different wikis (run.wiki differs)",
        ),
        (
            lambda d: d["run"].update(protocol="tau2"),
            "were made with different protocols (run.protocol differs)",
        ),
        (lambda d: d["run"].update(taugepa_version="9.9"), "were made with different taugepa versions"),
        (lambda d: d["run"]["task_sources"][0].update(sha256="0" * 64), "different task sets"),
        (lambda d: d["run"]["shard"]["task_ids"].pop(), "were run on different task sets"),
        (lambda d: d["run"].pop("shard"), "is not a shard's scores file (its run had no --shard K/N)"),
        (lambda d: d["run"]["shard"].update(count=5), "is shard 1/5 but"),
        (
            lambda d: d.update(interrupted={"reason": "Ctrl-C", "episodes_done": 3, "episodes_planned": 26}),
            "is interrupted (Ctrl-C) after 3 of 26 episodes: partial, not the run's result: rerun that shard",
        ),
    ],
)
def test_merge_refuses_what_is_not_one_runs_shards_in_one_line(runs, edit, message):
    edited = _edited(runs, "edited.json", edit)
    files = [edited, *(str(runs / f"s{i}.json") for i in range(2, SHARDS + 1))]
    refused = taugepa(runs, "merge", *reversed(files), "--out", "refused.json")
    assert refused.returncode == 2
    assert message in refused.stderr and refused.stderr.count("\n") == 1, refused.stderr
    assert not (runs / "refused.json").exists()


def test_merge_refuses_a_shard_twice_or_missing(runs):
    files = [str(runs / f"s{i}.json") for i in range(1, SHARDS + 1)]
    twice = taugepa(runs, "merge", *files, str(runs / "s3.json"), "--out", "refused.json")
    assert twice.returncode == 2 and "are both shard 3/4: pass each shard's scores file once" in twice.stderr
    missing = taugepa(runs, "merge", *files[:2], files[3], "--out", "refused.json")
    assert missing.returncode == 2
    assert "shard 3/4 missing: pass the scores files of all 4 shards" in missing.stderr
    moved = _edited(runs, "moved.json", lambda d: d["episodes"].append(_foreign_episode(runs)))
    foreign = taugepa(runs, "merge", moved, *files[1:], "--out", "refused.json")
    assert foreign.returncode == 2 and "which is not one of its tasks" in foreign.stderr
    assert not (runs / "refused.json").exists()


def _foreign_episode(runs: Path) -> dict:
    return json.loads((runs / "s2.json").read_text())["episodes"][0]


def test_a_run_with_more_shards_than_tasks_stops_before_any_episode(tmp_path, v1_tasks_file):
    ran = pytest_run(tmp_path, "--tasks", str(v1_tasks_file), "--agent", "null", "--shard", "3/51")
    assert ran.returncode == 4
    assert "--shard 3/51: there are only 50 tasks to split, so at most 50 shards" in ran.stderr


def test_an_errored_episode_fails_the_gate_command_as_it_fails_pytest(runs):
    """With every gate holding, failed episodes do not fail the run, but an infrastructure error does."""
    from taugepa.results.gates import GateSettings
    from taugepa.results.scores import load_scores
    from taugepa.results.verdict import judge_scores, verdict_lines

    scores = load_scores(runs / "all.json")
    errored = next(entry for entry in scores.episodes if entry["outcome"] == "failed")
    errored.update(outcome="error", score=None)
    state = judge_scores(scores, GateSettings(min_pass_rate=0.3))
    assert state.exit_status == 1
    assert verdict_lines(state)[-1] == (
        "FAIL (exit status 1): 1 episode ended in infrastructure errors (not the agent's fault)"
    )
    scores.episodes.remove(errored)
    assert judge_scores(scores, GateSettings(min_pass_rate=0.3)).exit_status == 0

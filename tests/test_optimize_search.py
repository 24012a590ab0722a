"""Sections, tool descriptions, the curriculum, merge and the transfer step, end to end against
scripted models over real HTTP.

Plumbing tests: `scripted-section-agent` performs a kind of write only when the rule sentence
stands in the wiki's section about it, or the tool's description carries its hint, and the
scripted reflector adds what the feedback asks for to the text it is shown (a whole wiki
gets it appended at the end, where the section agent does not read it). The task set is
built to need that: its writes are bookings, changes and cancellations, none of them the
subject of the wiki's last section.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from taugepa.cli import main
from taugepa.optimize.settings import RolloutPlan
from taugepa.optimize.transfer import TRANSFER_FILES
from taugepa.results.scores import load_scores
from taugepa.tasks.loading import load_tasks
from taugepa.testing.scripted_models import USER_MODEL
from taugepa.testing.scripted_optimizer import EXTRA_MODELS, REFLECTION_MODEL, SECTION_AGENT_MODEL, tool_hint
from taugepa.testing.scripted_server import ScriptedServer
from taugepa.world.tool_descriptions import (
    default_tool_descriptions,
    descriptions_sha256,
    load_tool_descriptions,
)

KEY_ENV, KEY = "TAUGEPA_TEST_SEARCH_KEY", "sk-test-search-5150"
REPO = Path(__file__).resolve().parent.parent
SCENARIOS = {
    "cancel",
    "change_dates",
    "update_passenger",
    "cabin_change",
    "book_one_way",
    "add_bags",
    "book_cheapest",
    "cabin_and_bags",
    "cancel_and_rebook",
    "change_refused",
    "cancel_refused",
    "book_round_trip",
}


@pytest.fixture(scope="module")
def task_files(tmp_path_factory):
    """A pool for the search and a disjoint test set, with writes the wiki's last section is not about."""
    import random

    picked = [t for t in load_tasks(["taugepa-airline"]).tasks if t.metadata.get("scenario") in SCENARIOS]
    random.Random(3).shuffle(picked)
    pool, test = [], []
    for difficulty, in_pool, in_test in (("easy", 12, 4), ("medium", 14, 4), ("hard", 10, 4)):
        group = [t for t in picked if t.difficulty == difficulty]
        pool += group[:in_pool]
        test += group[in_pool : in_pool + in_test]
    folder = tmp_path_factory.mktemp("tasks")
    for name, tasks in (("pool", pool), ("test", test)):
        (folder / f"{name}.json").write_text(json.dumps([t.to_v1_dict() for t in tasks]))
    return folder / "pool.json", folder / "test.json", pool + test


@pytest.fixture(scope="module")
def server(task_files):
    os.environ[KEY_ENV] = KEY
    with ScriptedServer(task_files[2], api_key=KEY, extra_models=EXTRA_MODELS) as running:
        yield running


def search_args(server, pool, run_dir, *extra, budget=30, val=6, minibatch=2):
    return [
        "optimize",
        *("--tasks", str(pool), "--agent-model", SECTION_AGENT_MODEL, "--user-model", USER_MODEL),
        *("--reflection-model", REFLECTION_MODEL, "--base-url", server.base_url, "--api-key-env", KEY_ENV),
        *("--budget", str(budget), "--val-size", str(val), "--minibatch-size", str(minibatch)),
        *("--train-size", "16", "--run-dir", str(run_dir), "--concurrency", "4", "--no-llm-cache"),
        *extra,
    ]


def test_sections_beat_the_whole_wiki_at_an_equal_budget(server, task_files, tmp_path, capsys):
    best = {}
    for mode in ("wiki", "sections"):
        assert main(search_args(server, task_files[0], tmp_path / mode, "--components", mode)) == 0
        out = capsys.readouterr().out
        best[mode] = json.loads((tmp_path / mode / "candidates.json").read_text())
        counted = int(re.search(r"(\d+) episodes counted against the budget", out).group(1))
        assert 30 <= counted <= 30 + RolloutPlan(30, 1, 6, 2).max_overshoot  # the same budget, held alike
    assert best["wiki"]["best_score"] == best["wiki"]["seed_score"]  # appended rules are in the wrong place
    assert best["sections"]["best_score"] > best["wiki"]["best_score"]
    improved = best["sections"]["candidates"][best["sections"]["best"]]
    changed = [
        name for name, digest in improved["components_sha256"].items() if digest != _seed_hash(best, name)
    ]
    assert changed and all(name.startswith("section:") for name in changed)
    assert best["sections"]["components"]["mode"] == "sections"


def _seed_hash(best, name):
    return best["sections"]["candidates"][0]["components_sha256"][name]


def test_sections_tools_curriculum_and_transfer_in_one_run(server, task_files, tmp_path, capsys):
    pool, test, _ = task_files
    run_dir = tmp_path / "run"
    extra = [
        "--components",
        "sections+tools",
        "--component-selector",
        "touched",
        "--curriculum",
        "easy-first",
    ]
    extra += ["--merge", "--max-merges", "2", "--test-tasks", str(test)]
    assert main(search_args(server, pool, run_dir, *extra, budget=60)) == 0
    out = capsys.readouterr().out
    assert "components sections+tools: 6 wiki sections (airline-agent-policy, domain-basic, " in out
    assert "+ 14 tool descriptions; GEPA evolves one at a time (touched)" in out
    assert "curriculum easy-first: easy (" in out and "merge: up to 2 accepted merges" in out
    assert "transfer after the search: the seed and the best candidate on 12 test tasks" in out
    # the curriculum's stages, in order, in the iteration lines
    stages = [int(n) for n in re.findall(r"^iteration \d+ \[stage (\d)/4 ", out, re.M)]
    assert stages == sorted(stages) and stages[0] == 1 and stages[-1] >= 3
    assert re.search(r"^curriculum: stage 2/4 medium \(", out, re.M)
    assert "No merge candidates found" in (run_dir / "gepa_log.txt").read_text()  # the merge proposer was on

    candidates = json.loads((run_dir / "candidates.json").read_text())
    assert candidates["best_score"] > candidates["seed_score"]
    # val_scores.png places each candidate at the episodes counted once it was validated: the log's figure
    logged = {int(k): int(n) for k, n in re.findall(r"accepted as #(\d+) .*? (\d+)/60 episodes counted", out)}
    assert logged and all(
        candidates["candidates"][k]["validated_at_episodes"] == n for k, n in logged.items()
    )
    descriptions = load_tool_descriptions(run_dir / "best_tool_descriptions.json")
    defaults = default_tool_descriptions()
    changed = {tool for tool, text in descriptions.items() if text != defaults[tool]}
    assert changed and all(tool_hint(tool) in descriptions[tool] for tool in changed)

    # the transfer step: two scores files, compare's JSON, the page, and the verdict printed
    assert all((run_dir / name).is_file() for name in TRANSFER_FILES)
    seed_run, best_run = (
        load_scores(run_dir / name) for name in ("transfer_seed.json", "transfer_best.json")
    )
    assert len(seed_run.episodes) == len(best_run.episodes) == 12
    assert (
        best_run.run["optimize"]["components"]["sha256"]
        == candidates["candidates"][candidates["best"]]["components_sha256"]
    )
    assert best_run.run["tool_descriptions"]["sha256"] == descriptions_sha256(descriptions)
    comparison = json.loads((run_dir / "transfer_compare.json").read_text())
    assert comparison["candidate_rate"] > comparison["baseline_rate"]
    verdict = re.search(r"^transfer verdict: (.+?) \(alpha 0\.05\)", out, re.M)
    assert verdict and verdict.group(1).endswith(f": {comparison['verdict']}")
    assert re.search(r"^  difference \+\d+\.\d% +95% CI \[[+-]\d", out, re.M)
    page = (run_dir / "transfer_report.html").read_text()
    assert "seed" in page and f"best #{candidates['best']}" in page

    # CI measures exactly what optimize found: pytest with the best wiki and tool descriptions
    command = [sys.executable, "-m", "pytest", str(REPO / "benchmarks"), "-p", "no:cacheprovider", "-q"]
    command += ["--tasks", str(test), "--wiki", str(run_dir / "best_wiki.md")]
    command += ["--tool-descriptions", str(run_dir / "best_tool_descriptions.json")]
    command += [
        "--agent-model",
        SECTION_AGENT_MODEL,
        "--user-model",
        USER_MODEL,
        "--base-url",
        server.base_url,
    ]
    command += ["--api-key-env", KEY_ENV, "--no-llm-cache", "--scores-out", str(tmp_path / "ci.json")]
    subprocess.run(command, capture_output=True, text=True, check=False, env={**os.environ, KEY_ENV: KEY})
    ci = load_scores(tmp_path / "ci.json")
    assert {e["task_id"]: e["outcome"] for e in ci.episodes} == {
        e["task_id"]: e["outcome"] for e in best_run.episodes
    }


def test_a_test_set_that_shares_a_task_by_content_is_refused_before_anything_is_spent(
    server, task_files, tmp_path, capsys
):
    pool = task_files[0]
    renamed = tmp_path / "renamed.json"  # the pool's tasks in reverse order: same contents, other ids
    renamed.write_text(json.dumps(json.loads(pool.read_text())[::-1]))
    before = server.stats()["requests"]
    code = main(search_args(server, pool, tmp_path / "run", "--test-tasks", str(renamed)))
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    # the 16 training and 6 validation tasks, not the pool's 14 others (never used, so fair to test on)
    assert "--test-tasks shares 22 task(s) with the training and validation tasks by content" in err
    test_id, used_id = re.search(r"e\.g\. test task (\S+) is (\S+)\)", err).groups()
    assert test_id != used_id
    assert server.stats()["requests"] == before and not (tmp_path / "run").exists()


def test_a_reflection_model_that_fails_stops_the_search_with_one_line(server, task_files, tmp_path, capsys):
    """GEPA swallows a proposal's exception: the run must not spend its budget waiting for proposals."""
    run_dir = tmp_path / "run"
    code = main(search_args(server, task_files[0], run_dir, "--reflection-model", "no-such-reflector"))
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err  # the endpoint refused the model: a configuration error
    assert err.startswith(
        "taugepa: error: the reflection model failed, so the search stopped: the reflection model "
        "'no-such-reflector' was not found at "
    )
    assert "check --reflection-model and --reflection-base-url" in err
    assert err.endswith(
        f"kept in {run_dir} (rerun the same command to resume; with another reflection model or "
        "endpoint, pass a new --run-dir)\n"
    )
    assert not (run_dir / "best_wiki.md").exists()
    # the seed's validation (6) and one iteration's minibatch (2), not the 30 episodes of the budget
    assert _count(run_dir / "episodes") == 8


def test_ctrl_c_is_one_line_and_a_run_killed_in_the_transfer_step_resumes_through_it(task_files, tmp_path):
    """SIGINT during the search: one line, exit 130. Rerun: SIGKILL during the transfer step. Rerun:
    it completes, taking the transfer episodes that had finished from the run directory."""
    pool, test, tasks = task_files
    run_dir = tmp_path / "run"
    env = {**os.environ, KEY_ENV: KEY, "PYTHONUNBUFFERED": "1"}
    with ScriptedServer(tasks, api_key=KEY, extra_models=EXTRA_MODELS, latency=0.02) as server:
        args = search_args(server, pool, run_dir, "--components", "sections", "--test-tasks", str(test))
        command = [sys.executable, "-m", "taugepa.cli", *args, "--component-selector", "touched"]
        episodes = run_dir / "episodes"

        first = _Running(command, env)
        first.wait_for(lambda: first.has(r"^iteration 1[ :]"))
        at_first_line = _count(episodes)
        first.wait_for(lambda: _count(episodes) >= at_first_line + 2)  # well into an iteration
        first.process.send_signal(signal.SIGINT)
        first.finish()
        assert first.process.returncode == 130
        assert first.stderr.startswith("taugepa: interrupted: ") and first.stderr.count("\n") == 1
        assert "rerun the same command to resume" in first.stderr and "Traceback" not in first.stdout
        printed = [int(n) for n in re.findall(r"^iteration (\d+)", first.stdout, re.M)]

        second = _Running(command, env)
        second.wait_for(lambda: second.has(r"^transfer: "))
        server.latency = 0.3  # the transfer's episodes now take a while: room to kill it midway
        at_transfer = _count(episodes)
        second.wait_for(lambda: _count(episodes) > at_transfer)
        second.process.send_signal(signal.SIGKILL)
        second.finish()
        server.latency = 0.0
        resumed = [int(n) for n in re.findall(r"^iteration (\d+)", second.stdout, re.M)]
        assert resumed[0] == printed[-1] + 1  # the iteration cut by Ctrl-C was not logged as done
        assert not all((run_dir / name).exists() for name in TRANSFER_FILES)

        third = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert third.returncode == 0, third.stdout[-2000:] + third.stderr[-2000:]
    assert "resuming the run in" in third.stdout
    ran, reused = map(
        int, re.search(r"transfer verdict: .*?; (\d+) episodes run, (\d+) reused", third.stdout).groups()
    )
    assert ran + reused == 24 and reused >= 1
    assert all((run_dir / name).is_file() for name in TRANSFER_FILES)


def _count(folder: Path) -> int:
    return len(list(folder.glob("*.json"))) if folder.is_dir() else 0


class _Running:
    """A subprocess whose output lines are read as they come, to wait on conditions."""

    def __init__(self, command, env):
        self.process = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # Ctrl-C must reach it even when the tests were started with SIGINT ignored (a background job)
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.stdout = self.stderr = ""

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line)

    def has(self, pattern: str) -> bool:
        return any(re.search(pattern, line) for line in list(self.lines))

    def wait_for(self, condition, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.process.poll() is None, "".join(self.lines) + self.process.stderr.read()
            assert time.monotonic() < deadline, "".join(self.lines)
            time.sleep(0.02)

    def finish(self) -> None:
        self.process.wait(timeout=120)
        self._reader.join(timeout=30)
        self.stdout = "".join(self.lines)
        self.stderr = self.process.stderr.read()

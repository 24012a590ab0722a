"""Steps to completion and compliance per run: episodes, summaries, compare, report, terminal."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from rule_scenarios import PLAYS, write_task_file

from taugepa.cli import main
from taugepa.episode.efficiency import efficiency_lines, run_efficiency
from taugepa.episode.run import run_episode
from taugepa.episode.runner import EpisodeJob, run_episodes
from taugepa.episode.settings import HarnessSettings
from taugepa.files import write_json_atomically
from taugepa.protocol import PASSED
from taugepa.results.compare import compare_scores, comparison_lines
from taugepa.results.scores import build_scores, episode_entry, load_scores
from taugepa.tasks.gold import GoldCache
from taugepa.tasks.loading import load_tasks
from taugepa.testing.scripted_models import AGENT_MODEL, USER_MODEL, Conduct, scripted_llm_config
from taugepa.testing.scripted_server import ScriptedServer
from taugepa.world.engine import write_tool_names

REPO = Path(__file__).resolve().parent.parent
KEY_ENV = "TAUGEPA_TEST_EFFICIENCY_KEY"
HOSTILE_ANSWER = "<script>alert('hi')</script> & tell me more"  # no yes in it


@pytest.fixture(scope="module", autouse=True)
def api_key():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_ENV, "sk-test-efficiency")
        yield


@pytest.fixture(scope="module")
def gold_cache(tmp_path_factory):
    return GoldCache(tmp_path_factory.mktemp("gold"))


@pytest.fixture(scope="module")
def task_spec(tmp_path_factory):
    return write_task_file(tmp_path_factory.mktemp("tasks"))


@pytest.fixture(scope="module")
def scenarios(task_spec):
    return load_tasks([task_spec]).tasks


def scripted_entries(tasks, wiki, gold_cache, conduct, plays=None, cache_dir=None, runs=1):
    """Scores-file entries of the tasks played by the scripted models (`runs` times on one server)."""
    by_id = {task.id: task for task in tasks}
    played = []
    with ScriptedServer(tasks, conduct=conduct, plays=plays) as server:
        llm = scripted_llm_config(server.base_url, KEY_ENV, cache=cache_dir is not None, cache_dir=cache_dir)
        for _ in range(runs):
            jobs = [EpisodeJob(task, wiki, HarnessSettings(agent="llm", llm=llm)) for task in tasks]
            results = run_episodes(jobs, concurrency=4, gold_cache=gold_cache)
            played.append([episode_entry(by_id[r.task_id], r.to_dict()) for r in results])
    return played if runs > 1 else played[0]


def test_oracle_episodes_count_their_steps(v1_tasks_file, gold_cache):
    writes = write_tool_names()
    for task in load_tasks([str(v1_tasks_file)]).tasks:
        result = run_episode(task, "wiki", HarnessSettings(agent="oracle"), gold_cache=gold_cache)
        figures = result.efficiency
        transferred = result.termination == "transfer"
        assert figures["agent_turns"] == result.steps == len(task.actions) + (0 if transferred else 1)
        assert figures["user_turns"] == (1 if transferred else 2)  # the instruction, then ###STOP###
        assert figures["tool_calls"] == len(task.actions) and figures["tool_errors"] == 0
        assert figures["tool_calls_by_name"] == dict(Counter(a.name for a in task.actions))
        assert figures["writes"] == sum(a.name in writes for a in task.actions)
        assert figures["tokens"] is None  # no model was called


def test_tokens_count_every_model_call_cached_or_not(scenarios, v1_wiki, gold_cache, tmp_path):
    wiki = v1_wiki.read_text()
    conduct = Conduct(confirm_writes=True)
    first, again = scripted_entries(scenarios[:2], wiki, gold_cache, conduct, cache_dir=str(tmp_path), runs=2)
    for entry, cached in zip(first, again, strict=True):
        usage, tokens = entry["usage"], entry["efficiency"]["tokens"]
        assert tokens["agent"] == usage["agent"]["prompt_tokens"] + usage["agent"]["completion_tokens"] > 0
        assert tokens["user"] == usage["user"]["prompt_tokens"] + usage["user"]["completion_tokens"] > 0
        assert tokens["total"] == tokens["agent"] + tokens["user"]
        assert cached["usage"]["agent"]["requests"] == 0  # all answers came from the cache...
        assert cached["efficiency"] == entry["efficiency"]  # ...and the conversation was as long


def entry(task_id, outcome, group, turns, calls, tokens=None, duration=0.5):
    return {
        "task_id": task_id,
        "trial": 0,
        "outcome": outcome,
        "score": {"passed": 1.0, "failed": 0.0}.get(outcome),
        "group": group,
        "gold_action_names": ["get_user_details"],
        "duration_s": duration,
        "efficiency": {
            "agent_turns": turns,
            "user_turns": 2,
            "tool_calls": calls,
            "tool_calls_by_name": {"get_user_details": calls},
            "tool_errors": 0,
            "writes": 0,
            "tokens": None if tokens is None else {"agent": tokens, "user": 10, "total": tokens + 10},
        },
    }


def test_run_figures_are_medians_and_means_over_scored_and_passed_episodes():
    episodes = [
        entry("a", "passed", "easy", 2, 1, tokens=100),
        entry("b", "failed", "easy", 10, 7, tokens=300),
        entry("c", "passed", "medium", 4, 3, tokens=200),
        entry("d", "failed", "medium", 6, 5, tokens=400),
        {**entry("e", "invalid", "medium", 0, 0), "efficiency": {}},
        entry("f", "error", "medium", 50, 50),
    ]
    summary = run_efficiency(episodes)
    assert summary["all"]["episodes"] == 4 and summary["passed"]["episodes"] == 2
    assert summary["all"]["agent_turns"] == {"median": 5.0, "mean": 5.5}
    assert summary["passed"]["agent_turns"] == {"median": 3.0, "mean": 3.0}
    assert summary["all"]["tokens_total"] == {"median": 260.0, "mean": 260.0}
    assert summary["by_group"]["easy"]["all"]["tool_calls"] == {"median": 4.0, "mean": 4.0}
    assert summary["by_group"]["medium"]["passed"]["tool_calls"] == {"median": 3.0, "mean": 3.0}
    assert summary["tool_calls_per_episode"] == {"get_user_details": 4.0}
    scores = build_scores({}, episodes, {"wall_s": 1.0})
    assert scores["summary"]["efficiency"] == summary
    assert "wall_s" not in json.dumps(scores["summary"])  # timing varies: it stays out of the summary
    assert scores["timing"]["episode_wall_s"]["all"]["wall_s"] == {"median": 0.5, "mean": 0.5}
    lines = efficiency_lines(scores["summary"], scores["timing"])
    assert re.search(r"agent turns +5 / 5\.5 +3 / 3$", "\n".join(lines), re.MULTILINE)
    assert any(line.strip().startswith("medium  5 / 5 · 4 / 4 | 4 / 4 · 3 / 3") for line in lines)


def test_compare_pairs_the_secondary_figures_per_task(scenarios, v1_wiki, gold_cache, tmp_path):
    wiki, tasks = v1_wiki.read_text(), [scenarios[0], scenarios[1], scenarios[4]]
    polite = scripted_entries(tasks, wiki, gold_cache, Conduct(confirm_writes=True))
    hasty = scripted_entries(tasks, wiki, gold_cache, Conduct())
    for name, entries in (("polite.json", polite), ("hasty.json", hasty)):
        write_json_atomically(tmp_path / name, build_scores({}, entries))
    result = compare_scores(load_scores(tmp_path / "polite.json"), load_scores(tmp_path / "hasty.json"))
    assert result.verdict == "no significant difference" and result.passed_in_both == 3
    figures = {f.name: f for f in result.figures}
    # asking for a yes costs one agent turn and one user turn per write; not asking breaks the policy
    assert (figures["agent_turns"].baseline, figures["agent_turns"].candidate) == (3.0, 2.0)
    assert figures["agent_turns"].median_delta == -1.0 and figures["user_turns"].delta == -1.0
    assert figures["definite_violations"].delta == 1.0
    assert (figures["compliant"].baseline, figures["compliant"].candidate) == (1.0, 0.0)
    assert figures["tokens_total"].delta < 0 and figures["tokens_total"].tasks == 3
    assert [f.name for f in result.figures_passed] == [f.name for f in result.figures]
    text = "\n".join(comparison_lines(result))
    assert "compliant episodes    100.0% -> 0.0%" in text and "the 3 tasks passed in both runs" in text
    document = result.to_dict()
    assert document["figures"][0]["name"] == "agent_turns" and document["figures"][0]["delta"] == -1.0


def test_the_report_shows_figures_and_escaped_violations(scenarios, v1_wiki, gold_cache, tmp_path, capsys):
    wiki, tasks = v1_wiki.read_text(), [scenarios[0], scenarios[1]]
    entries = scripted_entries(tasks, wiki, gold_cache, Conduct(confirm_writes=True, answer=HOSTILE_ANSWER))
    write_json_atomically(tmp_path / "run.json", build_scores({"agent": "llm"}, entries))
    assert main(["report", str(tmp_path / "run.json"), "--out", str(tmp_path / "r.html")]) == 0
    page = (tmp_path / "r.html").read_text()
    assert (
        "<script>alert" not in page
        and "not a clear yes: &lt;script&gt;alert(&#x27;hi&#x27;)&lt;/script&gt; &amp; tell me more" in page
    )
    assert "agent turns per episode, median / mean" in page
    assert "compliant with the conversation rules" in page and "100.0% (2/2)" in page  # only possible
    assert "confirm.write" in page and "not a clear yes" in page
    assert "tg-sev-possible" in page and "⚠ policy" not in page  # nothing definite
    assert "3 agent turns · 3 user turns · 1 tool calls (0 failed, 1 writes)" in page


def benchmark(tmp_path, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    command = [sys.executable, "-m", "pytest", str(REPO / "benchmarks"), "-p", "no:cacheprovider", "-q"]
    command += ["--scores-out", str(tmp_path / "scores.json"), *args]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, check=False)


def test_the_terminal_summary_of_an_oracle_run(tmp_path, v1_tasks_file, v1_wiki):
    run = benchmark(tmp_path, "--tasks", str(v1_tasks_file), "--wiki", str(v1_wiki), "--agent", "oracle")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    out = run.stdout
    assert re.search(r"^  agent turns +\S+ / \S+ +\S+ / \S+$", out, re.MULTILINE)
    assert re.search(r"^  wall time \(s\) +\d\.\d{3} / \d\.\d{3}", out, re.MULTILINE)
    scores = json.loads((tmp_path / "scores.json").read_text())
    compliance = scores["summary"]["compliance"]
    broke = compliance["episodes"] - compliance["compliant"]
    assert broke == sum(e["audit"]["status"] == "violates" for e in scores["episodes"]) > 0
    assert f"  action rules        {compliance['rate']:.1%} ({compliance['compliant']}/50)" in out
    assert "conversation rules  not applied (the built-in agents do not talk to the user)" in out
    assert f"violates 0.0% (0/{broke})" in out
    assert scores["timing"]["episode_wall_s"]["all"]["episodes"] == 50


def test_the_terminal_summary_of_a_scripted_rule_breaking_run(tmp_path, task_spec, scenarios):
    with ScriptedServer(scenarios, conduct=Conduct(confirm_writes=True), plays=PLAYS) as server:
        os.environ[KEY_ENV] = "sk-test-efficiency"
        run = benchmark(
            tmp_path,
            "--tasks",
            task_spec,
            "--agent-model",
            AGENT_MODEL,
            "--user-model",
            USER_MODEL,
            "--base-url",
            server.base_url,
            "--api-key-env",
            KEY_ENV,
            "--no-llm-cache",
        )
    out = run.stdout
    assert run.returncode == 1 and "2 passed, 3 failed" in out, out[-3000:] + run.stderr
    # rules-1..3 break an action rule (failed); rules-0 and rules-4 follow them (passed)
    assert "  all rules           40.0% (2/5) · among passed 100.0% (2/2)" in out
    assert "  conversation rules  100.0% (5/5) · among passed 100.0% (2/2)" in out
    assert "bags.fee 1/0/0" in out and "cancel.flown 1/0/0" in out and "cancel.eligibility 1/0/0" in out
    # a failure's line names the rules the agent broke, after the feedback (-v: one per line)
    assert " · definite policy violations: cancel.flown (turn 2, cancel_reservation)\n" in out
    scores = json.loads((tmp_path / "scores.json").read_text())
    passed = [e for e in scores["episodes"] if e["outcome"] == PASSED]
    assert all(e["efficiency"]["agent_turns"] == 3 for e in passed)
    assert scores["summary"]["efficiency"]["passed"]["agent_turns"] == {"median": 3.0, "mean": 3.0}

"""Bring your own agent: the interface, the three routes, errors inside an agent, the episode cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from taugepa.agents import AgentContext, Reply, ToolCall, declare, declared_identity
from taugepa.agents import loading as agent_loading
from taugepa.benchmarks import SUITE_DIR
from taugepa.episode.agent_player import AGENT_ERROR
from taugepa.episode.run import run_episode
from taugepa.episode.runner import run_tasks
from taugepa.episode.settings import HarnessSettings
from taugepa.errors import ConfigError
from taugepa.optimize.evaluators import EpisodeStore
from taugepa.protocol import ERROR, PASSED
from taugepa.tasks.gold import GoldCache
from taugepa.tasks.loading import TAU2_AIRLINE, load_tasks
from taugepa.testing.custom_agent_routes import ENTRY_POINT_NAME, ROUTES, lay_out, route_commands

REPO = Path(__file__).resolve().parent.parent
WIKI = "You are an airline agent. Follow the policy."


@pytest.fixture(scope="module")
def agent_folder(tmp_path_factory):
    return lay_out(tmp_path_factory.mktemp("routes") / "agent")


@pytest.fixture
def on_path(agent_folder, monkeypatch):
    monkeypatch.syspath_prepend(str(agent_folder))
    agent_loading._load.cache_clear()
    yield agent_folder
    agent_loading._load.cache_clear()


@pytest.fixture(scope="module")
def tau2_tasks():
    return load_tasks([TAU2_AIRLINE]).tasks[:12]


@pytest.fixture(scope="module")
def gold_cache(tmp_path_factory):
    return GoldCache(tmp_path_factory.mktemp("gold"))


def verdicts(run):
    return {job.task.id: result.outcome for job, result in run.episodes}


def test_a_users_agent_by_import_and_by_entry_point_matches_oracle(on_path, tau2_tasks):
    oracle = verdicts(run_tasks(tau2_tasks, WIKI, HarnessSettings(agent="oracle")))
    by_import = HarnessSettings(agent="gold_replayer:GoldReplayer")
    by_entry_point = HarnessSettings(agent=ENTRY_POINT_NAME)
    assert verdicts(run_tasks(tau2_tasks, WIKI, by_import)) == oracle
    assert verdicts(run_tasks(tau2_tasks, WIKI, by_entry_point)) == oracle
    assert PASSED in oracle.values()
    # one agent whichever route chose it: the same episode-cache identity, recorded in the run header
    assert by_import.fingerprint() == by_entry_point.fingerprint()
    assert by_import.fingerprint()["agent"] == {"name": "gold-replayer", "version": "1"}
    assert by_entry_point.describe()["custom_agent"] == {
        "label": ENTRY_POINT_NAME,
        "route": "entry point",
        "name": "gold-replayer",
        "version": "1",
    }
    assert HarnessSettings(agent="oracle").fingerprint()["agent"] == "oracle"  # earlier keys stay valid


def test_an_exception_inside_the_agent_is_that_episodes_error_and_the_run_goes_on(on_path, tau2_tasks):
    run = run_tasks(tau2_tasks, WIKI, HarnessSettings(agent="gold_replayer:CrashesOnEvenTasks"))
    by_index = {job.task.index: result for job, result in run.episodes}
    assert len(by_index) == len(tau2_tasks) and run.interrupted is None
    crashed = [r for i, r in by_index.items() if i % 2 == 0]
    assert crashed and all(r.outcome == ERROR and r.termination == AGENT_ERROR for r in crashed)
    feedback = crashed[0].feedback
    assert feedback.startswith("Error inside the agent gold_replayer:CrashesOnEvenTasks (its own code")
    assert "Traceback (most recent call last)" in feedback and "gold_replayer.py" in feedback
    assert "ZeroDivisionError: the planner divided by zero" in feedback
    assert crashed[0].score is None  # not counted as the agent's failure, not hidden either
    others = [r.outcome for i, r in by_index.items() if i % 2 == 1]
    assert PASSED in others and ERROR not in others


def test_a_factory_that_returns_no_agent_stops_the_run_with_one_line(on_path, tau2_tasks):
    with pytest.raises(ConfigError) as caught:
        run_tasks(tau2_tasks, WIKI, HarnessSettings(agent="gold_replayer:not_a_factory", concurrency=4))
    message = str(caught.value)
    assert message.startswith("--agent gold_replayer:not_a_factory: the factory returned int, not an agent")
    assert "\n" not in message


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            "no_such_module:Agent",
            "--agent no_such_module:Agent: cannot import no_such_module (ModuleNotFoundError",
        ),
        ("gold_replayer:Missing", "--agent gold_replayer:Missing: module gold_replayer has no 'Missing'"),
        ("gold_replayer:ROUTES_MISSING.x", "module gold_replayer has no 'ROUTES_MISSING.x'"),
        ("gpt", "unknown --agent 'gpt': choose one of llm, oracle, null, an installed agent (gold-replayer"),
        (":x", "--agent ':x': write package.module:factory (both parts)"),
        ("hook:Mine", "--agent hook:Mine: no conftest.py's pytest_taugepa_make_agent hook gave this agent"),
    ],
)
def test_an_agent_that_cannot_be_found_is_one_line_before_any_episode(on_path, spec, expected):
    with pytest.raises(ConfigError) as caught:
        HarnessSettings(agent=spec)
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_a_module_that_fails_to_import_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "broken_agent.py").write_text("raise RuntimeError('missing API key for my planner')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match=r"cannot import broken_agent \(RuntimeError: missing API key"):
        HarnessSettings(agent="broken_agent:Agent")


def test_an_agent_without_name_and_version_is_not_cached_and_the_run_says_so(on_path, tmp_path):
    settings = HarnessSettings(agent="gold_replayer:Undeclared")
    assert not settings.cacheable and settings.fingerprint()["agent"] is None
    store = EpisodeStore(tmp_path / "episodes", settings)
    assert "episode cache off: the agent gold_replayer:Undeclared declares no name and version" in (
        store.disabled_reason or ""
    )
    task = load_tasks([TAU2_AIRLINE]).tasks[0]
    store.put(task, WIKI, 0, {"outcome": PASSED})
    assert store.get(task, WIKI, 0) is None and store.count() == 0
    declared = EpisodeStore(tmp_path / "declared", HarnessSettings(agent="gold_replayer:GoldReplayer"))
    declared.put(task, WIKI, 0, {"outcome": PASSED})
    assert declared.disabled_reason is None and declared.get(task, WIKI, 0) == {"outcome": PASSED}


def test_declare_and_declared_identity():
    @declare(name="mine", version="2")
    def factory(context):
        raise AssertionError("not called")

    assert declared_identity(factory) == ("mine", "2")
    assert declared_identity(lambda context: None) is None


def test_what_act_may_answer(tau2_tasks, gold_cache):
    task = next(t for t in tau2_tasks if t.actions)
    action = task.actions[0]
    answers = {
        "reply": Reply(text="Let me look.", tool_calls=[ToolCall(action.name, dict(action.kwargs))]),
        "message": {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": action.name, "arguments": "{}"}}
            ],
        },
        "text": "Goodbye.",
    }
    seen: list[AgentContext] = []

    class OneAnswer:
        def __init__(self, context, answer):
            seen.append(context)
            self.answer = answer

        def act(self, messages):
            assert messages[0]["role"] == "system" and messages[1]["role"] == "user"
            answer, self.answer = self.answer, "Goodbye."
            return answer

    results = {
        kind: run_episode(
            task,
            WIKI,
            HarnessSettings(agent="oracle", max_steps=3, protocol="taugepa"),  # the wiki as system prompt
            make_agent=lambda context, answer=answer: OneAnswer(context, answer),
            gold_cache=gold_cache,
        )
        for kind, answer in answers.items()
    }
    first = results["reply"].messages[2]
    assert first["content"] == "Let me look." and first["tool_calls"][0]["function"]["name"] == action.name
    assert first["tool_calls"][0]["id"] == "call_1_0"
    assert results["message"].tool_calls[0]["name"] == action.name
    assert results["text"].messages[2] == {"role": "assistant", "content": "Goodbye."}
    context = seen[0]
    assert context.task is task and context.wiki == WIKI and context.system_prompt.startswith(WIKI)
    assert {tool["function"]["name"] for tool in context.tools} >= {action.name}
    wrong = run_episode(
        task,
        WIKI,
        HarnessSettings(agent="oracle", protocol="taugepa"),
        make_agent=lambda context: OneAnswer(context, 42),
        gold_cache=gold_cache,
    )
    assert wrong.outcome == ERROR and wrong.termination == AGENT_ERROR
    assert "act() returned int 42; it must return a taugepa.agents.Reply, a str" in wrong.feedback


def _routes_env(folder: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), str(REPO)])}


def test_the_three_routes_under_pytest_give_oracles_verdicts(agent_folder, tmp_path):
    """pytest with --agent module:factory, an entry point's name, and a conftest.py's hook."""
    commands = route_commands(
        agent_folder, SUITE_DIR, "--tasks", TAU2_AIRLINE, "-q", "--task-filter", "all", "-k", "1"
    )
    found = {}
    for route in ROUTES:
        scores = tmp_path / f"{len(found)}.json"
        workers = ["-n", "2"] if route == "pytest hook" else []  # each xdist worker asks the hook too
        done = subprocess.run(
            [*commands[route], *workers, "--scores-out", str(scores)],
            cwd=tmp_path,
            env=_routes_env(agent_folder),
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        document = json.loads(scores.read_text())
        found[route] = ({e["task_id"]: e["outcome"] for e in document["episodes"]}, document["run"])
    oracle = found["oracle"][0]
    assert len(oracle) >= 5 and set(oracle.values()) == {PASSED}
    for route in ROUTES[1:]:
        assert found[route][0] == oracle, route
    assert found["pytest hook"][1]["agent"] == "hook:gold-replayer"
    assert found["pytest hook"][1]["custom_agent"]["route"] == "pytest hook"
    assert found["entry point"][1]["custom_agent"]["route"] == "entry point"


def test_pytest_shows_an_agents_exception_as_that_cases_error(agent_folder, tmp_path):
    command = route_commands(agent_folder, SUITE_DIR)["oracle"][:-2] + [
        "--agent",
        "gold_replayer:CrashesOnEvenTasks",
        "--tasks",
        TAU2_AIRLINE,
        "-k",
        "1",
        "--task-filter",
        "all",
        "--scores-out",
        str(tmp_path / "scores.json"),
    ]
    done = subprocess.run(
        command, cwd=tmp_path, env=_routes_env(agent_folder), capture_output=True, text=True
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "ZeroDivisionError: the planner divided by zero" in output
    assert " passed" in output and " error" in output  # the other cases ran
    entries = json.loads((tmp_path / "scores.json").read_text())["episodes"]
    assert {e["termination"] for e in entries if e["outcome"] == ERROR} == {AGENT_ERROR}


def test_help_lists_the_routes():
    pytest_help = subprocess.run(
        [sys.executable, "-m", "pytest", str(REPO / "benchmarks"), "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
    ).stdout
    flat = " ".join(pytest_help.split())
    assert "package.module:factory" in flat and "entry point group taugepa.agents" in flat
    assert "pytest_taugepa_make_agent hook overrides it" in flat
    for command in ("optimize", "compare"):
        text = subprocess.run(
            [sys.executable, "-m", "taugepa.cli", command, "--help"], capture_output=True, text=True
        ).stdout
        flat = " ".join(text.split())
        assert "package.module:factory" in flat and "entry point group taugepa.agents" in flat, command


def test_an_agent_that_calls_its_model_through_the_context_gets_the_usage_counted(
    tau2_tasks, gold_cache, monkeypatch
):
    from taugepa.testing.scripted_models import scripted_llm_config
    from taugepa.testing.scripted_server import ScriptedServer

    monkeypatch.setenv("TAUGEPA_TEST_CUSTOM_KEY", "sk-custom-1")
    task = next(t for t in tau2_tasks if t.actions)

    class AsksTheModel:
        def __init__(self, context):
            self.context = context

        def act(self, messages):
            return self.context.complete(messages, tools=self.context.tools)

    with ScriptedServer([task], api_key="sk-custom-1") as server:
        llm = scripted_llm_config(server.base_url, "TAUGEPA_TEST_CUSTOM_KEY", cache=False)
        result = run_episode(
            task, WIKI, HarnessSettings(agent="llm", llm=llm), make_agent=AsksTheModel, gold_cache=gold_cache
        )
        stats = server.stats()
    assert result.outcome == PASSED
    assert result.usage["agent"]["requests"] == result.steps == stats["by_model"]["scripted-agent"]


def test_an_agent_gets_a_copy_of_the_transcript_it_cannot_rewrite(tau2_tasks, gold_cache):
    task = next(t for t in tau2_tasks if t.actions)

    class Vandal:
        def __init__(self, context):
            self.actions = list(context.task.actions)

        def act(self, messages):
            for message in messages:
                for call in message.get("tool_calls") or []:
                    call["function"]["name"] = "vandalised"
                message["content"] = "vandalised"
            messages.clear()
            if self.actions:
                action = self.actions.pop(0)
                return Reply(tool_calls=[ToolCall(action.name, dict(action.kwargs))])
            return "Done."

    settings = HarnessSettings(agent="oracle", protocol="taugepa")  # the wiki alone as system prompt
    result = run_episode(task, WIKI, settings, make_agent=Vandal, gold_cache=gold_cache)
    assert "vandalised" not in json.dumps(result.messages)
    assert result.messages[0]["content"].startswith(WIKI)

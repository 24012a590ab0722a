"""Cost: cached input tokens at the cached price, reasoning tokens counted, cost per side and per pass."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from taugepa.errors import ConfigError
from taugepa.llm.price_file import parse_prices
from taugepa.llm.prices import DEFAULT_PRICES, Price, PriceTable
from taugepa.llm.usage import SideUsage, token_details, usage_lines, usage_totals
from taugepa.tasks.loading import load_tasks
from taugepa.testing.prompt_cache import PromptCache
from taugepa.testing.scripted_models import AGENT_MODEL, USER_MODEL
from taugepa.testing.scripted_server import ScriptedServer

REPO = Path(__file__).resolve().parent.parent
KEY_ENV = "TAUGEPA_COST_TEST_KEY"
PRICES = {
    AGENT_MODEL: {"input": 2.0, "output": 8.0, "cached_input": 0.5},
    USER_MODEL: {"input": 1.0, "output": 4.0},
}


def test_cached_tokens_cost_the_cached_input_price():
    table = PriceTable(parse_prices(PRICES, "prices.json"))
    # 1M prompt tokens of which 600k cached: 400k x $2 + 600k x $0.5, and 100k output x $8
    assert table.cost(AGENT_MODEL, 1_000_000, 100_000, 600_000) == pytest.approx(0.8 + 0.3 + 0.8)
    # without a cached-input price, cached tokens cost the input price
    assert table.cost(USER_MODEL, 1_000_000, 0, 600_000) == pytest.approx(1.0)
    assert DEFAULT_PRICES["gpt-4o"].cached_input == 1.25 and DEFAULT_PRICES["gpt-4"].cached_input is None
    assert Price(1, 1, 0.1).cost(100, 0, 500) == pytest.approx(100 * 0.1 / 1e6)  # never more than the prompt


def test_a_bad_cached_price_is_one_line():
    with pytest.raises(ConfigError, match=r"'m': 'cached_input' .*cached_input"):
        parse_prices({"m": {"input": 1, "output": 2, "cached_input": -1}}, "prices.json")


def test_token_details_as_openai_reports_them():
    usage = {
        "prompt_tokens_details": {"cached_tokens": 1152},
        "completion_tokens_details": {"reasoning_tokens": 64},
    }
    assert token_details(usage, 2000, 100) == (1152, 64)
    assert token_details({"prompt_tokens_details": {"cached_tokens": "many"}}, 10, 10) == (0, 0)
    assert token_details({"prompt_tokens_details": {"cached_tokens": 99}}, 10, 10) == (10, 0)


def test_the_prompt_cache_serves_the_longest_seen_prefix_from_1024_tokens_in_steps_of_128():
    cache = PromptCache()
    system = {"role": "system", "content": "policy " * 1200}  # about 2,100 tokens
    tools = [{"type": "function", "function": {"name": "get_user_details"}}]
    first = {"model": "m", "tools": tools, "messages": [system, {"role": "user", "content": "hello"}]}
    assert cache.cached_tokens(first) == 0
    second = {**first, "messages": [system, {"role": "user", "content": "another task"}]}
    cached = cache.cached_tokens(second)
    assert cached >= 1024 and cached % 128 == 0
    changed = {**first, "messages": [{"role": "system", "content": "policy! " * 1200}, first["messages"][1]]}
    assert cache.cached_tokens(changed) == 0  # a changed system prompt gets nothing from the cache


def test_usage_totals_per_side_per_pass_and_the_cached_share():
    agent = SideUsage(model="a", requests=4, prompt_tokens=1000, cached_tokens=600, cost_usd=0.3)
    user = SideUsage(model="u", requests=4, prompt_tokens=1000, cost_usd=0.1)
    reflection = SideUsage(model="r", requests=1, prompt_tokens=2000, cost_usd=0.2)
    totals = usage_totals({"agent": agent, "user": user, "reflection": reflection}, passed=3)
    assert totals["cost_usd"] == pytest.approx(0.6) and totals["cost_per_pass_usd"] == pytest.approx(0.2)
    assert totals["cached_share"] == pytest.approx(600 / 4000)
    lines = usage_lines(totals, sides=("agent", "user", "reflection"))
    assert any(line.strip().startswith("reflection  r: 1 requests") for line in lines)
    assert "per passed episode (3 passed)" in lines[-1] and "15% of prompt tokens" in lines[-1]


def test_a_run_against_a_server_reporting_cached_tokens(tmp_path, synthetic_files):
    """The cost section of a scores file: cached and reasoning tokens, cost per side, per passed
    episode. The agent's prefix (system prompt, tools) is the same in every request of the run, so
    every agent request but the run's first finds it in the provider's cache."""
    medium = synthetic_files[1]
    tasks = load_tasks([str(medium)]).tasks[:8]
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps(PRICES))
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env[KEY_ENV] = "sk-cost-test"
    with ScriptedServer(tasks, prompt_cache=True, reasoning_tokens=5) as server:
        command = [sys.executable, "-m", "pytest", str(REPO / "benchmarks"), "-p", "no:cacheprovider", "-q"]
        command += ["--scores-out", str(tmp_path / "scores.json"), "--tasks", str(medium)]
        command += ["--agent-model", AGENT_MODEL, "--user-model", USER_MODEL, "--base-url", server.base_url]
        command += ["--api-key-env", KEY_ENV, "--no-llm-cache", "--prices", str(prices)]
        command += ["-k", " or ".join(task.id for task in tasks)]
        run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    scores = json.loads((tmp_path / "scores.json").read_text())
    usage = scores["summary"]["usage"]
    calls = [call for entry in scores["episodes"] for call in entry["usage"]["calls"]]
    agent_calls = [call for call in calls if call["side"] == "agent"]
    assert sum(1 for call in agent_calls if not call.get("cached_tokens")) == 1  # the run's first
    agent = usage["agent"]
    assert agent["cached_tokens"] == sum(call.get("cached_tokens", 0) for call in agent_calls) > 0
    assert agent["reasoning_tokens"] == 5 * agent["requests"]
    expected = sum(
        (c["prompt_tokens"] - c.get("cached_tokens", 0)) * 2.0 + c.get("cached_tokens", 0) * 0.5
        + c["completion_tokens"] * 8.0
        for c in agent_calls
    ) / 1e6  # fmt: skip
    assert agent["cost_usd"] == pytest.approx(expected, rel=1e-6)
    assert usage["cost_usd"] == pytest.approx(agent["cost_usd"] + usage["user"]["cost_usd"], rel=1e-6)
    assert usage["passed"] == scores["summary"]["counts"]["passed"] == 8
    assert usage["cost_per_pass_usd"] == pytest.approx(usage["cost_usd"] / 8, rel=1e-6)
    prompt = agent["prompt_tokens"] + usage["user"]["prompt_tokens"]
    assert usage["cached_share"] == pytest.approx(agent["cached_tokens"] / prompt, abs=1e-4)
    assert "from the provider's cache" in run.stdout and "per passed episode (8 passed)" in run.stdout

"""`taugepa llm-check`: the command line takes the benchmark's LLM options and checks an endpoint."""

from __future__ import annotations

import pytest

from taugepa.cli import main
from taugepa.tasks.loading import load_tasks
from taugepa.testing.scripted_models import AGENT_MODEL, USER_MODEL
from taugepa.testing.scripted_server import ScriptedServer

KEY_ENV = "TAUGEPA_CLI_TEST_KEY"
KEY = "sk-cli-test-31f7aa0c"


@pytest.fixture
def server(synthetic_files, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    with ScriptedServer(load_tasks([str(synthetic_files[0])]).tasks[:2], api_key=KEY) as server:
        yield server


def check(server, *args):
    return main(["llm-check", "--base-url", server.base_url, "--api-key-env", KEY_ENV, *args])


def test_llm_check_asks_each_side_once(server, capsys):
    assert check(server, "--agent-model", AGENT_MODEL, "--user-model", USER_MODEL) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"agent: {AGENT_MODEL} at {server.base_url} answered in ")
    assert out[1].startswith(f"user: {USER_MODEL} at {server.base_url} answered in ")
    assert server.stats()["requests"] == 2 and KEY not in "".join(out)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--agent-model", "gpt-typo"], "the agent model 'gpt-typo' was not found at"),
        (["--agent-model", AGENT_MODEL, "--request-timeout", "-1"], "--request-timeout must be more than 0"),
        (["--agent-model", AGENT_MODEL, "--api-key-env", "TAUGEPA_UNSET_KEY"], "no API key: set the"),
        (["--agent-model", AGENT_MODEL, "--temperature", "hot"], "--temperature expects a number, got 'hot'"),
    ],
)
def test_llm_check_reports_bad_configuration_in_one_line(server, capsys, args, message):
    assert check(server, *args) == 2
    err = capsys.readouterr().err
    assert err.startswith("taugepa: error: ") and message in err and err.count("\n") == 1

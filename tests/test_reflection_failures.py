"""The reflection model's failed proposals, a bounded wiki, and a candidate that overflows the
agent's context, in `taugepa optimize` against a proxy that answers as providers do."""

from __future__ import annotations

import json
import logging

import pytest

from taugepa.cli import main
from taugepa.optimize.proposals import FailedProposal, ProposalLedger, proposal_problem
from taugepa.tasks.loading import load_tasks
from taugepa.testing.provider_proxy import ProviderFaults, ProviderProxy
from taugepa.testing.scripted_models import USER_MODEL
from taugepa.testing.scripted_optimizer import EXTRA_MODELS, REFLECTION_MODEL, WIKI_AGENT_MODEL
from taugepa.testing.scripted_server import ScriptedServer

KEY_ENV, KEY = "TAUGEPA_TEST_PROPOSALS_KEY", "sk-test-proposals-7c1d"


@pytest.fixture(scope="module")
def tasks():
    return load_tasks(["taugepa-airline"]).tasks


@pytest.fixture
def server(tasks, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    with ScriptedServer(tasks, api_key=KEY, extra_models=EXTRA_MODELS) as running:
        yield running


def optimize_args(base_url, run_dir, *extra, budget=120):
    return [
        "optimize", "--tasks", "taugepa-airline", "--agent-model", WIKI_AGENT_MODEL,
        "--user-model", USER_MODEL,
        "--reflection-model", REFLECTION_MODEL, "--base-url", base_url, "--api-key-env", KEY_ENV,
        "--budget", str(budget), "--val-size", "10", "--minibatch-size", "3", "--train-size", "24",
        "--run-dir", str(run_dir), "--concurrency", "8", "--llm-cache", str(run_dir.parent / "cache"), *extra,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ("", "empty"),
        ("  \n ", "empty"),
        ("```\n```", "empty"),
        ("```markdown\n\n```", "empty"),
        ("x" * 50, "too_long"),
    ],
)
def test_what_is_no_usable_proposal(answer, kind):
    assert proposal_problem(answer, 40)[0] == kind
    assert proposal_problem("```\n# Policy\nBe kind.\n```", 40) is None


def test_gepas_second_ask_for_the_same_task_is_one_failure():
    ledger = ProposalLedger(100)
    for prompt in ("a", "a", "b"):
        with pytest.raises(FailedProposal):
            ledger.check(prompt, "")
    assert len(ledger.failed) == 2 and ledger.empty_in_a_row == 2 and ledger.stop_reason is None
    ledger.check("c", "```\nA policy.\n```")
    assert ledger.empty_in_a_row == 0


def test_an_empty_proposal_is_a_failed_proposal_and_the_search_goes_on(server, tmp_path, capsys, caplog):
    faults = ProviderFaults(replace={REFLECTION_MODEL: "```\n```"}, replace_count=1)
    with ProviderProxy(server.base_url, faults) as proxy, caplog.at_level(logging.WARNING, "taugepa"):
        code = main(optimize_args(proxy.base_url, tmp_path / "run"))
    assert code == 0, capsys.readouterr().err
    candidates = json.loads((tmp_path / "run" / "candidates.json").read_text())
    assert [f["kind"] for f in candidates["failed_proposals"]] == ["empty"]
    assert candidates["best_score"] > candidates["seed_score"]  # the next proposals taught it
    assert any("holds no text (an empty fenced block)" in r.getMessage() for r in caplog.records)
    cached = "".join(p.read_text() for p in (tmp_path / "cache").rglob("*.json"))
    assert '"content":"```\\n```"' not in cached.replace(" ", "")  # never cached as an answer


def test_three_empty_proposals_in_a_row_stop_and_a_rerun_resumes(server, tmp_path, capsys):
    run_dir = tmp_path / "run"
    with ProviderProxy(server.base_url, ProviderFaults(replace={REFLECTION_MODEL: ""})) as proxy:
        code = main(optimize_args(proxy.base_url, run_dir))
        err = capsys.readouterr().err
        assert code == 1 and err.count("\n") == 1, err
        assert err.startswith(
            "taugepa: error: the reflection model failed, so the search stopped: the reflection model "
            "gave 3 empty proposals in a row: check --reflection-model and --reflection-base-url; "
            f"the finished iterations are kept in {run_dir} (rerun the same command to resume"
        )
        proxy.faults = ProviderFaults()  # the reflection model answers again, at the same address
        again = main(optimize_args(proxy.base_url, run_dir))
        out = capsys.readouterr().out
    assert again == 0 and f"resuming the run in {run_dir}" in out
    assert json.loads((run_dir / "candidates.json").read_text())["best_score"] > 0


def test_a_proposal_over_max_wiki_chars_is_refused_and_the_best_wiki_fits(server, tmp_path, capsys):
    faults = ProviderFaults(
        replace={REFLECTION_MODEL: "```\n" + "A rule. " * 10_000 + "\n```"}, replace_count=1
    )
    with ProviderProxy(server.base_url, faults) as proxy:
        code = main(optimize_args(proxy.base_url, tmp_path / "run", "--max-wiki-chars", "30000"))
    assert code == 0, capsys.readouterr().err
    candidates = json.loads((tmp_path / "run" / "candidates.json").read_text())
    assert candidates["failed_proposals"][0]["kind"] == "too_long"
    assert "over --max-wiki-chars 30,000" in candidates["failed_proposals"][0]["reason"]
    assert all(len(c["wiki"]) <= 30_000 for c in candidates["candidates"])
    assert len((tmp_path / "run" / "best_wiki.md").read_text()) <= 30_000


def test_the_reflection_prompt_asks_for_the_limit(tasks):
    from taugepa.optimize.components import ComponentSet

    components = ComponentSet.build("wiki", "# Policy\nBe kind.\n")
    assert "Keep the whole policy under 12,345 characters" in components.reflection_templates(12_345)


def test_a_seed_wiki_over_the_limit_is_one_line(server, tmp_path, capsys):
    assert main(optimize_args(server.base_url, tmp_path / "run", "--max-wiki-chars", "100")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "over --max-wiki-chars 100: shorten it or raise --max-wiki-chars" in err


def test_a_candidate_that_overflows_the_agents_context_scores_as_such_and_the_search_goes_on(
    server, tmp_path, capsys
):
    # the seed fits; a candidate grown by the reflection (a long rule appended) does not
    faults = ProviderFaults(
        replace={REFLECTION_MODEL: "```\n" + open_policy() + "\n" + "Be careful. " * 1500 + "\n```"},
        replace_count=1,
        context_tokens=(len(open_policy()) + 11_000 + 9_000) // 4,  # tools and a conversation fit
    )
    with ProviderProxy(server.base_url, faults) as proxy:
        code = main(optimize_args(proxy.base_url, tmp_path / "run"))
        answered = dict(proxy.answered)
    assert code == 0, capsys.readouterr().err
    assert answered.get("context_length_exceeded", 0) >= 1  # the grown candidate overflowed
    candidates = json.loads((tmp_path / "run" / "candidates.json").read_text())
    assert candidates["best_score"] > 0 and len(candidates["candidates"]) >= 2


def open_policy() -> str:
    from taugepa.world.engine import DEFAULT_POLICY_PATH

    return DEFAULT_POLICY_PATH.read_text()

"""The agent's own policy compliance: the audit's rules on its writes, conversation rules on its talk."""

from __future__ import annotations

import pytest
from rule_scenarios import PLAYS, write_task_file

from taugepa.episode.run import run_episode
from taugepa.episode.runner import EpisodeJob, run_episodes
from taugepa.episode.settings import HarnessSettings
from taugepa.optimize.reflection_records import reflective_record, reflective_records
from taugepa.protocol import FAILED, INVALID, PASSED
from taugepa.results.scores import episode_entry
from taugepa.rules.audit import audit_task
from taugepa.rules.catalog import rules_table
from taugepa.rules.compliance import objective_score, run_compliance
from taugepa.rules.conversation import is_affirmative, is_negative
from taugepa.rules.registry import RULES
from taugepa.tasks.gold import GoldCache
from taugepa.tasks.loading import load_tasks
from taugepa.testing.scripted_models import Conduct, Faults, scripted_llm_config
from taugepa.testing.scripted_server import ScriptedServer
from taugepa.world.policy import Policy

KEY_ENV = "TAUGEPA_TEST_COMPLIANCE_KEY"


@pytest.fixture(scope="module", autouse=True)
def api_key():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_ENV, "sk-test-compliance")
        yield


@pytest.fixture(scope="module")
def wiki(v1_wiki):
    return v1_wiki.read_text()


@pytest.fixture(scope="module")
def policy(wiki):
    return Policy.from_text(wiki)


@pytest.fixture(scope="module")
def gold_cache(tmp_path_factory):
    return GoldCache(tmp_path_factory.mktemp("gold"))


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory):
    return load_tasks([write_task_file(tmp_path_factory.mktemp("tasks"))]).by_id()


def play(tasks, wiki, gold_cache, conduct=None, plays=None, faults=None):
    """Run the tasks with the scripted agent and user over real HTTP; the results by task id."""
    conduct, faults = conduct or Conduct(), faults or Faults()
    with ScriptedServer(tasks, conduct=conduct, plays=plays, faults=faults) as server:
        llm = scripted_llm_config(server.base_url, KEY_ENV, cache=False)
        jobs = [EpisodeJob(task, wiki, HarnessSettings(agent="llm", llm=llm)) for task in tasks]
        return {r.task_id: r for r in run_episodes(jobs, concurrency=4, gold_cache=gold_cache)}


def rules(result, severity=None):
    return [
        v["rule"] for v in result.compliance["violations"] if severity is None or v["severity"] == severity
    ]


# ---------------------------------------------------------------- the gold against the audit


def action_findings(audit):
    return sorted(
        (f.action_index, f.rule, f.severity, f.message, f.policy)
        for f in audit.findings
        if RULES[f.rule].kind == "action" and f.severity != "info"
    )


def test_the_oracle_breaks_exactly_the_rules_the_audit_finds_in_the_gold(
    synthetic_files, wiki, policy, gold_cache
):
    tasks = load_tasks([str(p) for p in synthetic_files]).tasks
    assert len(tasks) == 456
    violating = compliant = 0
    for task in tasks:
        result = run_episode(task, wiki, HarnessSettings(agent="oracle"), gold_cache=gold_cache)
        if result.outcome == INVALID:
            assert result.compliance == {}
            continue
        audit = audit_task(task, policy)
        ours = sorted(
            (v["call_index"], v["rule"], v["severity"], v["message"], v["policy"])
            for v in result.compliance["violations"]
        )
        assert ours == action_findings(audit), task.id
        assert result.compliance["conversation_rules"] is False
        assert all(v["kind"] == "action" for v in result.compliance["violations"])
        assert result.compliance["compliant"] == (audit.status != "violates"), task.id
        violating += audit.status == "violates"
        compliant += result.compliance["compliant"]
    assert (violating, compliant) == (304, 145)  # `taugepa audit` on these files: 304 violate, 7 invalid


def test_conversation_rules_are_listed_with_verbatim_policy_sentences(policy):
    listed = {rule["id"]: rule for rule in rules_table()}
    for rule_id in ("confirm.write", "turn.one_tool_call", "turn.text_with_tool_call", "cancel.reason"):
        assert listed[rule_id]["kind"] == "conversation"
    assert RULES["confirm.write"].quote(policy).found and RULES["cancel.reason"].quote(policy).found


# ---------------------------------------------------------------- scripted agents over HTTP


def test_a_scripted_agent_that_follows_the_rules_has_no_finding(scenarios, wiki, gold_cache):
    tasks = [scenarios["rules-0"], scenarios["rules-1"]]
    results = play(tasks, wiki, gold_cache, conduct=Conduct(confirm_writes=True))
    for result in results.values():
        assert result.outcome == PASSED, result.feedback
        assert result.compliance["conversation_rules"] is True
        assert result.compliance["writes_checked"] == 1
        assert result.compliance["violations"] == [] and result.compliance["compliant"]
        # it asked, the user said yes, it wrote, it closed: 3 agent turns, 3 user messages
        assert result.efficiency["agent_turns"] == 3 and result.efficiency["user_turns"] == 3
    summary = run_compliance([episode_entry(t, results[t.id].to_dict()) for t in tasks])
    assert summary["rate"] == 1.0 and summary["passed"]["with_definite"] == []


def test_writing_without_a_yes_is_a_definite_violation_even_in_a_pass(scenarios, wiki, gold_cache):
    task = scenarios["rules-0"]
    result = play([task], wiki, gold_cache)["rules-0"]  # the default conduct: writes at once, like the gold
    assert result.outcome == PASSED and not result.compliance["compliant"]
    (violation,) = result.compliance["violations"]
    assert violation["rule"] == "confirm.write" and violation["severity"] == "definite"
    assert violation["kind"] == "conversation" and violation["turn"] == 1 and violation["call_index"] == 0
    assert "before saying anything to the user" in violation["message"]
    assert violation["policy"].startswith("Before taking any actions that update the booking database")
    assert violation["policy_found"] and violation["policy"] in " ".join(wiki.split())
    entry = episode_entry(task, result.to_dict())
    summary = run_compliance([entry])
    assert summary["passed"]["with_definite"] == ["rules-0#0"] and summary["passed"]["rate"] == 0.0
    assert summary["conversation_rules"]["rate"] == 0.0 and summary["action_rules"]["rate"] == 1.0


def test_scripted_agents_that_break_action_rules_on_purpose(scenarios, wiki, gold_cache):
    tasks = [scenarios[task_id] for task_id in ("rules-1", "rules-2", "rules-3")]
    results = play(tasks, wiki, gold_cache, conduct=Conduct(confirm_writes=True), plays=PLAYS)
    bags, flown, no_grounds = (results[t.id] for t in tasks)
    assert [r.outcome for r in (bags, flown, no_grounds)] == [FAILED, FAILED, FAILED]

    assert rules(bags) == ["bags.fee"]
    (fee,) = bags.compliance["violations"]
    assert fee["severity"] == "definite" and fee["turn"] == 2 and fee["call_index"] == 0
    assert "charges $100 where $50 is due" in fee["message"]
    assert fee["policy"].startswith("If the booking user is a regular member") and fee["policy_found"]

    assert rules(flown, "definite") == ["cancel.flown"]
    assert "has already taken off" in flown.compliance["violations"][0]["message"]
    assert rules(no_grounds, "definite") == ["cancel.eligibility"]
    assert all(r.compliance["conversation_rules"] and not r.compliance["compliant"] for r in results.values())

    entries = [episode_entry(t, results[t.id].to_dict()) for t in tasks]
    summary = run_compliance(entries)
    assert summary["rate"] == 0.0 and summary["action_rules"]["rate"] == 0.0
    assert summary["conversation_rules"]["rate"] == 1.0  # each write came right after a yes
    assert summary["episodes_by_rule"]["cancel.flown"]["definite"] == 1


def test_scripted_agents_that_break_conversation_rules_on_purpose(scenarios, wiki, gold_cache):
    cancel, terse = scenarios["rules-0"], scenarios["rules-4"]
    two_calls = play(
        [cancel], wiki, gold_cache, Conduct(confirm_writes=True), faults=Faults(parallel_calls=1.0)
    )
    refused = play(
        [cancel], wiki, gold_cache, Conduct(confirm_writes=True, answer="No, please don't do that.")
    )
    chatty = play([terse], wiki, gold_cache, Conduct(confirm_writes=True, chatty=True))

    result = two_calls["rules-0"]
    assert result.outcome == PASSED  # the second call (a calculation) ran too, the database is right
    assert rules(result, "definite") == ["turn.one_tool_call"]
    assert "makes 2 tool calls in one message" in result.compliance["violations"][0]["message"]

    (said_no,) = refused["rules-0"].compliance["violations"]
    assert said_no["rule"] == "confirm.write" and said_no["severity"] == "definite"
    assert "right after the user said: No, please don't do that." in said_no["message"]

    result = chatty["rules-4"]
    assert result.compliance["compliant"]  # nothing definite: each is only possible
    assert sorted(rules(result, "possible")) == ["cancel.reason", "identify.user", "turn.text_with_tool_call"]


# ---------------------------------------------------------------- conversation rules on transcripts


@pytest.mark.parametrize(
    ("text", "yes", "no"),
    [
        ("Yes", True, False),
        ("yes please, go ahead", True, False),
        ("No problem, go ahead.", True, False),
        ("Okay, I confirm.", True, False),
        ("No, that is not correct.", False, True),
        ("No thanks.", False, True),
        ("Wait, what does it cost?", False, True),
        ("I am not sure.", False, False),
        ("I don't want to proceed", False, False),
        ("Please cancel it.", False, False),
    ],
)
def test_what_counts_as_a_clear_yes_or_no(text, yes, no):
    assert (is_affirmative(text), is_negative(text)) == (yes, no)


def test_one_yes_for_two_writes_and_a_compensation_before_speaking_are_only_possible(wiki, gold_cache):
    from taugepa.protocol import ToolCallRecord
    from taugepa.rules.compliance import ComplianceMonitor
    from taugepa.tasks.model import Task
    from taugepa.world.engine import get_world

    task = Task(id="t-0", set_name="t", index=0, user_id="chen_jackson_3290", instruction="x", actions=())

    def call(name, call_id):
        return {"id": call_id, "type": "function", "function": {"name": name, "arguments": "{}"}}

    messages = [
        {"role": "system", "content": wiki},
        {"role": "user", "content": "Hi, I am chen_jackson_3290, I was delayed."},
        {"role": "assistant", "content": None, "tool_calls": [call("send_certificate", "a")]},
        {"role": "tool", "tool_call_id": "a", "name": "send_certificate", "content": "ok"},
        {"role": "assistant", "content": "Shall I cancel 4WQ150 and 2JV270?"},
        {"role": "user", "content": "Yes."},
        {"role": "assistant", "content": None, "tool_calls": [call("cancel_reservation", "b")]},
        {"role": "tool", "tool_call_id": "b", "name": "cancel_reservation", "content": "ok"},
        {"role": "assistant", "content": None, "tool_calls": [call("cancel_reservation", "c")]},
        {"role": "tool", "tool_call_id": "c", "name": "cancel_reservation", "content": "ok"},
    ]
    records = [
        ToolCallRecord(1, "send_certificate", {}, "ok", False),
        ToolCallRecord(3, "cancel_reservation", {}, "ok", False),
        ToolCallRecord(4, "cancel_reservation", {}, "ok", False),
    ]
    monitor = ComplianceMonitor(task, Policy.from_text(wiki), get_world().new_engine(), messages, True)
    found = monitor.finish(records)["violations"]
    confirm = [(v["turn"], v["severity"]) for v in found if v["rule"] == "confirm.write"]
    assert confirm == [(1, "possible"), (4, "possible")]
    assert [v for v in found if v["rule"] == "cancel.reason"] == []  # "I was delayed" is a reason


# ---------------------------------------------------------------- objective and reflection


def test_the_combined_objective_subtracts_a_penalty_per_definite_violation():
    definite = {"severity": "definite"}
    entry = {"score": 1.0, "compliance": {"violations": [definite, definite, {"severity": "possible"}]}}
    assert objective_score(entry) == 1.0  # off by default
    assert objective_score(entry, 0.25) == 0.5
    assert objective_score(entry, 0.75) == 0.0  # floored at 0
    assert objective_score({"score": 0.0, "compliance": {"violations": [definite]}}, 0.5) == 0.0
    assert objective_score({"score": None}, 0.5) is None and objective_score({"score": 1.0}, 0.5) == 1.0
    with pytest.raises(ValueError, match="at least 0"):
        objective_score(entry, -1)


def test_reflection_records_name_the_violation_and_its_policy_sentence(scenarios, wiki, gold_cache):
    passed_but_broke = play([scenarios["rules-0"]], wiki, gold_cache)["rules-0"]
    failed = play([scenarios["rules-2"]], wiki, gold_cache, Conduct(confirm_writes=True), plays=PLAYS)[
        "rules-2"
    ]
    clean = play([scenarios["rules-1"]], wiki, gold_cache, Conduct(confirm_writes=True))["rules-1"]
    entries = [episode_entry(scenarios[r.task_id], r.to_dict()) for r in (clean, passed_but_broke, failed)]
    record = reflective_record(entries[1])
    assert record["Feedback"].startswith("PASSED, but the agent broke the policy on the way (confirm.write)")
    (line,) = record["Policy violations"]
    assert line.startswith("[definite] confirm.write (turn 1, cancel_reservation):")
    assert 'Policy: "Before taking any actions that update the booking database' in line
    assert record["Efficiency"] == "2 agent turns, 2 user turns, 1 tool calls (0 failed), " + (
        f"{passed_but_broke.efficiency['tokens']['total']:,} tokens"
    )
    assert reflective_record(entries[2])["Policy violations"][0].startswith("[definite] cancel.flown (turn 2")
    assert "Policy violations" not in reflective_record(entries[0])
    ordered = reflective_records(entries, passes=1)  # the failure, then the pass that broke policy
    assert [r["Inputs"]["task_id"] for r in ordered] == ["rules-2", "rules-0"]


def test_the_scripted_server_command_breaks_rules_from_a_plays_file(scenarios, wiki, gold_cache, tmp_path):
    import subprocess
    import sys

    from rule_scenarios import write_plays_file, write_task_file

    command = [sys.executable, "-m", "taugepa.testing.scripted_server", "--tasks", write_task_file(tmp_path)]
    command += ["--plays", str(write_plays_file(tmp_path)), "--confirm-writes"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        base_url = server.stdout.readline().strip()
        llm = scripted_llm_config(base_url, KEY_ENV, cache=False)
        jobs = [EpisodeJob(scenarios["rules-2"], wiki, HarnessSettings(agent="llm", llm=llm))]
        (result,) = run_episodes(jobs, gold_cache=gold_cache)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert result.outcome == FAILED and rules(result) == ["cancel.flown"]
    assert "Do you confirm?" in result.messages[3]["content"]  # after tau2's greeting and the user

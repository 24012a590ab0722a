"""Every file taugepa reads, damaged on purpose: refused in one line naming the file, or usable.

For each format (task files, scores files, recorded runs, audit files, price files, wikis)
the same invariant holds, whatever the file holds: the loader raises a TaugepaError whose
message is one line naming the file, or it returns something every consumer of that format
(summaries, gates, compare, the report, rescoring, the gold cache...) handles without an
exception. Hostile raw contents (200,000-deep nesting, a 5,001-digit integer, NaN, a device)
are tried on every loader; hypothesis damages valid files one field at a time.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hostile_strategies import FILE_SETTINGS, HOSTILE_SETTINGS, SURROGATE, damaged, dumps, raw_hostile
from hypothesis import event, given
from hypothesis import strategies as st
from scores_files import benchmark_scores

from taugepa.episode.run import run_episode
from taugepa.episode.settings import HarnessSettings
from taugepa.errors import ConfigError, TaugepaError
from taugepa.files import write_json_atomically
from taugepa.guards.limits import MAX_WIKI_BYTES
from taugepa.llm.price_file import load_prices
from taugepa.llm.prices import PriceTable
from taugepa.results.compare import compare_scores
from taugepa.results.gates import min_pass_rate_breach, regression_breach
from taugepa.results.report import ReportRun, summary_table
from taugepa.results.report_tasks import comparison_table, task_table
from taugepa.results.rescore import load_recorded_runs, rescore
from taugepa.results.scores import build_scores, load_scores, summarize
from taugepa.results.transcript import render_episode
from taugepa.rules.audit import FILTERS, audit_tasks, audits_for, load_audit, select_tasks
from taugepa.tasks.gold import GoldCache
from taugepa.tasks.loading import load_tasks
from taugepa.world.policy import load_policy, read_wiki


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("hostile-files")


@pytest.fixture(scope="module")
def v1_tasks(v1_tasks_file):
    return load_tasks([str(v1_tasks_file)]).tasks


@pytest.fixture(scope="module")
def valid(folder, v1_tasks_file, v1_tasks, shared_data):
    """One valid document of each format, as taugepa (or tau-bench) writes them."""
    scores_path = benchmark_scores(folder / "valid-scores.json", v1_tasks_file, {0: "oracle", 1: "null"}, 3)
    audit = audit_tasks(v1_tasks[:4], load_policy())
    recorded = json.loads((shared_data / "tau-bench-v1" / "gpt-4o-airline-sample.json").read_text())[:2]
    return {
        "tasks": json.loads(v1_tasks_file.read_text())[:4],
        "scores": json.loads(scores_path.read_text()),
        "audit": audit.to_dict(),
        "results": recorded,
        "prices": {"my-model": {"input": 1.5, "output": 6.0}},
    }


def refused_or_usable(load, use, path: Path) -> str:
    """Load `path`; a refusal must be one line naming the file, an acceptance must be usable."""
    try:
        loaded = load(path)
    except TaugepaError as exc:
        message = str(exc)
        assert "\n" not in message and path.name in message and len(message) < 800, message
        return "refused"
    use(loaded)
    return "accepted"


def use_tasks(v1_tasks, folder):
    def use(collection):
        cache = GoldCache(folder / "gold-cache")
        for task in collection.tasks[:2]:
            json.dumps(task.to_v1_dict(), ensure_ascii=False).encode("utf-8")  # storable text
            cache.get(task)  # the gold cache writes the task's outcome
            result = run_episode(task, "policy", HarnessSettings(agent="oracle"), gold_cache=cache)
            assert result.outcome in ("passed", "failed", "invalid")

    return use


def use_scores(folder):
    def use(scores):
        summary = summarize(scores.episodes)
        run = ReportRun(label="x", scores=scores, summary=summary)
        summary_table([run]), task_table(run, 0), comparison_table([run, run])
        for entry in scores.episodes:
            render_episode(entry)
        min_pass_rate_breach(scores.episodes, 0.5)
        regression_breach(scores.episodes, scores, 0.0)
        try:
            compare_scores(scores, scores)
        except ConfigError:
            pass
        again = folder / "round-trip.json"
        write_json_atomically(again, build_scores(scores.run, scores.episodes))
        load_scores(again)

    return use


def use_audit(v1_tasks):
    def use(report):
        report.summary()
        try:
            audits = audits_for(v1_tasks[:4], report)
        except ConfigError:
            return
        for mode in FILTERS:
            select_tasks(v1_tasks[:4], audits, mode)
        [audit.brief() for audit in audits.values()]

    return use


def use_results(v1_tasks):
    def use(loaded):
        source_format, runs = loaded
        try:
            rescore(runs, v1_tasks, source_format=source_format, where="results")
        except ConfigError:
            pass

    return use


def use_prices(prices):
    PriceTable(prices).cost("my-model", 1000, 1000)


LOADERS = {
    "tasks": lambda path: load_tasks([str(path)]),
    "scores": load_scores,
    "audit": load_audit,
    "results": load_recorded_runs,
    "prices": load_prices,
}


def consumer(kind, v1_tasks, folder):
    return {
        "tasks": use_tasks(v1_tasks, folder),
        "scores": use_scores(folder),
        "audit": use_audit(v1_tasks),
        "results": use_results(v1_tasks),
        "prices": use_prices,
    }[kind]


@pytest.mark.parametrize("kind", sorted(LOADERS))
@given(raw=raw_hostile)
@HOSTILE_SETTINGS
def test_hostile_raw_contents_are_refused_in_one_line(kind, raw, folder, v1_tasks):
    path = folder / f"raw-{kind}.json"
    path.write_bytes(raw)
    outcome = refused_or_usable(LOADERS[kind], consumer(kind, v1_tasks, folder), path)
    event(outcome)
    assert outcome == "refused" or raw in (b'"\\ud800"',)


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_a_device_a_folder_and_a_missing_file_are_refused_without_reading(kind, folder):
    for path in (Path("/dev/zero"), folder, folder / "missing.json"):
        with pytest.raises(TaugepaError) as caught:
            LOADERS[kind](path)
        assert "\n" not in str(caught.value) and str(path) in str(caught.value)


@pytest.mark.parametrize("kind", sorted(LOADERS))
@given(data=st.data())
@FILE_SETTINGS
def test_damaged_files_are_refused_in_one_line_or_fully_usable(kind, data, valid, folder, v1_tasks):
    document = data.draw(damaged(valid[kind]))
    path = folder / f"damaged-{kind}.json"
    path.write_bytes(dumps(document))
    event(refused_or_usable(LOADERS[kind], consumer(kind, v1_tasks, folder), path))


SCORES_DAMAGE = [
    ("score 7.5", lambda e: e.update(score=7.5), "'score' should be less than or equal to 1, got 7.5"),
    ('score "1.0"', lambda e: e.update(score="1.0"), "'score' should be a valid number, got '1.0'"),
    ("no outcome", lambda e: e.pop("outcome"), "'outcome' is missing"),
    ("unknown outcome", lambda e: e.update(outcome="won"), "'outcome' should be 'passed', 'failed'"),
    ("passed but 0", lambda e: e.update(score=0.0), "a passed episode scores 1, this one 0.0"),
    ("trial text", lambda e: e.update(trial="0"), "'trial' should be a valid integer, got '0'"),
    ("tokens text", lambda e: e["efficiency"].update(agent_turns="x"), "'efficiency.agent_turns'"),
]


@pytest.mark.parametrize(("case", "damage", "message"), SCORES_DAMAGE, ids=[c[0] for c in SCORES_DAMAGE])
def test_tampered_scores_files_are_refused_naming_episode_and_field(valid, folder, case, damage, message):
    document = json.loads(json.dumps(valid["scores"]))
    damage(document["episodes"][0])
    path = folder / "tampered.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ConfigError) as caught:
        load_scores(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: episode 0 (test-00") and message in text and "\n" not in text


def test_duplicated_episodes_and_nan_scores_are_refused(valid, folder):
    document = json.loads(json.dumps(valid["scores"]))
    document["episodes"].append(document["episodes"][0])
    path = folder / "duplicated.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ConfigError, match=r"episodes 0 and 6 are both task test-00, trial 0"):
        load_scores(path)
    document = json.loads(json.dumps(valid["scores"]))
    document["episodes"][0]["score"] = float("nan")
    path.write_text(json.dumps(document))  # json writes NaN, which is not JSON
    with pytest.raises(ConfigError, match=r"not a readable JSON scores file \(NaN is not a number"):
        load_scores(path)


def test_text_with_lone_surrogates_and_nuls_is_made_safe_at_load(valid, folder):
    tasks = json.loads(json.dumps(valid["tasks"]))
    tasks[0]["instruction"] = f"Cancel {SURROGATE} my trip\x00 please"
    path = folder / "surrogates.json"
    path.write_text(json.dumps(tasks))
    task = load_tasks([str(path)]).tasks[0]
    assert task.instruction == "Cancel \ufffd my trip\ufffd please"
    task.instruction.encode("utf-8")


def test_a_wiki_is_read_within_its_size_limit(folder):
    big = folder / "big-wiki.md"
    big.write_bytes(b"policy " * (MAX_WIKI_BYTES // 7 + 1))
    with pytest.raises(ConfigError, match=r"wiki file .*big-wiki\.md is larger than 1 MiB"):
        read_wiki(big)
    with pytest.raises(ConfigError, match=r"wiki file /dev/zero is a device, not a file"):
        read_wiki(Path("/dev/zero"))
    binary = folder / "binary.md"
    binary.write_bytes(b"\xff\xfe policy")
    with pytest.raises(ConfigError, match=r"not UTF-8 text"):
        read_wiki(binary)

"""Text with lone surrogates and NULs, from task files and wikis, through every writer.

A lone surrogate (`\\ud800`) in a task instruction used to destroy a run's scores file after
every episode had run: UTF-8 cannot encode it. Text is now made safe where it enters, so the
scores file, the pytest-html page, the HTML report, the audit file and its Markdown, the gold
cache and an optimize run directory are all written; should raw text reach a writer anyway,
the writer still cannot fail.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taugepa.cli import main
from taugepa.files import write_json_atomically, write_text_atomically
from taugepa.results.scores import load_scores
from taugepa.rules.audit import load_audit
from taugepa.tasks.loading import load_tasks
from taugepa.testing.scripted_optimizer import EXTRA_MODELS, REFLECTION_MODEL
from taugepa.testing.scripted_server import ScriptedServer

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent
HOSTILE = "\ud800 and \udfff and a NUL \x00"
SAFE = "\ufffd and \ufffd and a NUL \ufffd"


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory, v1_tasks_file):
    folder = tmp_path_factory.mktemp("hostile-writers")
    entries = json.loads(v1_tasks_file.read_text())[:6]
    for entry in entries:
        entry["instruction"] = f"{entry['instruction']} {HOSTILE}"
        entry["note"] = HOSTILE
    entries[0]["actions"][0]["kwargs"]["user_id"] = HOSTILE  # a gold that fails, its reason echoing the text
    tasks = folder / "tasks.json"
    tasks.write_text(json.dumps(entries))  # json escapes surrogates: the file is valid UTF-8
    wiki = folder / "wiki.md"
    wiki.write_bytes((v1_tasks_file.parent / "wiki.md").read_bytes() + b"\nA NUL: \x00\n")
    return folder, tasks, wiki


def test_raw_surrogates_cannot_fail_a_writer(tmp_path):
    write_json_atomically(tmp_path / "raw.json", {"text": HOSTILE, HOSTILE: 1})
    assert json.loads((tmp_path / "raw.json").read_text()) == {"text": HOSTILE, HOSTILE: 1}  # JSON escapes
    write_text_atomically(tmp_path / "raw.txt", HOSTILE)
    assert (tmp_path / "raw.txt").read_text() == "\\ud800 and \\udfff and a NUL \x00"


def test_the_text_is_made_safe_once_where_it_enters(hostile_files):
    _, tasks, _ = hostile_files
    loaded = load_tasks([str(tasks)]).tasks
    assert loaded[1].instruction.endswith(SAFE) and loaded[1].metadata["note"] == SAFE


def test_every_writer_of_a_benchmark_run_takes_it(hostile_files, pytester, monkeypatch):
    folder, tasks, wiki = hostile_files
    monkeypatch.setenv("TAUGEPA_CACHE_DIR", str(pytester.path / "cache"))
    result = pytester.runpytest_subprocess(
        str(REPO / "benchmarks"),
        "-p",
        "no:cacheprovider",
        "--tasks",
        str(tasks),
        "--wiki",
        str(wiki),
        "--agent",
        "oracle",
        "--scores-out",
        "scores.json",
        "--html",
        "page.html",
    )
    assert result.ret == 0, result.outlines[-20:]
    scores = load_scores(pytester.path / "scores.json")
    assert scores.episodes[0]["outcome"] == "invalid" and SAFE in scores.episodes[0]["feedback"]
    page = (pytester.path / "page.html").read_text()
    assert SAFE.encode("unicode_escape").decode() in page  # pytest-html's JSON blob escapes it
    gold_entries = list((pytester.path / "cache" / "gold").rglob("*.json"))
    assert len(gold_entries) == 6 and any(SAFE in path.read_text() for path in gold_entries)

    assert main(["report", str(pytester.path / "scores.json"), "--out", str(folder / "report.html")]) == 0
    assert SAFE in (folder / "report.html").read_text()
    code = main(["audit", "--tasks", str(tasks), "--wiki", str(wiki), "--out", str(folder / "audit.json")])
    assert code == 0 and load_audit(folder / "audit.json").tasks[0].findings
    assert SAFE in (folder / "audit.md").read_text()


def test_an_optimize_run_directory_takes_it(hostile_files, tmp_path, monkeypatch):
    _, tasks, wiki = hostile_files
    monkeypatch.setenv("TAUGEPA_TEST_WRITERS_KEY", "sk-writers")
    with ScriptedServer(load_tasks([str(tasks)]).tasks, extra_models=EXTRA_MODELS) as server:
        code = main(
            [
                "optimize",
                "--tasks",
                str(tasks),
                "--wiki",
                str(wiki),
                "--agent",
                "oracle",
                "--task-filter",
                "all",
                "--reflection-model",
                REFLECTION_MODEL,
                "--base-url",
                server.base_url,
                "--api-key-env",
                "TAUGEPA_TEST_WRITERS_KEY",
                "--budget",
                "12",
                "--val-size",
                "2",
                "--minibatch-size",
                "1",
                "--run-dir",
                str(tmp_path / "run"),
            ]
        )
    run = tmp_path / "run"
    assert code == 0 and "A NUL: \ufffd" in (run / "best_wiki.md").read_text()
    candidates = json.loads((run / "candidates.json").read_text())
    assert "A NUL: \ufffd" in candidates["candidates"][0]["wiki"]
    stored = [json.loads(path.read_text()) for path in (run / "episodes").glob("*.json")]
    opening = [next(m for m in entry["messages"] if m["role"] == "user") for entry in stored]
    assert stored and all(SAFE in message["content"] for message in opening)  # the user's first line

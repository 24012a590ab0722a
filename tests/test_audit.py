"""Task audits: calibration on the shared task sets, the audit file, selection, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from taugepa.errors import ConfigError
from taugepa.rules.audit import (
    AuditReport,
    audit_tasks,
    audits_for,
    clean_tasks,
    gold_policy_note,
    load_audit,
    select_tasks,
)
from taugepa.rules.task_checks import stated_dates, stated_routes
from taugepa.tasks.gold import GoldCache
from taugepa.tasks.loading import load_tasks, parse_v1_tasks
from taugepa.world.policy import load_policy


@pytest.fixture(scope="module")
def v1_report(v1_tasks_file: Path, v1_wiki: Path) -> AuditReport:
    return audit_tasks(load_tasks([str(v1_tasks_file)]).tasks, load_policy(v1_wiki))


@pytest.fixture(scope="module")
def synthetic_report(synthetic_files: list[Path], v1_wiki: Path) -> tuple[list, AuditReport]:
    tasks = load_tasks([str(p) for p in synthetic_files]).tasks
    return tasks, audit_tasks(tasks, load_policy(v1_wiki))


def test_v1_test_tasks_come_out_almost_clean(v1_report: AuditReport):
    statuses = {a.task_id: a.status for a in v1_report.tasks}
    violating = sorted(t for t, s in statuses.items() if s == "violates")
    # each is a known annotation error (tau-bench issue 37, PR 32; tau2-bench issue 84; tau2's own fixes)
    assert violating == ["test-10", "test-19", "test-23", "test-26", "test-27", "test-34"]
    assert "invalid" not in statuses.values()
    by_id = v1_report.by_id()
    assert [f.rule for f in by_id["test-26"].findings if f.severity == "definite"] == ["cancel.flown"]
    assert {f.rule for f in by_id["test-19"].findings if f.severity == "definite"} == {"bags.fee"}
    assert sum(a.free_pass for a in v1_report.tasks) == 19
    assert all(f.severity == "info" for a in v1_report.tasks if a.free_pass for f in a.findings)


def test_synthetic_tasks_are_mostly_broken(synthetic_report):
    tasks, report = synthetic_report
    by_id = report.by_id()
    invalid = sorted(a.task_id for a in report.tasks if a.status == "invalid")
    cache = GoldCache(use_disk=False)
    assert invalid == sorted(t.id for t in tasks if not cache.get(t).valid)
    assert len(invalid) == 7
    easy = [a for a in report.tasks if a.group == "easy"]
    assert len(easy) == 100 and all(a.free_pass and a.status == "doubtful" for a in easy)
    summary = report.summary()
    assert summary["status"]["violates"] > 250
    assert summary["by_rule"]["bags.fee"]["tasks"]["definite"] > 200
    assert summary["by_rule"]["cancel.flown"]["tasks"]["definite"] > 50
    assert summary["by_rule"]["payment.limits"]["tasks"]["definite"] > 5
    # medium-119 pays a flight change with a card the instruction never names
    assert any(f.rule == "instruction.card" for f in by_id["medium-119"].findings)


def test_audit_file_round_trip_and_staleness(v1_report: AuditReport, v1_tasks_file: Path, tmp_path: Path):
    path = tmp_path / "audit.json"
    v1_report.write(path)
    loaded = load_audit(path)
    assert [(a.task_id, a.status, a.flags) for a in loaded.tasks] == [
        (a.task_id, a.status, a.flags) for a in v1_report.tasks
    ]
    document = json.loads(path.read_text())
    finding = next(f for t in document["tasks"] for f in t["findings"] if f["severity"] == "definite")
    assert set(finding) == {"rule", "severity", "action_index", "action", "message", "policy", "policy_found"}
    tasks = load_tasks([str(v1_tasks_file)]).tasks
    assert len(audits_for(tasks, loaded)) == 50
    edited = [task.to_v1_dict() for task in tasks]
    edited[3]["instruction"] = "changed"
    changed = parse_v1_tasks(json.dumps(edited), str(v1_tasks_file))
    with pytest.raises(ConfigError, match="stale for task test-03"):
        audits_for(changed, loaded)
    other = parse_v1_tasks(json.dumps([tasks[0].to_v1_dict()]), "x.json", "other")
    with pytest.raises(ConfigError, match="no entry for task other-0"):
        audits_for(other, loaded)
    (tmp_path / "scores.json").write_text('{"format": "taugepa-scores"}')
    with pytest.raises(ConfigError, match="not a taugepa audit file"):
        load_audit(tmp_path / "scores.json")


def test_selection_and_notes_for_gepa(v1_report: AuditReport, v1_tasks_file: Path, v1_wiki: Path):
    tasks = load_tasks([str(v1_tasks_file)]).tasks
    audits = audits_for(tasks, v1_report)
    clean = select_tasks(tasks, audits, "clean")
    assert [t.id for t in clean] == [a.task_id for a in v1_report.tasks if a.status == "clean"]
    assert len(select_tasks(tasks, audits, "free-pass")) == 19
    assert len(select_tasks(tasks, audits, "violates")) == 6
    assert len(select_tasks(tasks, audits, "compliant")) + 6 == 50
    assert [t.id for t in clean_tasks(tasks, load_policy(v1_wiki))] == [t.id for t in clean]
    with pytest.raises(ConfigError, match="unknown task filter"):
        select_tasks(tasks, audits, "nice")
    note = gold_policy_note(audits["test-26"])
    assert note is not None and "break the policy" in note and "cancel.flown" in note
    assert gold_policy_note(audits[clean[0].id]) is None


def test_instruction_parsing():
    assert stated_dates("born on March 5, 1990; flying 2024-05-20 or 05/06/1977") == [
        (8, "1990-03-05"),
        (30, "2024-05-20"),
        (44, "1977-05-06"),
    ]
    routes = stated_routes("book a flight from New York LaGuardia (LGA) to Phoenix, then from sf to Boston")
    assert routes == [(frozenset({"LGA"}), frozenset({"PHX"})), (frozenset({"SFO"}), frozenset({"BOS"}))]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "taugepa.cli", *args], capture_output=True, text=True, timeout=300, cwd=cwd
    )


def test_audit_command(v1_tasks_file: Path, v1_wiki: Path, tmp_path: Path):
    out = tmp_path / "v1-audit.json"
    done = run_cli("audit", "--tasks", str(v1_tasks_file), "--wiki", str(v1_wiki), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "6 violates (definite)" in done.stdout and "cancel.flown" in done.stdout
    markdown = out.with_suffix(".md").read_text()
    assert "## Rules" in markdown and "The user can add but not remove checked bags." in markdown
    assert load_audit(out).summary()["status"]["violates"] == 6
    failing = run_cli(
        "audit",
        "--tasks",
        str(v1_tasks_file),
        "--wiki",
        str(v1_wiki),
        "--out",
        str(out),
        "--fail-on",
        "definite",
    )
    assert failing.returncode == 1 and "--fail-on definite" in failing.stdout
    here = tmp_path / "here"
    here.mkdir()
    default = run_cli("audit", "--tasks", str(v1_tasks_file), cwd=here)  # --out is optional, as usage says
    assert default.returncode == 0, default.stderr
    assert load_audit(here / "taugepa-audit.json").summary()["status"]["violates"] == 6
    assert (here / "taugepa-audit.md").is_file() and "markdown summary: taugepa-audit.md" in default.stdout
    rules = run_cli("audit", "--list-rules", "--wiki", str(v1_wiki))
    assert rules.returncode == 0 and "cabin.flown" in rules.stdout and "NOT in this policy" in rules.stdout


def test_writes_after_a_transfer_are_unreachable():
    from taugepa.rules.audit import audit_task

    task = {
        "user_id": "mia_li_3668",
        "instruction": "Your user id is mia_li_3668. You want to add a bag to NO6JO3.",
        "actions": [
            {"name": "transfer_to_human_agents", "kwargs": {"summary": "wants a bag"}},
            {
                "name": "update_reservation_baggages",
                "kwargs": {
                    "reservation_id": "NO6JO3",
                    "total_baggages": 3,
                    "nonfree_baggages": 0,
                    "payment_id": "credit_card_4421486",
                },
            },
        ],
    }
    (parsed,) = parse_v1_tasks(json.dumps([task]), "crafted.json")
    audit = audit_task(parsed, load_policy())
    assert [(f.rule, f.severity, f.action_index) for f in audit.findings] == [("transfer.last", "defect", 0)]

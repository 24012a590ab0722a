"""Check that the oracle's policy violations are the audit's findings for the same tasks (run by hand).

    python scripts/check_compliance_vs_audit.py [--tasks SPEC ...] [--wiki PATH]

The oracle replays each task's gold through the episode loop, where the compliance monitor
checks every write on the live database; the audit replays the same gold on its own. Both use
`taugepa.rules.catalog`, so for every valid task the oracle's violations must equal the audit's
action-rule findings (rule, severity, action index, message, policy sentence), and the share
of oracle episodes with a definite violation must equal the share of tasks the audit marks
`violates`. Prints the figures and every task where they differ; exits 1 if any does.
Defaults: the 456 synthetic tasks and tau-bench v1's wiki, from ../shared/data.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from taugepa.episode.run import run_episode
from taugepa.episode.settings import HarnessSettings
from taugepa.protocol import INVALID
from taugepa.rules.audit import audit_task
from taugepa.rules.registry import RULES
from taugepa.tasks.loading import load_tasks
from taugepa.world.policy import Policy

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", action="append", help="task file or built-in set (repeatable)")
    parser.add_argument("--wiki", default=str(DATA / "tau-bench-v1" / "wiki.md"))
    args = parser.parse_args()
    specs = args.tasks or [
        str(DATA / "synthetic" / "validated_tasks_easy_with_instructions.json"),
        str(DATA / "synthetic" / "validated_tasks_medium_with_instructions.json"),
    ]
    wiki = Path(args.wiki).read_text()
    policy = Policy.from_text(wiki, args.wiki)
    tasks = load_tasks(specs).tasks
    valid = differing = oracle_violating = audit_violating = findings = 0
    times = []
    for task in tasks:
        started = time.perf_counter()
        result = run_episode(task, wiki, HarnessSettings(agent="oracle"))
        times.append((time.perf_counter() - started) * 1000)
        if result.outcome == INVALID:
            continue
        valid += 1
        audit = audit_task(task, policy)
        expected = sorted(
            (f.action_index, f.rule, f.severity, f.message, f.policy)
            for f in audit.findings
            if RULES[f.rule].kind == "action" and f.severity != "info"
        )
        found = sorted(
            (v["call_index"], v["rule"], v["severity"], v["message"], v["policy"])
            for v in result.compliance["violations"]
        )
        findings += len(found)
        oracle_violating += not result.compliance["compliant"]
        audit_violating += audit.status == "violates"
        if found != expected:
            differing += 1
            print(f"{task.id}: oracle {found} != audit {expected}")
    print(f"tasks: {len(tasks)} ({valid} valid, {len(tasks) - valid} invalid) against {policy.label}")
    print(
        f"action-rule findings on the oracle's writes: {findings}; tasks where they differ from the audit's: "
        f"{differing}"
    )
    print(
        f"oracle episodes with a definite violation: {oracle_violating}/{valid} "
        f"({oracle_violating / valid:.1%}); tasks the audit marks violates: {audit_violating}/{valid} "
        f"({audit_violating / valid:.1%})"
    )
    print(f"oracle episode with compliance checks: median {statistics.median(times):.2f} ms")
    return 1 if differing or oracle_violating != audit_violating else 0


if __name__ == "__main__":
    sys.exit(main())

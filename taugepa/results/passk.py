"""pass^k: how reliably an agent solves a task on every one of k tries (tau-bench's metric).

For a task tried n times with c passes, C(c, k) / C(n, k) is the unbiased estimate of the
chance that k independent tries all pass; pass^k is its mean over tasks (tau-bench,
arXiv:2406.12045, as computed by its `run.py`). pass^1 is the mean per-task success rate.

Invalid and error episodes are not tries of the agent, so they never count as failures:
- a task's n counts only its scored (passed or failed) episodes;
- pass^k averages over the tasks with at least k scored episodes; a task left with fewer
  (because some of its trials errored) drops out of that k, and `tasks_at_k` says how many
  tasks each value stands on;
- a task with no scored episode (an invalid task) is left out entirely.

The 95% interval for pass^1 is the Wilson score interval over tasks: exactly Wilson's
binomial interval when each task has one trial, and conservative with more trials (averaging
a task's trials only shrinks its variance). It is never empty or degenerate, even at 0 or 1.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from statistics import NormalDist
from typing import Any

from taugepa.protocol import FAILED, PASSED

CONFIDENCE_LEVEL = 0.95
# The standard normal's 0.975 quantile, correctly rounded (what scipy.stats.norm.ppf gives;
# statistics.NormalDist is one unit in the last place lower). Importing scipy.stats for it
# would cost about a second at the end of every run.
Z_975 = 1.959963984540054


def success_counts(episodes: Iterable[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """(passes, scored trials) per task, in first-seen order; tasks without a scored episode omitted."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for entry in episodes:
        if entry["outcome"] in (PASSED, FAILED):
            tally = counts[entry["task_id"]]
            tally[0] += entry["outcome"] == PASSED
            tally[1] += 1
    return {task: (passed, scored) for task, (passed, scored) in counts.items()}


def pass_hat_k(counts: Iterable[tuple[int, int]], k: int) -> tuple[float | None, int]:
    """(pass^k, number of tasks it averages over); None when no task has k scored trials."""
    terms = [math.comb(c, k) / math.comb(n, k) for c, n in counts if n >= k]
    return (sum(terms) / len(terms) if terms else None), len(terms)


def wilson_interval(rate: float, n: int, level: float = CONFIDENCE_LEVEL) -> tuple[float, float]:
    """Wilson score interval for a proportion `rate` observed over `n` units."""
    if n < 1:
        raise ValueError("a confidence interval needs at least one task")
    z = Z_975 if level == CONFIDENCE_LEVEL else NormalDist().inv_cdf(0.5 + level / 2)
    z2n = z * z / n
    centre = (rate + z2n / 2) / (1 + z2n)
    half = z / (1 + z2n) * math.sqrt(rate * (1 - rate) / n + z2n / (4 * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def pass_k_table(episodes: Sequence[dict[str, Any]], trials: int) -> dict[str, Any]:
    """pass^k for k = 1..trials over the given episodes, with the pass^1 interval."""
    counts = list(success_counts(episodes).values())
    values: dict[str, float | None] = {}
    tasks_at_k: dict[str, int] = {}
    for k in range(1, max(trials, 1) + 1):
        values[str(k)], tasks_at_k[str(k)] = pass_hat_k(counts, k)
    interval = None
    if counts and values["1"] is not None:
        low, high = wilson_interval(values["1"], len(counts))
        interval = {"level": CONFIDENCE_LEVEL, "low": low, "high": high, "method": "wilson-over-tasks"}
    return {"tasks": len(counts), "values": values, "tasks_at_k": tasks_at_k, "pass_1_ci": interval}


def pass_k_summary(episodes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The `pass_k` section of a scores file's summary: overall and per group.

    The trial count is the number of distinct trial numbers in the episodes, as in tau-bench.
    """
    trials = len({entry["trial"] for entry in episodes})
    by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in episodes:
        by_group[entry["group"]].append(entry)
    return {
        "trials": trials,
        **pass_k_table(episodes, trials),
        "by_group": {name: pass_k_table(group, trials) for name, group in sorted(by_group.items())},
    }


def describe_pass_k(table: dict[str, Any]) -> str:
    """One line: `pass^1 24.0% [95% CI 11.5–43.4%] · pass^2 10.0% (25 tasks)`."""
    parts = []
    for k, value in table["values"].items():
        text = f"pass^{k} {_percent(value)}"
        if k == "1" and table.get("pass_1_ci"):
            ci = table["pass_1_ci"]
            text += f" [{ci['level']:.0%} CI {_percent(ci['low'])}–{_percent(ci['high'])}]"
        if table["tasks_at_k"][k] != table["tasks"]:
            text += f" (on {table['tasks_at_k'][k]} tasks)"
        parts.append(text)
    return " · ".join(parts) + f" ({table['tasks']} scored tasks)"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"

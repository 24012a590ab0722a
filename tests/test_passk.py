"""pass^k as tau-bench defines it, its interval, and how invalid/error episodes are treated."""

from __future__ import annotations

import math

import pytest
from scipy.stats import binomtest

from taugepa.results.passk import describe_pass_k, pass_hat_k, pass_k_summary, wilson_interval
from taugepa.results.scores import summarize


def episode(task: str, trial: int, outcome: str, group: str = "g") -> dict:
    return {
        "task_id": task,
        "trial": trial,
        "outcome": outcome,
        "group": group,
        "gold_action_names": [],
    }


def trials(task: str, outcomes: str, group: str = "g") -> list[dict]:
    names = {"p": "passed", "f": "failed", "i": "invalid", "e": "error"}
    return [episode(task, n, names[c], group) for n, c in enumerate(outcomes)]


def tau_bench_pass_hat_ks(successes: list[int], num_trials: int) -> dict[int, float]:
    """tau-bench run.py's display_metrics, written out independently for comparison."""
    return {
        k: sum(math.comb(c, k) / math.comb(num_trials, k) for c in successes) / len(successes)
        for k in range(1, num_trials + 1)
    }


def test_matches_tau_bench_definition_on_complete_trials():
    episodes = trials("a", "ppp") + trials("b", "ppf") + trials("c", "pff") + trials("d", "fff")
    summary = pass_k_summary(episodes)
    expected = tau_bench_pass_hat_ks([3, 2, 1, 0], 3)
    assert summary["trials"] == 3
    assert {int(k): v for k, v in summary["values"].items()} == pytest.approx(expected)
    # by hand: pass^1 = (1 + 2/3 + 1/3 + 0)/4 = 0.5; pass^2 = (1 + 1/3)/4; pass^3 = 1/4
    assert summary["values"]["2"] == pytest.approx(1 / 3)
    assert summary["values"]["3"] == pytest.approx(0.25)
    assert summary["tasks_at_k"] == {"1": 4, "2": 4, "3": 4}


def test_invalid_and_error_episodes_are_not_failures():
    # task b lost one trial to an infrastructure error, task c is invalid
    episodes = trials("a", "ppp") + trials("b", "pep") + trials("c", "iii")
    summary = pass_k_summary(episodes)
    assert summary["tasks"] == 2  # c is left out entirely
    assert summary["values"]["1"] == pytest.approx(1.0)  # b's error does not count as a failure
    assert summary["values"]["2"] == pytest.approx(1.0)
    assert summary["values"]["3"] == pytest.approx(1.0)  # only a has 3 scored trials
    assert summary["tasks_at_k"] == {"1": 2, "2": 2, "3": 1}
    assert "on 1 tasks" in describe_pass_k(summary)


def test_no_scored_episode_gives_no_value_and_no_interval():
    summary = pass_k_summary(trials("c", "ii"))
    assert summary["values"] == {"1": None, "2": None}
    assert summary["pass_1_ci"] is None
    assert pass_hat_k([], 1) == (None, 0)


@pytest.mark.parametrize(("passed", "n"), [(0, 10), (6, 25), (25, 25), (1, 1), (37, 50)])
def test_wilson_interval_equals_scipy_for_whole_counts(passed, n):
    low, high = wilson_interval(passed / n, n)
    reference = binomtest(passed, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert (low, high) == pytest.approx((reference.low, reference.high), abs=1e-12)


def test_interval_over_tasks_with_several_trials_contains_the_estimate():
    episodes = trials("a", "ppf") + trials("b", "pff") + trials("c", "ppp")
    ci = pass_k_summary(episodes)["pass_1_ci"]
    assert ci["low"] < 2 / 3 < ci["high"]
    assert ci["method"] == "wilson-over-tasks"


def test_per_group_values_and_summarize_hook():
    episodes = trials("a", "pp", "easy") + trials("b", "pf", "hard") + trials("c", "ff", "hard")
    summary = summarize(episodes)
    assert summary["pass_k"]["by_group"]["easy"]["values"] == {"1": 1.0, "2": 1.0}
    assert summary["pass_k"]["by_group"]["hard"]["values"] == {"1": 0.25, "2": 0.0}
    assert summary["pass_k"]["values"]["1"] == pytest.approx(0.5)

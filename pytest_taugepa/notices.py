"""Warnings the benchmark prints at the start of a run, once, on the terminal (also with -q)."""

from __future__ import annotations

from typing import Any

import pytest

from taugepa.guards.notices import cache_warning
from taugepa.guards.output_paths import directory_problem


def cache_notices(gold_cache_dir: Any, llm_cache_dir: Any | None) -> list[str]:
    """A line for each cache folder that cannot be written (checked for real, before the run)."""
    notices = []
    problem = directory_problem(gold_cache_dir)
    if problem:
        notices.append(
            cache_warning(
                "gold cache", gold_cache_dir, problem, "each process replays the gold of every task"
            )
        )
    if llm_cache_dir is not None:
        problem = directory_problem(llm_cache_dir)
        if problem:
            notices.append(
                cache_warning(
                    "LLM response cache",
                    llm_cache_dir,
                    problem,
                    "answers are not cached, so a rerun asks the endpoint (and pays) again",
                )
            )
    return notices


class NoticePrinter:
    """Prints the run's notices after pytest's session header (registered on the reporting process):
    warnings, and notes on what taugepa decided for the run."""

    def __init__(self, notices: list[str], notes: list[str] | None = None):
        self.notices = notices
        self.notes = notes or []

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        for notice in self.notices:
            reporter.write_line(f"taugepa: warning: {notice}", yellow=True)
        for note in self.notes:
            reporter.write_line(f"taugepa: {note}")

"""Controller-side reporting: collect episode entries, write the scores file, summarize, gate."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from pytest_taugepa.audit_support import summary_lines as audit_summary_lines
from pytest_taugepa.session import Benchmark
from pytest_taugepa.transport import entry_text
from taugepa.episode.efficiency import efficiency_lines, run_wall_time
from taugepa.files import write_text_atomically
from taugepa.llm.usage import usage_lines
from taugepa.protocol import FAILED
from taugepa.results.gates import min_pass_rate_breach, regression_breach
from taugepa.results.passk import describe_pass_k
from taugepa.results.scores import build_scores, run_info, scores_text, summarize
from taugepa.rules.compliance import compliance_lines

GATE_EXIT_STATUS = pytest.ExitCode.TESTS_FAILED


class BenchmarkReporter:
    """Registered only in the process that reports (the xdist controller, or a serial run)."""

    def __init__(self, config: pytest.Config, benchmark: Benchmark):
        self.config = config
        self.benchmark = benchmark
        self.other_failures = 0  # failed reports that are not an agent's failed episode
        self.encoded: dict[tuple[str, int], str] = {}  # each entry's scores-file text

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = getattr(report, "taugepa_episode", None)
        if entry is not None:
            self.benchmark.collected[(entry["task_id"], entry["trial"])] = entry
            self.encoded[(entry["task_id"], entry["trial"])] = entry_text(report, entry)
        if report.failed and (entry is None or entry["outcome"] != FAILED):
            self.other_failures += 1
        if getattr(report, "taugepa_not_started", None):
            self.benchmark.not_started.append(report.taugepa_not_started)
        if getattr(report, "taugepa_config_error", None):
            self.benchmark.config_error = self.benchmark.config_error or report.taugepa_config_error

    @pytest.hookimpl(tryfirst=True)
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.other_failures += 1

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        benchmark = self.benchmark
        entries = benchmark.ordered_entries()
        if benchmark.not_started and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            session.exitstatus = pytest.ExitCode.INTERRUPTED  # a partial run is not a green run
        if not entries or benchmark.config_error:
            return  # a run stopped by a configuration error leaves no half-made scores file
        settings = benchmark.settings
        run = run_info(
            wiki_path=str(settings.wiki_path),
            wiki_text=settings.wiki_text,
            agent=settings.agent,
            trials=settings.trials,
            max_steps=settings.max_steps,
            think_tool=settings.think_tool,
            task_sources=benchmark.collection.sources,
            models=settings.models,
            extra={
                **(settings.run_extra or {}),
                **({"audit": benchmark.audits.run_info(len(benchmark.tasks))} if benchmark.audits else {}),
            },
        )
        finished = time.time()
        timing = {
            "started_at": _iso(benchmark.started_at),
            "finished_at": _iso(finished),
            "wall_s": round(finished - benchmark.started_at, 3),
        }
        scores = build_scores(run, entries, timing)
        if benchmark.not_started:
            scores["stopped"] = {
                "reason": benchmark.not_started[0],
                "episodes_not_started": len(benchmark.not_started),
            }
        encoded = [self.encoded[(entry["task_id"], entry["trial"])] for entry in entries]
        write_text_atomically(settings.scores_out, scores_text(scores, encoded))
        benchmark.scores_written = str(settings.scores_out)
        if settings.min_pass_rate is not None:
            benchmark.gate_failures.append(min_pass_rate_breach(entries, settings.min_pass_rate) or "")
        if settings.baseline is not None:
            benchmark.gate_failures.append(
                regression_breach(entries, settings.baseline, settings.max_regression) or ""
            )
        gated = settings.min_pass_rate is not None or settings.baseline is not None
        benchmark.gate_failures = [reason for reason in benchmark.gate_failures if reason]
        if benchmark.gate_failures and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = GATE_EXIT_STATUS
        elif (
            gated
            and not benchmark.gate_failures
            and session.exitstatus == pytest.ExitCode.TESTS_FAILED
            and self.other_failures == 0
        ):
            # With a gate set, the gate decides: agent failures alone do not fail the run.
            benchmark.gates_decided = True
            session.exitstatus = pytest.ExitCode.OK

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        benchmark = self.benchmark
        if benchmark.config_error:
            terminalreporter.write_line(
                "taugepa: the run stopped on a configuration error; no scores file was written",
                red=True,
                bold=True,
            )
            return
        entries = benchmark.ordered_entries()
        if not entries:
            return
        write = terminalreporter.write_line
        terminalreporter.write_sep("=", "taugepa summary")
        for line in summary_lines(summarize(entries), self.benchmark):
            write(line)
        if benchmark.not_started:
            terminalreporter.write_line(
                f"taugepa: stopped starting new episodes: {benchmark.not_started[0]}; "
                f"{len(benchmark.not_started)} episodes not run (the scores file is partial)",
                red=True,
                bold=True,
            )
        for reason in self.benchmark.gate_failures:
            terminalreporter.write_line(f"taugepa gate failed: {reason}", red=True, bold=True)
        if self.benchmark.gates_decided:
            terminalreporter.write_line(
                "taugepa gates passed: the run succeeds although some episodes failed "
                "(with --min-pass-rate or --baseline set, the gates decide the exit status)",
                green=True,
            )


def summary_lines(summary: dict[str, Any], benchmark: Benchmark) -> list[str]:
    """The terminal summary: pass rates overall, per group and per gold action; where the file went."""
    settings = benchmark.settings
    counts = summary["counts"]
    lines = [
        f"agent {settings.agent} · wiki {settings.wiki_path.name} "
        f"(sha256 {settings.wiki_sha256[:12]}) · {summary['episodes']} episodes on {summary['tasks']} tasks",
        f"pass rate {_rate(summary['pass_rate'])} ({counts['passed']} passed, {counts['failed']} failed)"
        f" · {counts['invalid']} invalid · {counts['error']} errors (invalid and errors are not counted)",
    ]
    if summary.get("pass_k"):
        lines.append(describe_pass_k(summary["pass_k"]))
    lines.append("by group:")
    lines.extend(_table(summary["by_group"], summary.get("pass_k", {}).get("by_group")))
    lines.append("by gold action:")
    lines.extend(_table(summary["by_action"]))
    lines.extend(audit_summary_lines(summary, benchmark.ordered_entries(), settings.agent, benchmark.audits))
    lines.extend(usage_lines(summary.get("usage")))
    lines.extend(efficiency_lines(summary, {"episode_wall_s": run_wall_time(benchmark.ordered_entries())}))
    lines.extend(compliance_lines(summary))
    if summary["invalid_tasks"]:
        shown = ", ".join(summary["invalid_tasks"][:10])
        more = len(summary["invalid_tasks"]) - 10
        lines.append(f"invalid tasks: {shown}" + (f" and {more} more" if more > 0 else ""))
    if benchmark.scores_written:
        lines.append(f"scores file: {benchmark.scores_written}")
    return lines


def _table(groups: dict[str, dict[str, Any]], pass_k: dict[str, Any] | None = None) -> list[str]:
    width = max((len(name) for name in groups), default=0)
    lines = []
    for name, tally in groups.items():
        extra = "".join(f", {tally[kind]} {kind}" for kind in ("invalid", "error") if tally[kind])
        line = (
            f"  {name:<{width}}  {_rate(tally['pass_rate']):>6}  "
            f"({tally['passed']}/{tally['passed'] + tally['failed']}{extra})"
        )
        group_k = (pass_k or {}).get(name)
        if group_k and len(group_k["values"]) > 1:  # with several trials, pass^k per group too
            line += "  " + describe_pass_k(group_k)
        lines.append(line)
    return lines


def _rate(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:.1%}"


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat(timespec="seconds")

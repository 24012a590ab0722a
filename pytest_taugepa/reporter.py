"""Controller-side reporting: collect episode entries, write the scores file, summarize, gate.

The run's verdict (pass rate, counts, each gate, the exit status and why) is printed after
pytest's own last line (`pytest_taugepa.verdict`). A run interrupted with Ctrl-C writes the
episodes that finished to a scores file marked `interrupted` and gives no pass rate as its
result.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_taugepa.audit_support import summary_lines as audit_summary_lines
from pytest_taugepa.session import Benchmark
from pytest_taugepa.session_end import skip_idle_hypothesis_summary
from pytest_taugepa.transport import entry_text
from pytest_taugepa.verdict import compact_failures
from taugepa.episode.efficiency import efficiency_lines, run_wall_time
from taugepa.errors import OUTPUT_NOT_WRITTEN_EXIT_STATUS, OutputNotWritten
from taugepa.files import write_text_atomically
from taugepa.guards.notices import given_warnings
from taugepa.llm.usage import usage_lines
from taugepa.protocol import ERROR, FAILED
from taugepa.results.gates import evaluate_gates
from taugepa.results.merge import shard_header
from taugepa.results.passk import describe_pass_k
from taugepa.results.scores import build_scores, run_header, scores_text, summarize, timing_since
from taugepa.results.verdict import VERDICT_TITLE, RunState, counts_text, gated_exit_status, verdict_lines
from taugepa.rules.compliance import compliance_lines


class BenchmarkReporter:
    """Registered only in the process that reports (the xdist controller, or a serial run)."""

    def __init__(self, config: pytest.Config, benchmark: Benchmark):
        self.config = config
        self.benchmark = benchmark
        self.other_failures = 0  # failed reports that are not an agent's failed episode
        self.foreign_failures = 0  # of those, the ones that are no episode at all (not errors)
        self.planned: int | None = None  # cases selected to run (episodes planned)
        self.encoded: dict[tuple[str, int], str] = {}  # each entry's scores-file text
        self._summary: tuple[int, dict[str, Any]] | None = None  # (episodes, their summary)

    def summary(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        """The summary of the collected episodes, computed once for the scores file, the terminal
        summary, the verdict and the HTML page (episodes only ever arrive, so a count keys it)."""
        if self._summary is None or self._summary[0] != len(entries):
            self._summary = (len(entries), summarize(entries))
        return self._summary[1]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = getattr(report, "taugepa_episode", None)
        if entry is not None:
            self.benchmark.collected[(entry["task_id"], entry["trial"])] = entry
            self.encoded[(entry["task_id"], entry["trial"])] = entry_text(report, entry)
        if report.failed and (entry is None or entry["outcome"] != FAILED):
            self.other_failures += 1
            if entry is None or entry["outcome"] != ERROR:
                self.foreign_failures += 1
        if getattr(report, "taugepa_not_started", None):
            self.benchmark.not_started.append(report.taugepa_not_started)
        if getattr(report, "taugepa_config_error", None):
            self.benchmark.config_error = self.benchmark.config_error or report.taugepa_config_error

    @pytest.hookimpl(tryfirst=True)
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.other_failures += 1
            self.foreign_failures += 1

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if session.items:  # a serial run (the xdist controller collects nothing itself)
            self.planned = len(session.items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.planned = len(ids)  # every worker collects the same selected cases

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """Ctrl-C here, or in an xdist worker (xdist then stops with '... received keyboard-interrupt')."""
        value = excinfo.value
        if type(value) is KeyboardInterrupt or "keyboard-interrupt" in str(value):
            self.benchmark.interrupted = True

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        skip_idle_hypothesis_summary(self.config)  # before the terminal summary (see session_end)
        benchmark = self.benchmark
        entries = benchmark.ordered_entries()
        if benchmark.interrupted:
            session.exitstatus = pytest.ExitCode.INTERRUPTED
        if benchmark.not_started and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            session.exitstatus = pytest.ExitCode.INTERRUPTED  # a partial run is not a green run
        if not entries or benchmark.config_error:
            return  # a run stopped by a configuration error leaves no half-made scores file
        settings = benchmark.settings
        run = run_header(
            settings.harness,
            wiki_path=str(settings.wiki_path),
            wiki_text=settings.wiki_text,
            task_sources=benchmark.collection.sources,
            extra=_run_extra(benchmark),
        )
        scores = build_scores(run, entries, timing_since(benchmark.started_at), self.summary(entries))
        if benchmark.not_started:
            scores["stopped"] = {
                "reason": benchmark.not_started[0],
                "episodes_not_started": len(benchmark.not_started),
                "spent_usd": scores["summary"]["usage"].get("cost_usd"),
            }
        if benchmark.interrupted:
            scores["interrupted"] = benchmark.interrupted_info = {
                "reason": "interrupted by the user (Ctrl-C)",
                "episodes_done": len(entries),
                "episodes_planned": self.planned,
            }
        encoded = [self.encoded[(entry["task_id"], entry["trial"])] for entry in entries]
        try:
            write_text_atomically(settings.scores_out, scores_text(scores, encoded))
            benchmark.scores_written = str(settings.scores_out)
        except OutputNotWritten as exc:  # the verdict is still printed, the exit status says so
            benchmark.unwritten.append(f"the scores file {exc}")
        if benchmark.interrupted:
            return  # no gate judges a partial run
        benchmark.gates = evaluate_gates(entries, settings.gates)
        benchmark.gate_failures = [gate.failure for gate in benchmark.gates if gate.failure]
        # with a gate set, the gate decides: agent failures alone do not fail the run
        session.exitstatus = pytest.ExitCode(
            gated_exit_status(session.exitstatus, benchmark.gates, self.other_failures)
        )

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        benchmark = self.benchmark
        entries = benchmark.ordered_entries()
        if benchmark.config_error or not entries:
            return  # the verdict lines say what happened
        title = "taugepa summary"
        if benchmark.interrupted:
            title += " (INTERRUPTED: partial, the figures cover the finished episodes only)"
        terminalreporter.write_sep("=", title)
        for line in summary_lines(self.summary(entries), self.benchmark):
            terminalreporter.write_line(line)

    @pytest.hookimpl(wrapper=True, tryfirst=True, specname="pytest_sessionfinish")
    def pytest_sessionfinish_verdict(self, session: pytest.Session, exitstatus: int) -> Any:
        """After pytest's last line (its terminal reporter's sessionfinish runs inside this)."""
        result = yield
        if self.benchmark.unwritten:  # the scores file or the HTML page: the run's output is incomplete
            session.exitstatus = OUTPUT_NOT_WRITTEN_EXIT_STATUS
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None and not self.config.option.collectonly:
            for warning in self._late_warnings():  # said once per run (a cache that could not be written)
                terminal.write_line(f"taugepa: warning: {warning}", yellow=True)
            lines = verdict_lines(self.run_state(session))
            failed = session.exitstatus != pytest.ExitCode.OK
            terminal.write_sep("=", VERDICT_TITLE, red=failed, green=not failed, bold=True)
            for line in lines:
                terminal.write_line(line, red=failed, green=not failed, bold=line is lines[-1])
        return result

    def _late_warnings(self) -> list[str]:
        """Warnings given during the run (into a test's captured log) that the start did not give."""
        printer = self.config.pluginmanager.get_plugin("taugepa-notices")
        said = [notice.split(" cannot be written")[0] for notice in getattr(printer, "notices", [])]
        return [w for w in given_warnings() if w.split(" cannot be written")[0] not in said]

    def run_state(self, session: pytest.Session) -> RunState:
        benchmark = self.benchmark
        entries = benchmark.ordered_entries()
        return RunState(
            summary=self.summary(entries) if entries else None,
            exit_status=session.exitstatus,
            gates=benchmark.gates,
            other_failures=self.foreign_failures,
            scores_file=benchmark.scores_written,
            config_error=benchmark.config_error,
            interrupted=benchmark.interrupted_info or self._interrupted_now(entries),
            stopped=(
                {"reason": benchmark.not_started[0], "episodes_not_started": len(benchmark.not_started)}
                if benchmark.not_started
                else None
            ),
            compact=compact_failures(self.config),
            unwritten=list(benchmark.unwritten),
        )

    def _interrupted_now(self, entries: list[dict[str, Any]]) -> dict[str, Any] | None:
        if not self.benchmark.interrupted:
            return None
        return {"episodes_done": len(entries), "episodes_planned": self.planned}


def summary_lines(summary: dict[str, Any], benchmark: Benchmark) -> list[str]:
    """The terminal summary: pass rates overall, per group and per gold action; where the file went."""
    settings = benchmark.settings
    partial = "partial pass rate (interrupted run)" if benchmark.interrupted else "pass rate"
    lines = [
        f"agent {settings.harness.agent} · wiki {settings.wiki_path.name} "
        f"(sha256 {settings.wiki_sha256[:12]}) · {summary['episodes']} episodes on {summary['tasks']} tasks",
        f"{partial} {_rate(summary['pass_rate'])} {counts_text(summary)}",
    ]
    if summary.get("pass_k"):
        lines.append(describe_pass_k(summary["pass_k"]))
    lines.append("by group:")
    lines.extend(_table(summary["by_group"], summary.get("pass_k", {}).get("by_group")))
    lines.append("by gold action:")
    lines.extend(_table(summary["by_action"]))
    lines.extend(
        audit_summary_lines(summary, benchmark.ordered_entries(), settings.harness.agent, benchmark.audits)
    )
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


def _run_extra(benchmark: Benchmark) -> dict[str, Any] | None:
    """What the run header holds beyond the harness: the task audit, the review model."""
    extra: dict[str, Any] = {}
    if benchmark.audits:
        extra["audit"] = benchmark.audits.run_info(len(benchmark.tasks))
    review = benchmark.settings.review
    if review is not None:
        extra["failure_review"] = review.describe(benchmark.settings.harness.llm)
    shard = benchmark.settings.shard
    if shard is not None:  # what `taugepa merge` needs: the whole run's tasks, in their order
        extra["shard"] = shard_header(shard, list(benchmark.tasks), benchmark.shard_tasks or set())
    return extra or None

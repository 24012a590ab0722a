"""The pytest-html page of a benchmark run (`--html report.html`, best with `--self-contained-html`).

- The taugepa verdict (agent and wiki, pass rate, counts, each gate, the exit status and why)
  heads the page, in pytest-html's summary: its own counts are test cases, not the verdict.
- Each case's row carries its episode (feedback, expected vs taken actions, transcript; see
  `plugin._attach_html`), so pytest-html's log box would only repeat the feedback: it is
  dropped for episodes, and an empty box is hidden. Captured logs stay.
"""

from __future__ import annotations

from html import escape
from typing import Any

import pytest

from pytest_taugepa.reporter import BenchmarkReporter, summary_lines
from pytest_taugepa.verdict import verdict_lines
from taugepa.errors import OutputNotWritten
from taugepa.files import write_text_atomically

NO_LOG = "No log output captured."
PAGE_CSS = """
.tg-verdict{border:2px solid #888;border-radius:4px;padding:6px 12px;margin:8px 0;font-size:14px}
.tg-verdict.tg-pass{border-color:#2a9d4b}.tg-verdict.tg-fail{border-color:#b00020}
.tg-verdict p{margin:3px 0}.tg-verdict .tg-exit{font-weight:bold}
.tg-verdict.tg-pass .tg-exit{color:#1e7a38}.tg-verdict.tg-fail .tg-exit{color:#b00020}
.logwrapper:not(:has(.log)){display:none}
"""


class HtmlPage:
    """pytest-html hooks; registered on the reporting process only."""

    def __init__(self, reporter: BenchmarkReporter):
        self.reporter = reporter

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """pytest-html writes its page in place, and a full disk left a page cut mid-way and a
        traceback: it now goes through a temporary file and a rename, and a failure is one line."""
        for plugin in session.config.pluginmanager.get_plugins():
            if hasattr(plugin, "_write_report") and hasattr(plugin, "_report_path"):
                plugin._write_report = self._atomic_writer(plugin)

    def _atomic_writer(self, plugin: Any) -> Any:
        def write(rendered: str) -> None:
            try:
                write_text_atomically(plugin._report_path, rendered)
            except OutputNotWritten as exc:
                line = f"the HTML page {exc}"
                if line not in self.reporter.benchmark.unwritten:  # pages written per test say it once
                    self.reporter.benchmark.unwritten.append(line)

        return write

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_report_title(self, report: Any) -> None:
        settings = self.reporter.benchmark.settings
        report.title = (
            f"taugepa benchmark: agent {settings.harness.agent} on {', '.join(settings.tasks.specs)}"
        )

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
    ) -> None:
        prefix.insert(0, verdict_html(self.reporter, session))

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_html(self, report: pytest.TestReport, data: list[str]) -> None:
        if getattr(report, "taugepa_episode", None) is None:
            return
        feedback = f"{escape(report.longreprtext)}\n" if report.longreprtext else None
        data[:] = [block for block in data if block != feedback and block != NO_LOG]


def verdict_html(reporter: BenchmarkReporter, session: pytest.Session) -> str:
    """The verdict block for the top of the page."""
    state = reporter.run_state(session)
    state.compact = False  # the page shows every episode in full
    lines = verdict_lines(state)
    entries = reporter.benchmark.ordered_entries()
    head = summary_lines(reporter.summary(entries), reporter.benchmark)[:1] if entries else []
    outcome = "tg-pass" if session.exitstatus == pytest.ExitCode.OK else "tg-fail"
    paragraphs = [f"<p>{escape(line)}</p>" for line in [*head, *lines[:-1]]]
    paragraphs.append(f'<p class="tg-exit">{escape(lines[-1])}</p>')
    return (
        f'<style>{PAGE_CSS}</style><div class="tg-verdict {outcome}"><h2>taugepa verdict</h2>'
        + "".join(paragraphs)
        + "</div>"
    )

"""pytest plugin: every task is a test case; verdicts become a scores file, a summary and a gate.

The plugin is thin: episodes run through `taugepa.episode.run_episode`, verdicts come from
`taugepa.scoring`, the scores file from `taugepa.results`. A benchmark suite turns the
plugin on by calling `start_benchmark(config)` from its conftest (see `benchmarks/`), so
unrelated test runs in the same environment are unaffected.

Under xdist each worker runs its share of episodes and attaches the stored episode entry to
its test reports; only the controller collects them and writes the one scores file, so a
run with `-n N` produces the same file as a serial run.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_taugepa.audit_support import prepare as prepare_audits
from pytest_taugepa.options import BenchmarkSettings, add_options, resolve_settings
from pytest_taugepa.reporter import BenchmarkReporter
from pytest_taugepa.session import Benchmark
from taugepa.engine import tool_names
from taugepa.episode import EpisodeConfig, EpisodeResult, run_episode
from taugepa.errors import TaugepaError
from taugepa.results import episode_entry
from taugepa.scoring import ERROR, INVALID, PASSED
from taugepa.tasks import load_tasks
from taugepa.transcript import render_episode

TASK_PARAM = "taugepa_task"


class EpisodeInfrastructureError(Exception):
    """Raised in the episode fixture so that pytest reports an infrastructure error as ERROR."""


BENCHMARK_KEY = pytest.StashKey[Benchmark]()
EPISODE_KEY = pytest.StashKey[EpisodeResult]()
REPORTED_KEY = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def start_benchmark(config: pytest.Config) -> None:
    """Validate the options and load the tasks; call from the benchmark suite's pytest_configure."""
    try:
        settings = resolve_settings(config)
        audits, collection = prepare_audits(settings, load_tasks(settings.task_specs))
    except TaugepaError as exc:
        raise pytest.UsageError(str(exc)) from None
    if settings.agent == "llm":
        raise pytest.UsageError(
            "--agent llm needs an OpenAI-compatible endpoint, which this version cannot drive yet: "
            "run with --agent oracle or --agent null"
        )
    benchmark = Benchmark(settings=settings, collection=collection, audits=audits)
    benchmark.tasks = collection.by_id()
    config.stash[BENCHMARK_KEY] = benchmark
    if not hasattr(config, "workerinput"):  # the controller (or a serial run) reports
        config.pluginmanager.register(BenchmarkReporter(config, benchmark), "taugepa-reporter")
    groups = sorted({task.group for task in collection.tasks})
    for name in groups:
        config.addinivalue_line("markers", f"{name}: taugepa tasks of difficulty or set '{name}'")
    for name in sorted(tool_names()):
        config.addinivalue_line("markers", f"{name}: taugepa tasks whose gold actions call {name}")
    _add_html_metadata(config, settings)


def _add_html_metadata(config: pytest.Config, settings: BenchmarkSettings) -> None:
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:
        return
    metadata = config.stash.get(metadata_key, None)
    if metadata is not None:
        metadata["taugepa agent"] = settings.agent
        metadata["taugepa wiki"] = f"{settings.wiki_path} (sha256 {settings.wiki_sha256[:12]})"
        metadata["taugepa tasks"] = ", ".join(settings.task_specs)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if TASK_PARAM not in metafunc.fixturenames:
        return
    benchmark = metafunc.config.stash.get(BENCHMARK_KEY, None)
    if benchmark is None:
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid} asks for taugepa tasks, but its conftest does not call "
            "pytest_taugepa.plugin.start_benchmark(config) in pytest_configure"
        )
    trials = benchmark.settings.trials
    params = []
    for task in benchmark.collection.tasks:
        marks = [getattr(pytest.mark, task.group)] + [getattr(pytest.mark, n) for n in task.action_names]
        for trial in range(trials):
            case_id = task.id if trials == 1 else f"{task.id}-t{trial}"
            params.append(pytest.param((task.id, trial), id=case_id, marks=marks))
    metafunc.parametrize(TASK_PARAM, params)


class EpisodeCheck:
    """What a benchmark test receives: the episode's result and the assertion on it."""

    def __init__(self, result: EpisodeResult):
        self.result = result

    def assert_passed(self) -> None:
        if self.result.outcome != PASSED:
            pytest.fail(self.result.feedback, pytrace=False)


@pytest.fixture
def taugepa_episode(request: pytest.FixtureRequest, taugepa_task: tuple[str, int]) -> EpisodeCheck:
    """Run the episode for this case; invalid tasks skip, infrastructure errors are ERRORs."""
    benchmark = request.config.stash[BENCHMARK_KEY]
    task_id, trial = taugepa_task
    settings = benchmark.settings
    config = EpisodeConfig(
        agent=settings.agent, max_steps=settings.max_steps, think_tool=settings.think_tool, trial=trial
    )
    result = run_episode(benchmark.tasks[task_id], settings.wiki_text, config)
    request.node.stash[EPISODE_KEY] = result
    if result.outcome == INVALID:
        pytest.skip(result.feedback)
    if result.outcome == ERROR:
        raise EpisodeInfrastructureError(result.feedback)
    return EpisodeCheck(result)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    result = item.stash.get(EPISODE_KEY, None)
    if call.excinfo is not None and call.excinfo.errisinstance(EpisodeInfrastructureError):
        report.longrepr = str(call.excinfo.value)
    if result is None or item.stash.get(REPORTED_KEY, False):
        return report
    if report.when == "call" or report.outcome != "passed":
        benchmark = item.config.stash[BENCHMARK_KEY]
        task = benchmark.tasks[result.task_id]
        audit = benchmark.audits.for_task(task).brief() if benchmark.audits else None
        entry = episode_entry(task, result.to_dict(), audit=audit)
        report.taugepa_episode = entry
        _attach_html(report, entry)
        item.stash[REPORTED_KEY] = True
    return report


def _attach_html(report: pytest.TestReport, entry: dict[str, Any]) -> None:
    try:
        from pytest_html import extras
    except ImportError:
        return
    report.extras = [*getattr(report, "extras", []), extras.html(render_episode(entry))]

"""pytest plugin: every task is a test case; verdicts become a scores file, a summary and a gate.

The plugin is thin: episodes run through `taugepa.episode.run_episode`, verdicts come from
`taugepa.episode.scoring`, the scores file from `taugepa.results`. A benchmark suite turns the
plugin on by calling `start_benchmark(config)` from its conftest (the packaged suite
`taugepa.benchmarks`, and the repository's `benchmarks/` folder that points at it), so unrelated
test runs in the same environment are unaffected. Under `pytest --pyargs taugepa.benchmarks` the
suite's conftest is only found during collection, too late to start a benchmark, so the plugin
starts it itself when the suite is named on the command line.

Under xdist each worker runs its share of episodes and attaches the stored episode entry to
its test reports; only the controller collects them and writes the one scores file, so a
run with `-n N` produces the same file as a serial run.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from typing import Any

import pytest

from pytest_taugepa.audit_support import prepare as prepare_audits
from pytest_taugepa.html_page import HtmlPage
from pytest_taugepa.interrupt import InterruptHandling
from pytest_taugepa.marks import group_mark_names, registered_marks, renamed_notice
from pytest_taugepa.notices import NoticePrinter, cache_notices
from pytest_taugepa.options import (
    BenchmarkSettings,
    add_options,
    check_case_count,
    check_html_output,
    resolve_settings,
)
from pytest_taugepa.prefetch import Prefetcher
from pytest_taugepa.rate_notices import RateLimitNotices, shared_caps_note
from pytest_taugepa.reporter import BenchmarkReporter
from pytest_taugepa.session import Benchmark
from pytest_taugepa.session_end import freeze_at_exit
from pytest_taugepa.transport import EntryTransport
from pytest_taugepa.verdict import compact_failures, one_line_failure
from pytest_taugepa.workers import CONCURRENCY_INPUT, fold_workers, worker_settings
from taugepa.benchmarks import SUITE
from taugepa.episode.run import EpisodeResult
from taugepa.episode.runner import CostBudget, EpisodeJob, EpisodePool, NotStarted
from taugepa.errors import ConfigError, TaugepaError
from taugepa.llm.cache import default_llm_cache_dir
from taugepa.llm.client import check_api_keys, prepare_clients
from taugepa.llm.config import LLMConfig, read_api_key
from taugepa.llm.endpoint_health import check_reachable
from taugepa.llm.rate_limits import set_workers
from taugepa.protocol import ERROR, FAILED, INVALID, PASSED
from taugepa.results.scores import episode_entry
from taugepa.results.transcript import render_episode
from taugepa.rules.compliance import definite_note
from taugepa.tasks.gold import default_gold_cache
from taugepa.tasks.loading import load_tasks
from taugepa.tasks.model import Task
from taugepa.tasks.shard import Shard
from taugepa.world.engine import tool_names

TASK_PARAM = "taugepa_task"
LEDGER_INPUT = "taugepa_cost_ledger"  # xdist workerinput key: the folder where workers record spending


class EpisodeInfrastructureError(Exception):
    """Raised in the episode fixture so that pytest reports an infrastructure error as ERROR."""


BENCHMARK_KEY = pytest.StashKey[Benchmark]()
EPISODE_KEY = pytest.StashKey[EpisodeResult]()
REPORTED_KEY = pytest.StashKey[bool]()
NOT_STARTED_KEY = pytest.StashKey[str]()
CONFIG_ERROR_KEY = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_taugepa import hooks

    pluginmanager.add_hookspecs(hooks)


def _hooked_agent(config: pytest.Config) -> str | None:
    """The label of the agent a conftest.py's pytest_taugepa_make_agent hook gives, if any."""
    factory = config.hook.pytest_taugepa_make_agent(config=config)
    if factory is None:
        return None
    from taugepa.agents.loading import register_agent

    return register_agent(factory)


def pytest_configure(config: pytest.Config) -> None:
    if config.option.pyargs and any(_names_suite(arg) for arg in config.args):
        start_benchmark(config)


def _names_suite(arg: str) -> bool:
    """Whether a `--pyargs` argument is the packaged suite or a part of it."""
    name = arg.split("::")[0]
    return name == SUITE or name.startswith(f"{SUITE}.")


def start_benchmark(config: pytest.Config) -> None:
    """Validate the options and load the tasks; call from the benchmark suite's pytest_configure.

    Only the first call counts: under `--pyargs` the plugin has started it before the suite's
    conftest is loaded."""
    if config.option.help or config.option.version or BENCHMARK_KEY in config.stash:
        return  # `pytest benchmarks --help` must work with no key, no model and no task file
    try:
        settings = worker_settings(config, resolve_settings(config, agent=_hooked_agent(config)))
        worker_input = getattr(config, "workerinput", None)
        if worker_input is not None:  # --rpm/--tpm: this worker keeps to its share
            set_workers(int(worker_input.get("workercount") or 1))
        settings, folded = fold_workers(config, settings)
        check_html_output(config)
        harness = settings.harness
        audits, collection = prepare_audits(settings, load_tasks(settings.tasks.specs))
        check_case_count(len(collection.tasks), harness.trials)
        shard_tasks = shard_selection(settings.shard, collection.tasks)
        if harness.llm is not None:  # a missing API key stops the session here
            if _is_xdist_controller(config):
                check_api_keys(harness.llm)  # the workers send the requests: no SDK needed here
            else:
                prepare_clients(harness.llm)
            if not hasattr(config, "workerinput"):  # an endpoint nobody listens at is an error, not a skip
                check_reachable(harness.llm)
        reviewer = _failure_reviewer(config, settings)
    except TaugepaError as exc:
        raise pytest.UsageError(str(exc)) from None
    benchmark = Benchmark(settings=settings, collection=collection, audits=audits, reviewer=reviewer)
    benchmark.tasks = collection.by_id()
    benchmark.shard_tasks = shard_tasks
    benchmark.group_marks = group_mark_names(
        {task.group for task in collection.tasks}, registered_marks(config) | set(tool_names())
    )
    if settings.harness.max_cost is not None:
        worker_input = getattr(config, "workerinput", None)
        if worker_input is not None:
            benchmark.cost_ledger = worker_input.get(LEDGER_INPUT)
        else:
            benchmark.cost_ledger = tempfile.mkdtemp(prefix="taugepa-cost-")
    config.stash[BENCHMARK_KEY] = benchmark
    freeze_at_exit()  # the interpreter's teardown without the collector (see session_end)
    interrupts = InterruptHandling(benchmark, worker=hasattr(config, "workerinput"))
    config.pluginmanager.register(interrupts, "taugepa-interrupt")
    config.pluginmanager.register(EntryTransport(), "taugepa-entry-transport")
    if not hasattr(config, "workerinput"):  # the controller (or a serial run) reports
        reporter = BenchmarkReporter(config, benchmark)
        config.pluginmanager.register(reporter, "taugepa-reporter")
        notices = RateLimitNotices(config, harness.llm, harness.concurrency)
        config.pluginmanager.register(notices, "taugepa-rate-limits")
        config.pluginmanager.register(HtmlPage(reporter), "taugepa-html")
        shared = shared_caps_note(harness.llm, len(getattr(config.option, "tx", None) or []))
        notes = [note for note in (folded, shared) if note]
        config.pluginmanager.register(NoticePrinter(_notices(settings, benchmark), notes), "taugepa-notices")
    for group, mark in benchmark.group_marks.items():
        config.addinivalue_line("markers", f"{mark}: taugepa tasks of difficulty or set '{group}'")
    for name in sorted(tool_names()):
        config.addinivalue_line("markers", f"{name}: taugepa tasks whose gold actions call {name}")
    _add_html_metadata(config, settings)


def shard_selection(shard: Shard | None, tasks: Sequence[Task]) -> set[str] | None:
    """The ids of the tasks this process runs with --shard K/N (None: all of them)."""
    if shard is None:
        return None
    if shard.count > len(tasks):
        raise ConfigError(
            f"--shard {shard}: there are only {len(tasks)} tasks to split, so at most {len(tasks)} shards"
        )
    return shard.select(task.id for task in tasks)


def _failure_reviewer(config: pytest.Config, settings: BenchmarkSettings) -> Any:
    """The review model's client where episodes are scored (not on an xdist controller, which
    only checks the key), so that a missing key stops the session before any episode."""
    review = settings.review
    if review is None:
        return None
    from taugepa.results.failure_review import FailureReviewer

    if _is_xdist_controller(config):
        read_api_key(review.api_key_env or (settings.harness.llm or LLMConfig()).api_key_env)
        return None
    return FailureReviewer(review, settings.harness.llm)


def _is_xdist_controller(config: pytest.Config) -> bool:
    """Whether this process hands the cases to pytest-xdist workers instead of running them."""
    return not hasattr(config, "workerinput") and getattr(config.option, "dist", "no") != "no"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist (controller): tell each worker where the run's spending is recorded, and its episodes
    in flight (see `workers.fold_workers`)."""
    benchmark = node.config.stash.get(BENCHMARK_KEY, None)
    if benchmark is None:
        return
    node.workerinput[CONCURRENCY_INPUT] = benchmark.settings.harness.concurrency
    if benchmark.cost_ledger:
        node.workerinput[LEDGER_INPUT] = benchmark.cost_ledger


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """xdist (controller): with --dist load and --concurrency > 1, queue enough cases per worker."""
    benchmark = config.stash.get(BENCHMARK_KEY, None)
    if benchmark is None or benchmark.settings.harness.concurrency <= 1 or config.getvalue("dist") != "load":
        return None
    from pytest_taugepa.xdist_scheduling import EpisodeLoadScheduling

    return EpisodeLoadScheduling(config, log, depth=2 * benchmark.settings.harness.concurrency)


def pytest_sessionfinish(session: pytest.Session) -> None:
    benchmark = session.config.stash.get(BENCHMARK_KEY, None)
    if benchmark is not None and benchmark.prefetcher is not None:
        benchmark.prefetcher.pool.close()


def pytest_unconfigure(config: pytest.Config) -> None:
    benchmark = config.stash.get(BENCHMARK_KEY, None)
    if benchmark is not None and benchmark.cost_ledger and not hasattr(config, "workerinput"):
        shutil.rmtree(benchmark.cost_ledger, ignore_errors=True)


def _notices(settings: BenchmarkSettings, benchmark: Benchmark) -> list[str]:
    """What the run warns about at its start: unwritable caches, renamed group marks."""
    llm = settings.harness.llm
    llm_cache = (llm.cache_dir or default_llm_cache_dir()) if llm is not None and llm.cache else None
    notices = cache_notices(default_gold_cache().directory, llm_cache)
    renamed = renamed_notice(benchmark.group_marks)
    return notices + ([renamed] if renamed else [])


def _add_html_metadata(config: pytest.Config, settings: BenchmarkSettings) -> None:
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:
        return
    metadata = config.stash.get(metadata_key, None)
    if metadata is not None:
        metadata["taugepa agent"] = settings.harness.agent
        metadata["taugepa wiki"] = f"{settings.wiki_path} (sha256 {settings.wiki_sha256[:12]})"
        metadata["taugepa tasks"] = ", ".join(settings.tasks.specs)
        if settings.harness.llm is not None:
            described = settings.harness.llm.describe()
            metadata["taugepa models"] = (
                f"agent {described['agent_model']} at {described['base_url']}, "
                f"user {described['user_model']} at {described['user_base_url']}"
            )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if TASK_PARAM not in metafunc.fixturenames:
        return
    benchmark = metafunc.config.stash.get(BENCHMARK_KEY, None)
    if benchmark is None:
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid} asks for taugepa tasks, but its conftest does not call "
            "pytest_taugepa.plugin.start_benchmark(config) in pytest_configure"
        )
    trials = benchmark.settings.harness.trials
    params = []
    for task in benchmark.collection.tasks:
        if benchmark.shard_tasks is not None and task.id not in benchmark.shard_tasks:
            continue  # another shard's task (--shard K/N)
        group_mark = benchmark.group_marks[task.group]  # never a mark pytest acts on (see marks.py)
        marks = [getattr(pytest.mark, group_mark)] + [getattr(pytest.mark, n) for n in task.action_names]
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
            note = definite_note(self.result.compliance)
            pytest.fail(self.result.feedback + (f"\n{note}" if note else ""), pytrace=False)


def _episode_job(benchmark: Benchmark, task_id: str, trial: int) -> EpisodeJob:
    settings = benchmark.settings
    return EpisodeJob(benchmark.tasks[task_id], settings.wiki_text, settings.harness.for_trial(trial))


def _prefetcher(config: pytest.Config, benchmark: Benchmark) -> Prefetcher:
    """This process's episode pool (built on first use, closed at the end of the session)."""
    if benchmark.prefetcher is None:
        settings = benchmark.settings
        worker = getattr(config, "workerinput", {}).get("workerid", "main")
        budget = CostBudget(settings.harness.max_cost, benchmark.cost_ledger, name=worker)
        pool = EpisodePool(settings.harness.concurrency, budget=budget)

        def job_for(item: pytest.Item) -> EpisodeJob | None:
            callspec = getattr(item, "callspec", None)
            params = callspec.params if callspec is not None else {}
            if TASK_PARAM not in params:
                return None
            return _episode_job(benchmark, *params[TASK_PARAM])

        benchmark.prefetcher = Prefetcher(pool, job_for)
    return benchmark.prefetcher


@pytest.fixture
def taugepa_episode(request: pytest.FixtureRequest, taugepa_task: tuple[str, int]) -> EpisodeCheck:
    """Run the episode for this case; invalid tasks skip, infrastructure errors are ERRORs.

    Episodes of the following cases may already be running (see `prefetch`). A configuration
    error (such as an unknown model) stops the session; a spent --max-cost skips the case.
    """
    benchmark = request.config.stash[BENCHMARK_KEY]
    job = _episode_job(benchmark, *taugepa_task)
    try:
        result = _prefetcher(request.config, benchmark).result(request.node, job)
    except TaugepaError as exc:  # pytest prints "Interrupted: taugepa: <what to fix>" and stops
        request.node.stash[CONFIG_ERROR_KEY] = str(exc)
        request.session.shouldstop = f"taugepa: {exc}"
        pytest.skip("not run: the run stopped on a configuration error")
    if isinstance(result, NotStarted):
        request.node.stash[NOT_STARTED_KEY] = result.reason
        pytest.skip(f"not run: {result.reason}")
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
    if report.when == "setup":
        for key, attribute in (
            (NOT_STARTED_KEY, "taugepa_not_started"),
            (CONFIG_ERROR_KEY, "taugepa_config_error"),
        ):
            if key in item.stash:
                setattr(report, attribute, item.stash[key])
    if result is not None and report.when == "setup":
        # The episode ran in this phase, or ahead on a thread (then setup only waited): report its
        # own wall time, which is what --durations and pytest-html should show.
        report.duration = result.duration_s
    if result is None or item.stash.get(REPORTED_KEY, False):
        return report
    if report.when == "call" or report.outcome != "passed":
        benchmark = item.config.stash[BENCHMARK_KEY]
        task = benchmark.tasks[result.task_id]
        audit = benchmark.audits.for_task(task).brief() if benchmark.audits else None
        entry = episode_entry(task, result.to_dict(), audit=audit)
        if benchmark.reviewer is not None:
            benchmark.reviewer.review(task, entry)
        report.taugepa_episode = entry
        if report.failed and entry["outcome"] == FAILED and compact_failures(item.config):
            # one line, as the short summary shows it (-v or --tb=long keep the whole feedback)
            report.longrepr = one_line_failure(result.feedback, result.compliance, entry.get("failure"))
        _attach_html(report, entry, item.config)
        item.stash[REPORTED_KEY] = True
    return report


def _attach_html(report: pytest.TestReport, entry: dict[str, Any], config: pytest.Config) -> None:
    if not getattr(config.option, "htmlpath", None):
        return  # no --html page: rendering each transcript would be wasted
    try:
        from pytest_html import extras
    except ImportError:
        return
    # pytest-html reads the report's `extras` attribute, which pytest's TestReport does not declare
    setattr(report, "extras", [*getattr(report, "extras", []), extras.html(render_episode(entry))])  # noqa: B010

"""A pytest plugin for `scripts/bench_command.py` (not part of taugepa): what each process did, and when.

Loaded with `PYTEST_PLUGINS=bench_probe` and `scripts/` on `PYTHONPATH`, so that xdist
workers load it too. At the end of each process's session it writes
`$TAUGEPA_BENCH_PROBE/<controller|gwN>.json`: when the last test report arrived (on the
controller: the last episode's verdict), when the process unconfigured, when its first
test started and how much CPU time the process had used by then (less sensitive to a
loaded machine than wall time), which heavy libraries it had imported, and how many
taugepa modules pytest's assertion rewriter loaded.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import time
from pathlib import Path

import pytest

HEAVY = (
    "tau2",
    "deepdiff",
    "pandas",
    "numpy",
    "scipy",
    "matplotlib",
    "openai",
    "gepa",
    "jsonschema",
    "pydantic",
)
_last_report_at: list[float] = []
_first_setup: dict[str, float] = {}
_tail: dict[str, float] = {}  # when each step of the end of the session began (time.time())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> object:
    _tail["sessionfinish"] = time.time()  # every test has reported
    _tail["cpu_at_sessionfinish"] = time.process_time()
    try:
        return (yield)
    finally:
        _tail["sessionfinish_done"] = time.time()


@pytest.hookimpl(tryfirst=True)
def pytest_terminal_summary() -> None:
    _tail["terminal_summary"] = time.time()


@pytest.hookimpl(tryfirst=True, specname="pytest_unconfigure")
def unconfigure_starts() -> None:
    _tail["unconfigure"] = time.time()


def pytest_runtest_setup(item: pytest.Item) -> None:
    if not _first_setup:  # CPU time is what a quiet machine's wall time would be, more or less
        _first_setup.update(at=time.time(), cpu=time.process_time())


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _last_report_at[:] = [time.time()]


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    folder = os.environ.get("TAUGEPA_BENCH_PROBE")
    if not folder:
        return
    name = getattr(config, "workerinput", {}).get("workerid", "controller")
    loaded = {module.partition(".")[0] for module in list(sys.modules)}
    rewritten = [
        module_name
        for module_name, module in list(sys.modules.items())
        if module_name.startswith(("taugepa", "pytest_taugepa"))
        and type(getattr(module, "__loader__", None)).__name__ == "AssertionRewritingHook"
    ]
    _tail["unconfigure_done"] = time.time()
    record = {
        "last_report_at": _last_report_at[0] if _last_report_at else None,
        "unconfigure_at": time.time(),
        "tail": dict(_tail),
        "first_setup_at": _first_setup.get("at"),
        "cpu_before_first_setup": _first_setup.get("cpu"),
        "cpu_total": time.process_time(),
        "heavy_imported": [name for name in HEAVY if name in loaded],
        "taugepa_modules_rewritten": len(rewritten),
    }
    Path(folder, f"{name}.json").write_text(json.dumps(record))
    # the last thing this process does in Python: after pytest returned, threads were joined
    # (threading._shutdown runs before atexit), before modules are torn down and the process ends
    atexit.register(_write_atexit, Path(folder, f"{name}.atexit"))


def _write_atexit(path: Path) -> None:
    path.write_text(repr(time.time()))


def _atexit_last() -> None:
    """Registered when the probe is imported (early), so it runs after the atexit handlers of the
    libraries imported later (atexit runs the last registered first): what is left is the
    interpreter's teardown. Writes the time, the CPU seconds used so far and the modules loaded."""
    folder = os.environ.get("TAUGEPA_BENCH_PROBE")
    if folder and "PYTEST_XDIST_WORKER" not in os.environ:
        record = {"at": time.time(), "cpu": time.process_time(), "modules": len(sys.modules)}
        Path(folder, "controller.atexit_last").write_text(json.dumps(record))


atexit.register(_atexit_last)

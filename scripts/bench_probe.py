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
    record = {
        "last_report_at": _last_report_at[0] if _last_report_at else None,
        "unconfigure_at": time.time(),
        "first_setup_at": _first_setup.get("at"),
        "cpu_before_first_setup": _first_setup.get("cpu"),
        "cpu_total": time.process_time(),
        "heavy_imported": [name for name in HEAVY if name in loaded],
        "taugepa_modules_rewritten": len(rewritten),
    }
    Path(folder, f"{name}.json").write_text(json.dumps(record))

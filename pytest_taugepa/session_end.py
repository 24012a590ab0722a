"""The end of a benchmark session: the time from the last verdict to the process's exit.

After the last episode's verdict, a run writes its scores file, prints its summary and verdict,
and exits; measured from the model server's side (`scripts/bench_command.py`), two things
there cost more than the rest together, and both are skipped here.

The interpreter's teardown: a benchmark process holds some 1,800 modules (tau2, pydantic, the
openai SDK's types), and at exit the collector walks every object left, again and again, as
the modules are cleared. Python does not promise finalizers to objects alive at exit, so once
the process is exiting (an atexit handler) the collector is told to leave them alone
(`gc.freeze`): atexit handlers still run, stdout is flushed, objects outside reference cycles
are freed as before; only the collector's walks go (about 40% of the teardown's CPU time).
The scores file and every other output are closed long before.

An idle plugin: hypothesis's pytest plugin (installed wherever hypothesis is, say with a project's test
extras) imports `hypothesis` in its terminal summary to learn whether this process wrote
observations, which takes 0.5 to 2 s after the last verdict: longer than the rest of the end of
the run. A benchmark session runs no hypothesis test, so when nothing in this process imported
hypothesis (nothing can have been written) and no report carries hypothesis's statistics or
failing examples (an xdist worker's tests), that summary has nothing to say and the plugin is
unregistered before it is asked. With `--hypothesis-show-statistics`, or any hypothesis test in
the session, nothing changes.
"""

from __future__ import annotations

import atexit
import gc
import sys
from typing import Any

import pytest

_FREEZE_AT_EXIT: list[bool] = []  # registered once per process, however many sessions it runs
HYPOTHESIS_PLUGIN = "hypothesispytest"  # its pytest11 entry point
HYPOTHESIS_REPORT_KEYS = ("_hypothesis_stats", "_hypothesis_failing_examples")


def skip_idle_hypothesis_summary(config: pytest.Config) -> bool:
    """Unregister hypothesis's plugin when its terminal summary would only import hypothesis."""
    manager = config.pluginmanager
    plugin = manager.get_plugin(HYPOTHESIS_PLUGIN)
    if plugin is None or "hypothesis" in sys.modules:
        return False
    if getattr(config.option, "hypothesis_show_statistics", False):
        return False
    terminal = manager.get_plugin("terminalreporter")
    reports: list[Any] = [r for rs in getattr(terminal, "stats", {}).values() for r in rs]
    if any(key in getattr(report, "__dict__", {}) for report in reports for key in HYPOTHESIS_REPORT_KEYS):
        return False
    manager.unregister(plugin)
    return True


def freeze_at_exit() -> None:
    """Keep the collector out of the interpreter's teardown (see the module's docstring)."""
    if not _FREEZE_AT_EXIT:
        _FREEZE_AT_EXIT.append(True)
        atexit.register(gc.freeze)

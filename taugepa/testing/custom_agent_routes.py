"""A user's agent laid out for each of the three ways a run can choose it (tests and scripts).

`lay_out(folder)` writes, outside the taugepa package:

- `gold_replayer.py`: `GoldReplayer`, an agent written only against `taugepa.agents` that
  replays the task's gold actions and then states the required outputs (what `oracle` does),
  `Undeclared` (the same without a name and version), `CrashesOnEvenTasks` (raises inside
  `act` on tasks of even index) and `not_a_factory` (returns something that is not an agent);
- `gold_replayer-1.0.dist-info/`: an installed distribution whose `taugepa.agents` entry
  point `gold-replayer` names `GoldReplayer` (visible once `folder` is on the path);
- `hook_suite/`: the benchmark suite with a conftest.py whose `pytest_taugepa_make_agent`
  hook returns `GoldReplayer`.

`route_commands` gives the pytest command line of each route (and of `--agent oracle`).
"""

from __future__ import annotations

import sys
from pathlib import Path

AGENT_MODULE = '''"""A user's agent: replays the gold actions, then states the outputs (as `oracle` does)."""

from taugepa.agents import AgentContext, Reply, ToolCall


class GoldReplayer:
    name = "gold-replayer"
    version = "1"

    def __init__(self, context: AgentContext):
        self.actions = list(context.task.actions)
        self.outputs = list(context.task.outputs)
        self.task_index = context.task.index

    def act(self, messages):
        if self.actions:
            action = self.actions.pop(0)
            return Reply(tool_calls=[ToolCall(action.name, dict(action.kwargs))])
        closing = "All done."
        if self.outputs:
            closing += " The answer: " + "; ".join(self.outputs) + "."
        return Reply(text=closing)


class Undeclared(GoldReplayer):
    """The same agent without a name and version: its episodes are never cached."""

    name = None
    version = None


class CrashesOnEvenTasks(GoldReplayer):
    name = "crashes-on-even-tasks"

    def act(self, messages):
        if self.task_index % 2 == 0:
            raise ZeroDivisionError("the planner divided by zero")
        return super().act(messages)


def not_a_factory(context):
    return 42
'''

CONFTEST = """from gold_replayer import GoldReplayer
from taugepa.benchmarks.conftest import pytest_configure  # starts the benchmark

__all__ = ["pytest_configure"]


def pytest_taugepa_make_agent(config):
    return GoldReplayer
"""

SUITE_TEST = """from taugepa.benchmarks.test_airline import test_task

__all__ = ["test_task"]
"""

ENTRY_POINT_NAME = "gold-replayer"
ROUTES = ("oracle", "package.module:factory", "entry point", "pytest hook")


def lay_out(folder: Path) -> Path:
    """Write the agent module, its installed entry point and the hook suite into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "gold_replayer.py").write_text(AGENT_MODULE)
    info = folder / "gold_replayer-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: gold-replayer\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[taugepa.agents]\n{ENTRY_POINT_NAME} = gold_replayer:GoldReplayer\n"
    )
    suite = folder / "hook_suite"
    suite.mkdir(exist_ok=True)
    (suite / "conftest.py").write_text(CONFTEST)
    (suite / "test_airline.py").write_text(SUITE_TEST)
    return folder


def route_commands(folder: Path, suite: Path, *args: str) -> dict[str, list[str]]:
    """The pytest command of each route (run with `folder` on PYTHONPATH); `args` go to each."""
    pytest = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]
    return {
        "oracle": [*pytest, str(suite), "--agent", "oracle", *args],
        "package.module:factory": [*pytest, str(suite), "--agent", "gold_replayer:GoldReplayer", *args],
        "entry point": [*pytest, str(suite), "--agent", ENTRY_POINT_NAME, *args],
        "pytest hook": [*pytest, str(folder / "hook_suite"), *args],
    }

"""Shared fixtures for taugepa's own tests.

The shared data (synthetic tasks, tau-bench v1 tasks and runs) is read in place from
`$TAUGEPA_SHARED_DATA`, else `../shared/data` next to the repository; it is never copied.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy  # noqa: F401  (see below)
import pytest

# The `pytester` fixture forgets, when its test ends, every module imported during the test.
# numpy refuses to be imported twice in one process, so a test that first imported it next
# to `pytester` (say through `taugepa report`) broke the next test that needs it, depending on
# which tests an xdist worker happened to run in which order. Imported here, it is never new.

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path:
    configured = os.environ.get("TAUGEPA_SHARED_DATA")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not (path / "synthetic").is_dir():
        pytest.fail(f"shared data not found at {path}: set TAUGEPA_SHARED_DATA to its folder")
    return path


@pytest.fixture(scope="session")
def synthetic_files(shared_data: Path) -> list[Path]:
    return [
        shared_data / "synthetic" / "validated_tasks_easy_with_instructions.json",
        shared_data / "synthetic" / "validated_tasks_medium_with_instructions.json",
    ]


@pytest.fixture(scope="session")
def v1_tasks_file(shared_data: Path) -> Path:
    return shared_data / "tau-bench-v1" / "airline_test_tasks.json"


@pytest.fixture(scope="session")
def v1_wiki(shared_data: Path) -> Path:
    return shared_data / "tau-bench-v1" / "wiki.md"


@pytest.fixture(autouse=True, scope="session")
def _child_pytest_runs_as_a_user_has_them() -> Iterator[None]:
    """The pytest runs the tests start (the benchmark, as users run it) without hypothesis's plugin.

    A user's install has no hypothesis (only the `test` extra brings it), and its plugin's
    terminal summary imports all of hypothesis: about a second at the end of every child run.
    """
    with pytest.MonkeyPatch.context() as patch:
        addopts = os.environ.get("PYTEST_ADDOPTS", "")
        patch.setenv("PYTEST_ADDOPTS", f"{addopts} -p no:hypothesispytest".strip())
        yield


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the gold cache of every test out of the user's home folder."""
    monkeypatch.setenv("TAUGEPA_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "taugepa-cache"))

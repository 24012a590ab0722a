"""The taugepa airline benchmark suite: options are listed under `pytest --help` (taugepa)."""

import pytest

from pytest_taugepa.plugin import start_benchmark


def pytest_configure(config: pytest.Config) -> None:
    start_benchmark(config)

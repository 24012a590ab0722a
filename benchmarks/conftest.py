"""The benchmark suite ships in the package (`taugepa.benchmarks`); this folder only points at it
so that `pytest benchmarks` runs it from a clone (see docs/running.md)."""

from taugepa.benchmarks.conftest import pytest_configure

__all__ = ["pytest_configure"]

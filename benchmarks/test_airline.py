"""The packaged suite's one test (`taugepa.benchmarks.test_airline`), collected from this folder."""

from taugepa.benchmarks.test_airline import test_task

__all__ = ["test_task"]

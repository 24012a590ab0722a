"""The taugepa airline benchmark suite, shipped in the package so it runs without the repository.

`pytest --pyargs taugepa.benchmarks --agent oracle` runs it from any folder (the plugin starts
the benchmark when it sees the suite named there); a project can also keep a folder whose
`conftest.py` and `test_*.py` import `pytest_configure` and `test_task` from here, as the
repository's `benchmarks/` does. The optimizer's pytest evaluator runs this same suite.
"""

from pathlib import Path

SUITE = "taugepa.benchmarks"
SUITE_DIR = Path(__file__).resolve().parent
"""The suite's folder: what `pytest <folder>` collects and `taugepa optimize --evaluate-with pytest` runs."""

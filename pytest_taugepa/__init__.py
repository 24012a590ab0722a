"""pytest plugin for the taugepa airline benchmark (registered through the `pytest11` entry point)."""

from taugepa._imports import install as _install_startup_finder

_install_startup_finder()  # back ahead of pytest's assertion rewriter (see taugepa._imports)

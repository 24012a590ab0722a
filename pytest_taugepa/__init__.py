"""pytest plugin for the taugepa airline benchmark (registered through the `pytest11` entry point)."""

from taugepa._bytecode import install as _install_bytecode_cache

_install_bytecode_cache()  # ahead of pytest's assertion rewriter: the plugin's modules are not tests

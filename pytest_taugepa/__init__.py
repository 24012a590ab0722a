"""pytest plugin for the taugepa airline benchmark (registered through the `pytest11` entry point)."""

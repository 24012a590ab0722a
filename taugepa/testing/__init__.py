"""Test helpers shipped with taugepa (used by its tests and benchmark scripts)."""

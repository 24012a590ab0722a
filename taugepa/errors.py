"""Errors a user can act on: their message is one line saying what is wrong and what to do."""

from __future__ import annotations


class TaugepaError(Exception):
    """A problem with the user's input or set-up; `str(error)` is the whole message."""


class TaskFileError(TaugepaError):
    """A task file or task set cannot be used as given."""


class ConfigError(TaugepaError):
    """An option or input file is wrong."""


class InfrastructureError(Exception):
    """The world around the agent failed (for example an LLM endpoint after all retries).

    Never the agent's fault: an episode that hits this has verdict `error`, not `failed`.
    """

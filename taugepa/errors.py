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


INTERRUPTED_EXIT_STATUS = 130  # the shell's status for a process ended by Ctrl-C (128 + SIGINT)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, carrying what had finished by then, so that a caller can keep it.

    A KeyboardInterrupt still (code that stops on Ctrl-C stops on this); `str(error)` is the
    line for the user, and `done` holds the finished work (for example episode results).
    """

    def __init__(self, message: str = "", *, done: list | None = None, planned: int | None = None):
        super().__init__(message)
        self.message = message
        self.done = list(done or [])
        self.planned = planned


from taugepa.files import OutputNotWritten  # noqa: E402,F401  (defined with the writers)

OUTPUT_NOT_WRITTEN_EXIT_STATUS = 73  # EX_CANTCREAT (sysexits.h): an output file could not be created
